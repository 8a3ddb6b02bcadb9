%% The scenario's `collector`: a process that only receives.
%%
%% Mode eager (default) takes every message at once and keeps it, in
%% arrival order; mode mailbox leaves scenario messages in its mailbox.
%% Either way it takes control requests from the driver,
%% {'$regspec_ctl', From, Tag, Req}, which never count as messages: the
%% collector performs the request itself (monitor, link, ...) and answers
%% {Tag, {ok, Value}} or {Tag, {raise, Class, Reason}}.
%%
%% Of the system messages it takes only terminate, as sys does: it replies
%% ok and exits with the reason (the stop step's proc_lib:stop/3).
%%
%% An eager collector also keeps what it took in regspec_env,
%% {{kept, Pid}, Reversed}, so its messages stay readable after it died.
-module(collector).
-export([spawn_plain/2, start/2, request/2, where/1, taken/1]).
-export([init_plain/2, init_gen/3]).

%% spawn step: a plain spawn (linked to the caller when Link); waits until
%% the collector has set trap_exit.
spawn_plain(Link, Opts) ->
    Pid = spawn_opt(?MODULE, init_plain, [self(), Opts], [link || Link]),
    receive {Pid, '$regspec_ready'} -> Pid end.

init_plain(Parent, Opts) ->
    Mode = setup(Opts),
    Parent ! {self(), '$regspec_ready'},
    loop(Mode, []).

%% start step or supervised child: gen-style start_link. A taken name is
%% {error, {already_started, Pid}} before any process is created; if the
%% registration itself loses, the new process answers like gen does and
%% exits normally.
start(Name, Opts) ->
    case where(Name) of
        Pid when is_pid(Pid) -> {error, {already_started, Pid}};
        undefined -> proc_lib:start_link(?MODULE, init_gen, [self(), Name, Opts])
    end.

init_gen(Parent, Name, Opts) ->
    Mode = setup(Opts),
    case register_self(Name) of
        true ->
            proc_lib:init_ack(Parent, {ok, self()}),
            loop(Mode, []);
        false ->
            proc_lib:init_ack(Parent, {error, {already_started, where(Name)}}),
            exit(normal)
    end.

setup(Opts) ->
    process_flag(trap_exit, maps:get(trap_exit, Opts, false)),
    Mode = maps:get(mode, Opts, eager),
    ets:insert(regspec_env, {{collector, self()}, Mode}),
    Mode.

where(undefined) -> undefined;
where({local, A}) -> whereis(A);
where({global, T}) -> global:whereis_name(T);
where({via, M, T}) -> M:whereis_name(T).

register_self(undefined) -> true;
register_self({local, A}) -> try register(A, self()) catch error:_ -> false end;
register_self({global, T}) -> global:register_name(T, self()) =:= yes;
register_self({via, M, T}) -> M:register_name(T, self()) =:= yes.

loop(eager, Kept) ->
    receive
        {'$regspec_ctl', From, Tag, Req} ->
            From ! {Tag, control(Req, Kept)},
            loop(eager, Kept);
        {system, From, {terminate, Reason}} ->
            terminate(From, Reason);
        Msg ->
            ets:insert(regspec_env, {{kept, self()}, [Msg | Kept]}),
            loop(eager, [Msg | Kept])
    end;
loop(mailbox, []) ->
    receive
        {'$regspec_ctl', From, Tag, Req} ->
            From ! {Tag, control(Req, mailbox)},
            loop(mailbox, []);
        {system, From, {terminate, Reason}} ->
            terminate(From, Reason)
    end.

%% sys's answer to a terminate request: reply first (else proc_lib:stop
%% exits {Reason, {sys, terminate, _}}), then exit.
terminate(From, Reason) ->
    gen:reply(From, ok),
    exit(Reason).

control(Req, Kept) ->
    try {ok, do(Req, Kept)} catch Class:Reason -> {raise, Class, Reason} end.

do(messages, mailbox) -> element(2, process_info(self(), messages));
do(messages, Kept) -> lists:reverse(Kept);
do({monitor, {local, A}}, _) -> erlang:monitor(process, A);
do({monitor, Name}, _) when is_tuple(Name) ->
    case where(Name) of
        undefined -> {error, noproc};
        Pid -> erlang:monitor(process, Pid)
    end;
do({monitor, Pid}, _) -> erlang:monitor(process, Pid);
do({demonitor, Ref, Flush}, _) -> erlang:demonitor(Ref, [flush || Flush]);
do({link, Other}, _) -> link(resolve(Other));
do({unlink, Other}, _) -> unlink(resolve(Other));
do({trap_exit, Value}, _) -> process_flag(trap_exit, Value);
do({register, {via, M, T}}, _) -> M:register_name(T, self());
do({unregister, {via, M, T}}, _) -> M:unregister_name(T).

resolve(Name) when is_tuple(Name) -> where(Name);
resolve(Pid) -> Pid.

%% Driver side: what a dead collector had taken, in order; only an eager
%% one kept its messages (a mailbox one's died with it: error:noproc).
taken(Pid) ->
    case ets:lookup(regspec_env, {collector, Pid}) of
        [{_, eager}] ->
            case ets:lookup(regspec_env, {kept, Pid}) of
                [{_, Kept}] -> lists:reverse(Kept);
                [] -> []
            end;
        _ -> error(noproc)
    end.

%% Driver side: ask collector Pid to perform Req; a dead (or unbound)
%% collector is error:noproc. Raises what the collector raised.
request(Pid, _Req) when not is_pid(Pid) -> error(noproc);
request(Pid, Req) ->
    Mref = erlang:monitor(process, Pid),
    Pid ! {'$regspec_ctl', self(), Mref, Req},
    receive
        {Mref, Reply} ->
            erlang:demonitor(Mref, [flush]),
            case Reply of
                {ok, Value} -> Value;
                {raise, Class, Reason} -> erlang:raise(Class, Reason, [])
            end;
        {'DOWN', Mref, _, _, _} ->
            error(noproc)
    end.
