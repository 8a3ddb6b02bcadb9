# Chat.Registry (chat_registry.ex) with one bug planted: register_name does not
# monitor the pid it registers, so a room that dies keeps its name for ever
# (lookups answer the dead pid, and the name cannot be taken again). The
# conformance kit fails it on exactly BACKEND-5, with a four-step scenario:
#
#     regspec conformance --beam examples/chat_registry/chat_registry_nomonitor.ex --class down
defmodule Chat.Registry do
  use GenServer

  def start_link do
    GenServer.start_link(__MODULE__, nil, name: :registry)
  end

  def whereis_name(room_name), do: GenServer.call(:registry, {:whereis_name, room_name})
  def register_name(room_name, pid), do: GenServer.call(:registry, {:register_name, room_name, pid})
  def unregister_name(room_name), do: GenServer.cast(:registry, {:unregister_name, room_name})

  def send(room_name, message) do
    case whereis_name(room_name) do
      :undefined ->
        exit({:badarg, {room_name, message}})

      pid ->
        Kernel.send(pid, message)
        pid
    end
  end

  @impl true
  def init(_), do: {:ok, Map.new()}

  @impl true
  def handle_call({:whereis_name, room_name}, _from, state) do
    {:reply, Map.get(state, room_name, :undefined), state}
  end

  def handle_call({:register_name, room_name, pid}, _from, state) do
    case Map.get(state, room_name) do
      # The bug: no Process.monitor(pid) here.
      nil -> {:reply, :yes, Map.put(state, room_name, pid)}
      _ -> {:reply, :no, state}
    end
  end

  @impl true
  def handle_cast({:unregister_name, room_name}, state) do
    {:noreply, Map.delete(state, room_name)}
  end
end
