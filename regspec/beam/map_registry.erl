%% Via backend `map_registry`: the article's Chat.Registry, a map from name
%% to pid held by a gen_server that monitors every pid it registers and
%% drops all of that pid's names when the DOWN arrives.
%%
%% The same gen_server module also serves `map_registry_nomonitor`
%% (started with Monitor = false: it never monitors, so dead pids stay).
%% The via callbacks call "the current server" of their backend
%% (regspec_kinds:current_server/1): the pid of the pre-started instance,
%% or the local name (else global name, else pid) of the last
%% `registry_server` started for the backend.
%%
%% The beam leg of a backend with a server (regspec.common.backends): the
%% via protocol, prestart/0 (the instance before step 0), start_server/1
%% (a `registry_server` step) and keys/2 (`registry_keys`).
-module(map_registry).
-behaviour(gen_server).
-export([register_name/2, unregister_name/1, whereis_name/1, send/2]).
-export([prestart/0, start_server/1, keys/2]).
-export([call/2, cast/2, do_send/3, prestart/1, start_server/2]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).

register_name(Name, Pid) -> call(?MODULE, {register_name, Name, Pid}).
unregister_name(Name) -> cast(?MODULE, {unregister_name, Name}).
whereis_name(Name) -> call(?MODULE, {whereis_name, Name}).
send(Name, Msg) -> do_send(?MODULE, Name, Msg).

prestart() -> prestart(?MODULE).
start_server(Name) -> start_server(Name, ?MODULE).
keys(Server, Pid) -> gen_server:call(Server, {keys, Pid}).

call(Backend, Req) -> gen_server:call(regspec_kinds:current_server(Backend), Req).
cast(Backend, Req) -> gen_server:cast(regspec_kinds:current_server(Backend), Req).

%% Like global:send/2: the pid, or exit {badarg, {Name, Msg}} for a free name.
do_send(Backend, Name, Msg) ->
    case call(Backend, {whereis_name, Name}) of
        Pid when is_pid(Pid) -> Pid ! Msg, Pid;
        _ -> exit({badarg, {Name, Msg}})
    end.

%% The instance from before step 0, not linked to its starter; its names go to its pid.
prestart(Backend) ->
    {ok, Pid} = gen_server:start(?MODULE, Backend, []),
    {ok, Pid, Pid}.

%% A new instance, linked to the calling process; its names go to its local
%% name, else its global or via name, else its pid.
start_server(Name, Backend) ->
    Res = case Name of
              undefined -> gen_server:start_link(?MODULE, Backend, []);
              _ -> gen_server:start_link(Name, ?MODULE, Backend, [])
          end,
    case Res of
        {ok, Pid} ->
            {ok, Pid, case Name of
                          {local, A} -> A;
                          undefined -> Pid;
                          _ -> Name
                      end};
        _ -> Res
    end.

%% Arg: the backend atom; only map_registry monitors.
init(Backend) -> {ok, {Backend =:= map_registry, #{}}}.

handle_call({whereis_name, Name}, _From, {_, Names} = S) ->
    {reply, maps:get(Name, Names, undefined), S};
handle_call({register_name, Name, Pid}, _From, {Monitor, Names} = S) ->
    case maps:is_key(Name, Names) of
        true -> {reply, no, S};
        false ->
            Monitor andalso erlang:monitor(process, Pid),
            {reply, yes, {Monitor, Names#{Name => Pid}}}
    end;
handle_call({keys, Pid}, _From, {_, Names} = S) ->
    {reply, lists:sort([K || {K, P} <- maps:to_list(Names), P =:= Pid]), S};
handle_call(Req, _From, S) ->
    {stop, {bad_call, Req}, S}.

handle_cast({unregister_name, Name}, {Monitor, Names}) ->
    {noreply, {Monitor, maps:remove(Name, Names)}};
handle_cast(Req, S) ->
    {stop, {bad_cast, Req}, S}.

handle_info({'DOWN', _, process, Pid, _}, {Monitor, Names}) ->
    {noreply, {Monitor, maps:filter(fun(_, P) -> P =/= Pid end, Names)}};
handle_info(_, S) ->
    {noreply, S}.
