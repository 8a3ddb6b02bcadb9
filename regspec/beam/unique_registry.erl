%% Via backend `unique_registry`: Elixir's Registry with unique keys. The
%% name {via, unique_registry, Key} stands for {via, 'Elixir.Registry',
%% {Current, Key}} where Current is the atom name of the backend's current
%% Registry (regspec_env {server, unique_registry}). register_name only
%% accepts the calling process; unregister_name drops the caller's key.
-module(unique_registry).
-export([register_name/2, unregister_name/1, whereis_name/1, send/2, keys/2]).

register_name(Key, Pid) -> 'Elixir.Registry':register_name({current(), Key}, Pid).
unregister_name(Key) -> 'Elixir.Registry':unregister_name({current(), Key}).
whereis_name(Key) -> 'Elixir.Registry':whereis_name({current(), Key}).
send(Key, Msg) -> 'Elixir.Registry':send({current(), Key}, Msg).
keys(Registry, Pid) -> lists:sort('Elixir.Registry':keys(Registry, Pid)).

current() -> ets:lookup_element(regspec_env, {server, ?MODULE}, 2).
