# The Chat.Registry of the classic article on via names ("Process registry in
# Elixir: a practical example"): a GenServer holding a map from room names to
# pids, monitoring every pid it registers and dropping its names when the
# :DOWN arrives. Rooms are started as
#
#     GenServer.start_link(Chat.Room, [], name: {:via, Chat.Registry, "room"})
#
# Checked on the BEAM by the conformance kit (docs/backends.md, "Checking a
# backend"); it conforms in class down:
#
#     regspec conformance --beam examples/chat_registry/chat_registry.ex --class down
#
# One change from the article: its send/2 *returns* {:badarg, {name, msg}}
# for a free name, where OTP's via protocol wants it to *exit* with that
# reason (as :global.send/2 does); the article's version fails BACKEND-4
# (see chat_registry_article_send.ex).
defmodule Chat.Registry do
  use GenServer

  # The registry server, started once before the rooms (the kit starts it before step 0).
  def start_link do
    GenServer.start_link(__MODULE__, nil, name: :registry)
  end

  # The via protocol.
  def whereis_name(room_name) do
    GenServer.call(:registry, {:whereis_name, room_name})
  end

  def register_name(room_name, pid) do
    GenServer.call(:registry, {:register_name, room_name, pid})
  end

  def unregister_name(room_name) do
    GenServer.cast(:registry, {:unregister_name, room_name})
  end

  def send(room_name, message) do
    case whereis_name(room_name) do
      :undefined ->
        exit({:badarg, {room_name, message}})

      pid ->
        Kernel.send(pid, message)
        pid
    end
  end

  # The server.
  @impl true
  def init(_) do
    {:ok, Map.new()}
  end

  @impl true
  def handle_call({:whereis_name, room_name}, _from, state) do
    {:reply, Map.get(state, room_name, :undefined), state}
  end

  def handle_call({:register_name, room_name, pid}, _from, state) do
    case Map.get(state, room_name) do
      nil ->
        Process.monitor(pid)
        {:reply, :yes, Map.put(state, room_name, pid)}

      _ ->
        {:reply, :no, state}
    end
  end

  @impl true
  def handle_cast({:unregister_name, room_name}, state) do
    {:noreply, Map.delete(state, room_name)}
  end

  @impl true
  def handle_info({:DOWN, _, :process, pid, _}, state) do
    {:noreply, remove_pid(state, pid)}
  end

  defp remove_pid(state, pid_to_remove) do
    state
    |> Enum.filter(fn {_name, pid} -> pid != pid_to_remove end)
    |> Enum.into(%{})
  end
end
