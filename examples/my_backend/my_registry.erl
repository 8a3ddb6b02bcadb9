%% The beam leg of `my_registry` (examples/my_backend): a gen_server holding
%% a map from names to pids where the last to register wins. The via
%% functions call the backend's current server, which the driver keeps:
%% regspec_kinds:current_server(?MODULE).
-module(my_registry).
-behaviour(gen_server).
%% The via protocol.
-export([register_name/2, unregister_name/1, whereis_name/1, send/2]).
%% The registry server: before step 0, a registry_server step, registry_keys.
-export([prestart/0, start_server/1, keys/2]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).

register_name(Name, Pid) -> call({register, Name, Pid}).
unregister_name(Name) -> call({unregister, Name}).
whereis_name(Name) ->
    case call({whereis, Name}) of
        Pid when is_pid(Pid) ->
            case is_process_alive(Pid) of
                true -> Pid;
                false -> undefined
            end;
        _ -> undefined
    end.
send(Name, Msg) ->
    case whereis_name(Name) of
        Pid when is_pid(Pid) -> Pid ! Msg, Pid;
        undefined -> exit({badarg, {Name, Msg}})
    end.

call(Req) -> gen_server:call(regspec_kinds:current_server(?MODULE), Req).

%% The server from before step 0, not linked to its starter: {ok, Pid, Ref},
%% Ref being how the backend's names reach it.
prestart() ->
    {ok, Pid} = gen_server:start(?MODULE, [], []),
    {ok, Pid, Pid}.

%% A new server, linked to the caller, reached by its local name (else its
%% global or via name, else its pid).
start_server(Name) ->
    Res = case Name of
              undefined -> gen_server:start_link(?MODULE, [], []);
              _ -> gen_server:start_link(Name, ?MODULE, [], [])
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

keys(Server, Pid) -> gen_server:call(Server, {keys, Pid}).

init([]) -> {ok, #{}}.

handle_call({register, Name, Pid}, _From, Names) -> {reply, yes, Names#{Name => Pid}};
handle_call({unregister, Name}, _From, Names) -> {reply, ok, maps:remove(Name, Names)};
handle_call({whereis, Name}, _From, Names) -> {reply, maps:get(Name, Names, undefined), Names};
handle_call({keys, Pid}, _From, Names) ->
    {reply, lists:sort([K || {K, P} <- maps:to_list(Names), P =:= Pid]), Names};
handle_call(Req, _From, Names) -> {stop, {bad_call, Req}, Names}.

handle_cast(Msg, Names) -> {stop, {bad_cast, Msg}, Names}.

handle_info(_, Names) -> {noreply, Names}.
