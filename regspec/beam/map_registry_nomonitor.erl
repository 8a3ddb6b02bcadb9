%% Via backend `map_registry_nomonitor`: map_registry without monitors. A
%% registered pid that dies keeps its names for ever (on purpose).
-module(map_registry_nomonitor).
-export([register_name/2, unregister_name/1, whereis_name/1, send/2]).
-export([prestart/0, start_server/1, keys/2]).

register_name(Name, Pid) -> map_registry:call(?MODULE, {register_name, Name, Pid}).
unregister_name(Name) -> map_registry:cast(?MODULE, {unregister_name, Name}).
whereis_name(Name) -> map_registry:call(?MODULE, {whereis_name, Name}).
send(Name, Msg) -> map_registry:do_send(?MODULE, Name, Msg).

prestart() -> map_registry:prestart(?MODULE).
start_server(Name) -> map_registry:start_server(Name, ?MODULE).
keys(Server, Pid) -> map_registry:keys(Server, Pid).
