%% Via backend `unique_registry`: Elixir's Registry with unique keys. The
%% name {via, unique_registry, Key} stands for {via, 'Elixir.Registry',
%% {Current, Key}} where Current is the atom name of the backend's current
%% Registry (regspec_kinds:current_server/1). register_name only accepts
%% the calling process; unregister_name drops the caller's key.
-module(unique_registry).
-export([register_name/2, unregister_name/1, whereis_name/1, send/2]).
-export([prestart/0, start_server/1, keys/2]).

register_name(Key, Pid) -> 'Elixir.Registry':register_name({current(), Key}, Pid).
unregister_name(Key) -> 'Elixir.Registry':unregister_name({current(), Key}).
whereis_name(Key) -> 'Elixir.Registry':whereis_name({current(), Key}).
send(Key, Msg) -> 'Elixir.Registry':send({current(), Key}, Msg).

%% The Registry from before step 0 (its supervisor, not linked to its starter).
prestart() ->
    Reg = 'regspec.unique_registry',
    {ok, Pid} = 'Elixir.Registry':start_link([{keys, unique}, {name, Reg}]),
    true = unlink(Pid),
    {ok, Pid, Reg}.

%% Registry.start_link(keys: :unique, name: Reg): Reg is the local name's
%% atom, or unique_registry_N when there is none; any other name makes
%% Registry raise (it wants an atom).
start_server(Name) ->
    Reg = case Name of
              {local, A} -> A;
              undefined -> unnamed_registry();
              Other -> Other
          end,
    case 'Elixir.Registry':start_link([{keys, unique}, {name, Reg}]) of
        {ok, Pid} -> {ok, Pid, Reg};
        Res -> Res
    end.

keys(Registry, Pid) -> lists:sort('Elixir.Registry':keys(Registry, Pid)).

current() -> regspec_kinds:current_server(?MODULE).

unnamed_registry() ->
    N = ets:update_counter(regspec_env, unnamed_registries, 1, {unnamed_registries, 0}),
    list_to_atom("unique_registry_" ++ integer_to_list(N)).
