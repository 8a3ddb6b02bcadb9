%% The beam target of regspec: runs one scenario on real Erlang/OTP and
%% prints its canonical results as JSON on stdout.
%%
%%   erl -noshell +S 1:1 -pa EBIN -pa ELIXIR_EBIN -run driver main FILE
%%
%% FILE holds two Erlang terms (file:consult/1): the scenario document and
%% the table of the run's via backends (regspec.common.backends: a list of
%% #{name, module, server, self_register, server_type}), both written as
%% JSON is: objects as maps with binary keys, strings as binaries, arrays
%% as lists, true/false/null as atoms. DRIVER.md says how each op runs.
%%
%% Processes: `main` (the -run process) owns the table regspec_env and
%% starts, before any tracing, the infrastructure: the registry server of
%% each via backend that has one, the tracer and the watchdog. Then it spawns the driver, P0, which traces
%% itself with [procs, set_on_spawn], so every process it creates, and
%% everything those create, reports its spawn to the tracer. P1, P2, ...
%% are handed out at sync points in pid order, which on one node is
%% creation order.
-module(driver).
-export([main/1, sync/0, setup/1]).

-define(ENV, regspec_env).
%% A step whose system does not settle within this time fails the run.
-define(QUIESCE_LIMIT_MS, 30000).
%% The watchdog fails the run when one step takes longer than this
%% (plus the step's own call timeout).
-define(STEP_BUDGET_MS, 40000).

%% The supervisor functions that wait for children to stop, with a timer
%% when the child's shutdown is a number.
-define(SHUTDOWN_WAITS, [{supervisor, shutdown, 1},
                         {supervisor, wait_dynamic_children, 5},
                         {'Elixir.DynamicSupervisor', wait_children, 4}]).

main([File]) ->
    ok = logger:set_primary_config(level, none),
    Status =
        try run_file(File) of
            Json ->
                ok = file:write(standard_io, Json),
                0
        catch
            throw:{regspec_fatal, Msg} ->
                io:format(standard_error, "regspec beam: ~ts~n", [Msg]),
                2;
            Class:Reason:Stack ->
                io:format(standard_error, "regspec beam: ~p:~0tp~n~0tp~n",
                          [Class, Reason, Stack]),
                2
        end,
    erlang:halt(Status).

run_file(File) ->
    {Doc, Backends} = case file:consult(File) of
                          {ok, [D, B]} -> {D, B};
                          Error -> fatal("cannot read ~ts: ~0tp", [File, Error])
                      end,
    setup(Backends),
    DeadlockWatch = spawn(fun() -> deadlock_watch() end),
    ets:insert(?ENV, {deadlock_watch, DeadlockWatch}),
    Tracer = spawn(fun() -> tracer([]) end),
    Watchdog = spawn(fun() -> watchdog(undefined) end),
    Baseline = registered(),
    %% Maintenance aid: REGSPEC_BEAM_DEBUG=1 reports the modules the preload
    %% list missed.
    Debug = os:getenv("REGSPEC_BEAM_DEBUG") =/= false,
    Preloaded = [M || Debug, {M, _} <- code:all_loaded()],
    Main = self(),
    Driver = spawn(fun() -> driver(Doc, Tracer, Watchdog, Baseline, Main) end),
    Mref = erlang:monitor(process, Driver),
    receive
        {Driver, done, Json} ->
            Debug andalso
                io:format(standard_error, "regspec beam: loaded during the run: ~0tp~n",
                          [[M || {M, _} <- code:all_loaded()] -- Preloaded]),
            Json;
        {'DOWN', Mref, process, Driver, {regspec_fatal, Msg}} -> throw({regspec_fatal, Msg});
        {'DOWN', Mref, process, Driver, Reason} -> fatal("the driver died: ~0tp", [Reason])
    end.

%% Everything before the tracer of a run, which regspec_contend shares:
%% Elixir started, modules loaded, the warm-up, the table regspec_env with
%% the run's via backends, and their servers. Returns the backends' modules.
setup(Backends) ->
    {ok, _} = application:ensure_all_started(elixir),
    Mods = [binary_to_atom(M, utf8) || #{<<"module">> := M} <- Backends],
    preload(Mods),
    warm_up(),
    ?ENV = ets:new(?ENV, [named_table, public, set]),
    note_backends(Backends),
    start_infrastructure(Mods),
    Mods.

%% The run's via backends, by name and by module.
note_backends(Backends) ->
    lists:foreach(
      fun(#{<<"name">> := Name, <<"module">> := M, <<"server">> := Server,
            <<"self_register">> := Self, <<"server_type">> := Type}) ->
              Mod = binary_to_atom(M, utf8),
              B = #{name => Name, module => Mod, server => Server, self_register => Self,
                    server_type => binary_to_atom(Type, utf8)},
              ets:insert(?ENV, [{{backend, Name}, B}, {{module, Mod}, B}])
      end, Backends).

%% Load every module a scenario may run, so that no code loading (file I/O,
%% whose timing varies) happens while scenario processes run.
preload(BackendMods) ->
    Mods = BackendMods ++
           [collector, chat_room, map_registry, regspec_sup, regspec_kinds, regspec_val, regspec_out,
            gen, gen_server, proc_lib, supervisor, sys, global, lists, maps, ets,
            io_lib, io_lib_format,
            'Elixir.Registry', 'Elixir.Registry.Supervisor', 'Elixir.Registry.Partition',
            'Elixir.DynamicSupervisor', 'Elixir.Supervisor', 'Elixir.GenServer',
            'Elixir.Supervisor.Default', 'Elixir.Keyword', 'Elixir.Enum', 'Elixir.Map',
            'Elixir.List', 'Elixir.Process', 'Elixir.Access', 'Elixir.Kernel',
            'Elixir.ArgumentError', 'Elixir.FunctionClauseError', 'Elixir.KeyError',
            'Elixir.RuntimeError', 'Elixir.Exception', 'Elixir.String.Chars',
            'Elixir.String.Chars.Atom', 'Elixir.String.Chars.BitString',
            'Elixir.Inspect', 'Elixir.Inspect.Atom', 'Elixir.Inspect.Opts',
            'Elixir.Inspect.Algebra', 'Elixir.Inspect.BitString', 'Elixir.Inspect.Tuple',
            'Elixir.Inspect.List', 'Elixir.Inspect.Integer', 'Elixir.Inspect.PID',
            'Elixir.Inspect.Map', 'Elixir.Macro', 'Elixir.Code.Identifier', 'Elixir.String',
            'Elixir.Enumerable', 'Elixir.Enumerable.List', 'Elixir.Enumerable.Map',
            'Elixir.Collectable', 'Elixir.Collectable.Map', 'Elixir.Collectable.List'],
    _ = code:ensure_modules_loaded(Mods),
    ok.

%% The first gen_server that dies in its own code does one-time work in the
%% error-reporting path that lets other processes run in the middle of its
%% death (seen: a linked collector answered a request it should never have
%% seen). Take every death path once before step 0, so a scenario's first
%% crash behaves like every later one.
warm_up() ->
    Paths = [fun(P) -> gen_server:cast(P, warm_up_bad_cast) end,
             fun(P) -> catch gen_server:call(P, warm_up_bad_call) end,
             fun(P) -> proc_lib:stop(P, normal, infinity) end,
             fun(P) -> proc_lib:stop(P, warm_up, infinity) end,
             fun(P) -> exit(P, kill) end],
    lists:foreach(
      fun(Kill) ->
              {ok, P} = gen_server:start(chat_room, 0, []),
              Mref = erlang:monitor(process, P),
              Kill(P),
              receive {'DOWN', Mref, process, P, _} -> ok end
      end, Paths).

%% The registry server of each via backend that has one, before tracing:
%% they get no number and print as their backend's name. Each backend's
%% beam leg starts its own (prestart/0, not linked to its starter). A
%% backend without the server trait whose module exports start_link/0 (a
%% GenServer-style registry: the article's Chat.Registry) has it called,
%% and the process it starts unlinked; any answer but {ok, Pid} fails the
%% run before step 0, naming the backend.
start_infrastructure(Mods) ->
    lists:foreach(
      fun(Mod) ->
              case ets:lookup(?ENV, {module, Mod}) of
                  [{_, #{server := true, name := Name}}] ->
                      {ok, Pid, Ref} = Mod:prestart(),
                      regspec_kinds:note_server(Name, Pid, Ref),
                      ets:insert(?ENV, [{{label, Name}, Pid}, {{label_of, Pid}, Name}]);
                  [{_, #{server := false, name := Name}}] ->
                      erlang:function_exported(Mod, start_link, 0) andalso start_linked(Mod, Name);
                  _ -> ok
              end
      end, Mods).

start_linked(Mod, Name) ->
    Trap = process_flag(trap_exit, true),
    Res = try Mod:start_link() catch C:R -> {C, R} end,
    case Res of
        {ok, Pid} when is_pid(Pid) ->
            unlink(Pid),
            receive {'EXIT', Pid, _} -> ok after 0 -> ok end,
            process_flag(trap_exit, Trap),
            ets:insert(?ENV, [{{label, Name}, Pid}, {{label_of, Pid}, Name}]);
        Other ->
            fatal("via backend \"~ts\": ~ts:start_link() answered ~0tp (expected {ok, Pid})",
                  [Name, Mod, Other])
    end.

tracer(Spawned) ->
    receive
        {trace, _Parent, spawn, Child, _MFA} -> tracer([Child | Spawned]);
        {take, From, Tag} -> From ! {Tag, Spawned}, tracer([]);
        {peek, From, Tag} -> From ! {Tag, Spawned}, tracer(Spawned);
        %% Only while the driver waits in a call with timeout infinity: its requests' monitor refs.
        %% (a plain ref for an infinity call in OTP 25, [alias | Ref] otherwise).
        {trace, _, send, {'$gen_call', {_, Tag}, _}, _} ->
            [{deadlock_watch, W}] = ets:lookup(?ENV, deadlock_watch),
            W ! {call_mref, case Tag of [alias | Mref] -> Mref; Mref -> Mref end},
            tracer(Spawned);
        _ -> tracer(Spawned)
    end.

watchdog(Step) ->
    receive
        {step, _, _, _} = New -> watchdog(New)
    after budget(Step) ->
        {step, I, Op, _} = Step,
        [{driver, Driver}] = ets:lookup(?ENV, driver),
        io:format(standard_error,
                  "regspec beam: step ~p (~ts) did not finish within ~p ms; "
                  "the driver is at ~0tp~n",
                  [I, Op, budget(Step), process_info(Driver, current_stacktrace)]),
        erlang:halt(3)
    end.

budget(undefined) -> infinity;
budget({step, _, _, Ms}) -> Ms.

%% The driver, P0 -------------------------------------------------------

driver(Doc, Tracer, Watchdog, Baseline, Main) ->
    process_flag(trap_exit, true),
    1 = erlang:trace(self(), true, [procs, set_on_spawn, {tracer, Tracer}]),
    Node = case maps:get(<<"nodes">>, Doc, null) of
               [First | _] -> First;
               _ -> <<"a">>
           end,
    ets:insert(?ENV, [{driver, self()}, {tracer, Tracer}, {baseline, Baseline},
                      {{pnum, 0}, self()}, {{num, self()}, 0},
                      {next_pnum, 1}, {next_rnum, 1}]),
    put(live, []),
    Steps = maps:get(<<"steps">>, Doc),
    check_backends(Steps, 0),
    Results = steps(Steps, 0, Watchdog, []),
    sync(),
    Label = fun label/1,
    Json = regspec_out:encode(
             [{obj, [{<<"step">>, I}, {<<"result">>, result_json(R, {Label, Node})}]}
              || {I, R} <- Results]),
    Main ! {self(), done, Json}.

steps([], _, _, Acc) -> lists:reverse(Acc);
steps([Step | Rest], I, Watchdog, Acc) ->
    flush(),
    Op = maps:get(<<"op">>, Step),
    Watchdog ! {step, I, Op, ?STEP_BUDGET_MS + call_timeout(Step)},
    Result =
        try exec(Op, Step)
        catch
            throw:{regspec_fatal, Msg} -> exit({regspec_fatal, step_msg(I, Op, Msg)});
            Class:Reason:Stack ->
                exit({regspec_fatal,
                      step_msg(I, Op, io_lib:format("~p:~0tp ~0tp", [Class, Reason, Stack]))})
        end,
    number_refs(Result),
    case maps:get(<<"nowait">>, Step, false) of
        true -> ok;
        false -> quiesce(I, Op)
    end,
    steps(Rest, I + 1, Watchdog, [{I, Result} | Acc]).

step_msg(I, Op, Msg) -> lists:flatten(io_lib:format("step ~p (~ts): ~ts", [I, Op, Msg])).

%% Before step 0: a step naming a via backend this run has no beam leg for
%% fails the run, naming the step and the backend.
check_backends([], _) -> ok;
check_backends([Step | Rest], I) ->
    case [B || B <- backends_in(Step), not ets:member(?ENV, {backend, B})] of
        [] -> check_backends(Rest, I + 1);
        [B | _] ->
            exit({regspec_fatal,
                  step_msg(I, maps:get(<<"op">>, Step),
                           io_lib:format("via backend \"~ts\" has no beam leg in this run", [B]))})
    end.

%% The backends a step names: its via names (child specs included), a
%% registry_server's backend (the default one too), registry_keys' backend.
backends_in(#{<<"op">> := <<"registry_keys">>, <<"registry">> := B} = Step) when is_binary(B) ->
    [B | named_backends(Step)];
backends_in(Step) -> named_backends(Step).

named_backends(M) when is_map(M) ->
    Via = case M of
              #{<<"via">> := [B, _]} when map_size(M) =:= 1, is_binary(B) -> [B];
              _ -> []
          end,
    Server = case maps:get(<<"kind">>, M, null) of
                 <<"registry_server">> -> [maps:get(<<"backend">>, M, <<"map_registry">>)];
                 _ -> []
             end,
    Via ++ Server ++ lists:append([named_backends(V) || V <- maps:values(M)]);
named_backends(L) when is_list(L) -> lists:append([named_backends(X) || X <- L]);
named_backends(_) -> [].

call_timeout(#{<<"op">> := <<"call">>} = Step) ->
    case maps:get(<<"timeout">>, Step, 5000) of
        T when is_integer(T) -> T;
        _ -> 0
    end;
call_timeout(_) -> 0.

%% Exit signals reaching the driver become messages (it traps exits); they
%% and anything else sent to P0 are dropped before each step.
flush() ->
    receive _ -> flush() after 0 -> ok end.

%% Steps ---------------------------------------------------------------
%% A step returns {term, T} (printed as T) or {obj, [{Key, T}]} (printed as
%% a JSON object). api/1 turns what an OTP call raises into the result
%% {"error": Reason} (error:Reason) or {"exit": Reason} (exit:Reason, the
%% gen_server call wrapper removed); throw is kept for driver failures.

exec(<<"spawn">>, S) ->
    Pid = collector:spawn_plain(maps:get(<<"link">>, S, false), regspec_kinds:collector_opts(S)),
    bind(S, Pid),
    {term, Pid};

exec(<<"start">>, S) ->
    R = api(fun() -> ok_error(regspec_kinds:start(S)) end),
    Pid = ok_pid(R),
    bind(S, Pid),
    Pid =:= undefined andalso unbind_tree(S),
    is_pid(Pid) andalso not maps:get(<<"link">>, S, true) andalso unlink(Pid),
    R;

exec(<<"stop">>, S) ->
    Target = target(S, <<"target">>),
    Reason = val(maps:get(<<"reason">>, S, <<"normal">>)),
    api(fun() ->
                %% gen_server:stop/3 without the name lookup done twice: in
                %% OTP 25 it resolves the name and calls proc_lib:stop/3, which
                %% monitors and calls sys:terminate/3 (no helper process). A
                %% collector answers that terminate request like sys does.
                case resolve(Target) of
                    Pid when is_pid(Pid) -> {term, proc_lib:stop(Pid, Reason, infinity)};
                    _ -> exit(noproc)
                end
        end);

exec(<<"register">>, S) ->
    Name = name(S, <<"name">>),
    Target = val(maps:get(<<"target">>, S)),
    api(fun() ->
                {term, case Name of
                           {local, A} -> register(A, Target);
                           {global, T} -> global:register_name(T, Target);
                           {via, M, T} ->
                               case self_register(M) of
                                   true -> by_holder(Target, {register, Name});
                                   false -> M:register_name(T, Target)
                               end
                       end}
        end);

exec(<<"unregister">>, S) ->
    Name = name(S, <<"name">>),
    Target = val(maps:get(<<"target">>, S, null)),
    api(fun() ->
                {term, case Name of
                           {local, A} -> unregister(A);
                           {global, T} -> global:unregister_name(T);
                           {via, M, T} ->
                               case self_register(M) of
                                   true -> by_holder(Target, {unregister, Name});
                                   false -> M:unregister_name(T)
                               end
                       end}
        end);

exec(<<"whereis">>, S) ->
    Name = name(S, <<"name">>),
    api(fun() -> {term, resolve(Name)} end);

exec(<<"registered">>, _S) ->
    [{baseline, Baseline}] = ets:lookup(?ENV, baseline),
    {term, lists:sort(registered() -- Baseline)};

exec(<<"send">>, S) ->
    To = target(S, <<"to">>),
    Msg = val(maps:get(<<"msg">>, S)),
    api(fun() ->
                try send_to(To, Msg) of
                    _ -> {term, ok}
                catch
                    error:badarg -> {obj, [{<<"error">>, badarg}]};
                    exit:{badarg, {_, _}} -> {obj, [{<<"error">>, badarg}]}
                end
        end);

exec(<<"call">>, S) ->
    To = server(target(S, <<"to">>)),
    Msg = val(maps:get(<<"msg">>, S)),
    Timeout = val(maps:get(<<"timeout">>, S, 5000)),
    case Timeout of
        infinity -> call_watched(To, Msg);
        _ -> api(fun() -> {term, gen_server:call(To, Msg, Timeout)} end)
    end;

exec(<<"cast">>, S) ->
    To = server(target(S, <<"to">>)),
    Msg = val(maps:get(<<"msg">>, S)),
    api(fun() -> {term, gen_server:cast(To, Msg)} end);

exec(<<"kill">>, S) ->
    Target = target(S, <<"target">>),
    Reason = val(maps:get(<<"reason">>, S, <<"kill">>)),
    api(fun() -> {term, exit(resolve(Target), Reason)} end);

exec(<<"monitor">>, S) ->
    Watcher = val(maps:get(<<"watcher">>, S)),
    Target = target(S, <<"target">>),
    R = api(fun() ->
                    case ask(Watcher, {monitor, Target}) of
                        {error, noproc} -> {obj, [{<<"error">>, noproc}]};
                        Ref -> {term, Ref}
                    end
            end),
    bind(S, case R of {term, Ref} -> Ref; _ -> undefined end),
    R;

exec(<<"demonitor">>, S) ->
    Watcher = val(maps:get(<<"watcher">>, S)),
    Ref = val(maps:get(<<"ref">>, S)),
    Flush = maps:get(<<"flush">>, S, false),
    api(fun() -> {term, ask(Watcher, {demonitor, Ref, Flush})} end);

exec(Op, S) when Op =:= <<"link">>; Op =:= <<"unlink">> ->
    A = target(S, <<"a">>),
    B = target(S, <<"b">>),
    %% The caller is a collector (a first); else an unbound one (no process
    %% makes the call: {"error": "noproc"}); else a, which is no collector
    %% (not_a_collector, SCN-11). The caller resolves the other.
    PA = quiet_resolve(A),
    PB = quiet_resolve(B),
    {Caller, Other} = case {collector(PA), collector(PB)} of
                          {true, _} -> {PA, B};
                          {_, true} -> {PB, A};
                          _ when not is_pid(PA) -> {PA, B};
                          _ when not is_pid(PB) -> {PB, A};
                          _ -> {PA, B}
                      end,
    api(fun() -> {term, ask(Caller, {binary_to_atom(Op, utf8), Other})} end);

exec(<<"trap_exit">>, S) ->
    Target = target(S, <<"target">>),
    Value = val(maps:get(<<"value">>, S)),
    api(fun() -> {term, ask(resolve(Target), {trap_exit, Value})} end);

exec(<<"messages">>, S) ->
    Target = target(S, <<"target">>),
    api(fun() ->
                Pid = resolve(Target),
                %% A dead eager collector left what it had taken in the table.
                try {term, ask(Pid, messages)}
                catch error:noproc when is_pid(Pid) -> {term, collector:taken(Pid)}
                end
        end);

exec(<<"alive">>, S) ->
    Target = target(S, <<"target">>),
    api(fun() ->
                case resolve(Target) of
                    Pid when is_pid(Pid) -> {term, is_process_alive(Pid)};
                    _ -> {term, false}
                end
        end);

exec(<<"start_child">>, S) ->
    Sup = target(S, <<"sup">>),
    Spec = maps:get(<<"spec">>, S),
    Args = case Spec of
               L when is_list(L) -> [val(X) || X <- L];
               _ -> undefined
           end,
    R = api(fun() ->
                    Pid = supervisor(Sup),
                    ok_error(case {sup_kind(Pid), Args} of
                                 {{dynamic, _}, undefined} ->
                                     'Elixir.DynamicSupervisor':start_child(
                                       Pid, regspec_kinds:child_spec(Spec));
                                 {{dynamic, null}, _} ->
                                     %% No template: Elixir answers for the list.
                                     'Elixir.DynamicSupervisor':start_child(Pid, Args);
                                 {{dynamic, T}, _} ->
                                     'Elixir.DynamicSupervisor':start_child(
                                       Pid, regspec_kinds:template_spec(T, Args));
                                 {_, undefined} ->
                                     supervisor:start_child(Pid, regspec_kinds:child_spec(Spec));
                                 {_, _} ->
                                     supervisor:start_child(Pid, Args)
                             end)
            end),
    Pid = ok_pid(R),
    bind(S, Pid),
    Pid =:= undefined andalso Args =:= undefined andalso unbind_tree(Spec),
    R;

exec(<<"terminate_child">>, S) ->
    Sup = target(S, <<"sup">>),
    Child = case maps:find(<<"pid">>, S) of
                {ok, P} -> val(P);
                error -> val(maps:get(<<"id">>, S))
            end,
    api(fun() ->
                Pid = supervisor(Sup),
                ok_error(case sup_kind(Pid) of
                             {dynamic, _} -> 'Elixir.DynamicSupervisor':terminate_child(Pid, Child);
                             _ -> supervisor:terminate_child(Pid, Child)
                         end)
        end);

exec(<<"which_children">>, S) ->
    Sup = target(S, <<"sup">>),
    api(fun() ->
                Pid = supervisor(Sup),
                Children = case sup_kind(Pid) of
                               {dynamic, _} -> 'Elixir.DynamicSupervisor':which_children(Pid);
                               _ -> supervisor:which_children(Pid)
                           end,
                {term, [[Id, Child, Type] || {Id, Child, Type, _Modules} <- Children]}
        end);

exec(<<"count_children">>, S) ->
    Sup = target(S, <<"sup">>),
    api(fun() ->
                Pid = supervisor(Sup),
                Counts = case sup_kind(Pid) of
                             {dynamic, _} -> 'Elixir.DynamicSupervisor':count_children(Pid);
                             _ -> maps:from_list(supervisor:count_children(Pid))
                         end,
                {obj, [{K, maps:get(binary_to_atom(K, utf8), Counts)}
                       || K <- [<<"specs">>, <<"active">>, <<"supervisors">>, <<"workers">>]]}
        end);

exec(<<"global_register">>, S) ->
    Name = global_name(S),
    Target = val(maps:get(<<"target">>, S)),
    api(fun() -> {term, global:register_name(Name, Target)} end);

exec(<<"global_unregister">>, S) ->
    Name = global_name(S),
    api(fun() -> {term, global:unregister_name(Name)} end);

exec(<<"global_send">>, S) ->
    Name = global_name(S),
    Msg = val(maps:get(<<"msg">>, S)),
    api(fun() -> {term, global:send(Name, Msg)} end);

exec(<<"registry_keys">>, S) ->
    Registry = maps:get(<<"registry">>, S),
    Target = target(S, <<"target">>),
    api(fun() ->
                {Backend, Ref} = registry_server(Registry),
                Pid = resolve(Target),
                {term, (regspec_kinds:via_module(Backend)):keys(Ref, Pid)}
        end);

exec(Op, _S) when Op =:= <<"partition">>; Op =:= <<"heal">> ->
    {obj, [{<<"unsupported">>, binary_to_atom(Op, utf8)}]};

exec(Op, _S) ->
    fatal("unknown op ~0tp", [Op]).

%% Step helpers ----------------------------------------------------------

api(F) ->
    try F()
    catch
        error:E -> {obj, [{<<"error">>, E}]};
        exit:R -> {obj, [{<<"exit">>, strip_call(R)}]}
    end.

strip_call({Reason, {gen_server, call, _}}) -> Reason;
strip_call({Reason, {'Elixir.GenServer', call, _}}) -> Reason;
strip_call(Reason) -> Reason.

ok_error({ok, X}) -> {obj, [{<<"ok">>, X}]};
ok_error({error, X}) -> {obj, [{<<"error">>, X}]};
ok_error(X) -> {term, X}.

ok_pid({obj, [{<<"ok">>, Pid}]}) when is_pid(Pid) -> Pid;
ok_pid(_) -> undefined.

bind(S, Value) ->
    case maps:get(<<"as">>, S, null) of
        null -> ok;
        Label -> ets:insert(?ENV, {{bind, Label}, Value})
    end.

%% A failed start leaves no process behind: every "as" of its spec tree
%% binds to undefined, also a child that ran before the supervisor gave up
%% (its supervised/1 bound it) and a label bound before.
unbind_tree(J) ->
    ets:insert(?ENV, [{{bind, L}, undefined} || L <- regspec_kinds:labels(J)]).

val(J) -> regspec_val:val(J).

target(S, Key) -> regspec_val:target(maps:get(Key, S)).

name(S, Key) -> regspec_val:name(maps:get(Key, S)).

global_name(S) ->
    case maps:get(<<"name">>, S) of
        #{<<"global">> := T} -> val(T);
        T -> val(T)
    end.

%% The process a proc or name stands for now (undefined if none).
resolve({local, A}) -> whereis(A);
resolve({global, T}) -> global:whereis_name(T);
resolve({via, M, T}) -> M:whereis_name(T);
resolve(Pid) -> Pid.

quiet_resolve(Target) ->
    try resolve(Target) catch _:_ -> undefined end.

%% A gen_server ServerRef.
server({local, A}) -> A;
server(Other) -> Other.

send_to({local, A}, Msg) -> A ! Msg;
send_to({global, T}, Msg) -> global:send(T, Msg);
send_to({via, M, T}, Msg) -> M:send(T, Msg);
send_to(Pid, Msg) -> Pid ! Msg.

%% A control request to a collector. A live process that is not a
%% collector would never answer: the step answers not_a_collector (a dead
%% one noproc, as any dead collector).
ask(Pid, Req) ->
    is_pid(Pid) andalso not collector(Pid) andalso is_process_alive(Pid) andalso
        error(not_a_collector),
    collector:request(Pid, Req).

collector(Pid) when is_pid(Pid) -> ets:member(?ENV, {collector, Pid});
collector(_) -> false.

%% A backend where only the caller takes a name for itself (self_register:
%% unique_registry): a collector target takes or drops it itself; for any
%% other target the driver calls the backend (Registry then only accepts
%% the driver itself).
self_register(Mod) ->
    [{_, #{self_register := Self}}] = ets:lookup(?ENV, {module, Mod}),
    Self.

by_holder(Target, {register, {via, M, T}} = Req) ->
    case collector(Target) of
        true -> ask(Target, Req);
        false -> M:register_name(T, Target)
    end;
by_holder(Target, {unregister, {via, M, T}} = Req) ->
    case collector(Target) of
        true -> ask(Target, Req);
        false -> M:unregister_name(T)
    end.

%% The supervisor a step names. A live process that is not one of the
%% scenario's supervisors would take the request as a stray call (and a
%% collector would never answer): the step answers not_a_supervisor.
supervisor(Sup) ->
    Pid = resolve(Sup),
    is_pid(Pid) andalso not ets:member(?ENV, {sup, Pid}) andalso is_process_alive(Pid)
        andalso error(not_a_supervisor),
    Pid.

sup_kind(Pid) ->
    case ets:lookup(?ENV, {sup, Pid}) of
        [{_, Kind}] -> Kind;
        [] -> static
    end.

%% registry_keys' "registry": a backend name (its current server), or a
%% proc or name of a registry server.
registry_server(B) when is_binary(B) ->
    {B, regspec_kinds:current_server(regspec_kinds:via_module(B))};
registry_server(J) ->
    Pid = resolve(regspec_val:target(J)),
    case ets:lookup(?ENV, {regserver, Pid}) of
        [{_, BackendRef}] -> BackendRef;
        [] -> exit(noproc)
    end.

fatal(Fmt, Args) -> throw({regspec_fatal, lists:flatten(io_lib:format(Fmt, Args))}).

%% Deadlock ----------------------------------------------------------------
%% A call with timeout infinity that nothing can ever answer ends with
%% {"exit": "deadlock"}, as on the model and the runtime: while the driver
%% waits in it, the deadlock watcher (unnumbered) looks for a quiescent
%% system (every scenario process waiting, none in a timed shutdown wait,
%% only the watcher active) with the driver still in gen:do_call, three
%% readings 1 ms apart; it then sends the driver the 'DOWN' of the call's
%% monitor with reason deadlock, so gen_server:call exits deadlock. The
%% call's monitor ref comes from tracing the driver's sends for the call's
%% duration (the tracer forwards each '$gen_call' request's ref).

call_watched(To, Msg) ->
    [{deadlock_watch, W}] = ets:lookup(?ENV, deadlock_watch),
    [{tracer, Tracer}] = ets:lookup(?ENV, tracer),
    W ! {watch, self(), get(live)},
    1 = erlang:trace(self(), true, [send, {tracer, Tracer}]),
    Result = api(fun() -> {term, gen_server:call(To, Msg, infinity)} end),
    1 = erlang:trace(self(), false, [send]),
    Tag = make_ref(),
    W ! {unwatch, self(), Tag},
    receive
        {Tag, none} -> ok;
        {Tag, Mref} -> erlang:demonitor(Mref, [flush])
    end,
    Result.

deadlock_watch() ->
    receive
        {watch, Driver, Live} -> deadlock_watch(Driver, Live, none, 0)
    end.

deadlock_watch(Driver, Live, Mref, Idle) ->
    receive
        {call_mref, M} -> deadlock_watch(Driver, Live, M, Idle);
        {unwatch, Driver, Tag} ->
            Driver ! {Tag, Mref},
            deadlock_watch()
    after 1 ->
        case deadlocked(Driver, Live) of
            false -> deadlock_watch(Driver, Live, Mref, 0);
            true when Idle < 2 -> deadlock_watch(Driver, Live, Mref, Idle + 1);
            true ->
                %% Every request the driver sent so far is forwarded by now.
                Ref = erlang:trace_delivered(Driver),
                receive {trace_delivered, Driver, Ref} -> ok end,
                [{tracer, Tracer}] = ets:lookup(?ENV, tracer),
                Tag = make_ref(),
                Tracer ! {peek, self(), Tag},
                receive {Tag, _} -> ok end,
                Last = last_mref(Mref),
                case deadlocked(Driver, Live) of
                    true when Last =/= none ->
                        Driver ! {'DOWN', Last, process, undefined, deadlock},
                        deadlock_fired(Driver, Last);
                    _ -> deadlock_watch(Driver, Live, Last, 0)
                end
        end
    end.

last_mref(Mref) ->
    receive {call_mref, M} -> last_mref(M) after 0 -> Mref end.

deadlock_fired(Driver, Mref) ->
    receive
        {unwatch, Driver, Tag} -> Driver ! {Tag, Mref}, deadlock_watch();
        {call_mref, _} -> deadlock_fired(Driver, Mref)
    end.

deadlocked(Driver, Live) ->

    case process_info(Driver, [status, current_function]) of
        [{status, waiting}, {current_function, {gen, do_call, 4}}] ->
            [{tracer, Tracer}] = ets:lookup(?ENV, tracer),
            Tag = make_ref(),
            Tracer ! {peek, self(), Tag},
            New = receive {Tag, Pids} -> Pids end,
            {_, Busy} = lists:foldl(fun check/2, {[], []}, New ++ Live),
            Busy =:= [] andalso statistics(total_active_tasks) =< 1;
        _ -> false
    end.

%% Numbering -------------------------------------------------------------

%% Wait until every trace message so far is with the tracer, take the new
%% pids and number them in pid order (= creation order). The driver blocks
%% here, so other processes run.
sync() ->
    Ref = erlang:trace_delivered(all),
    receive {trace_delivered, all, Ref} -> ok end,
    [{tracer, Tracer}] = ets:lookup(?ENV, tracer),
    Tag = make_ref(),
    Tracer ! {take, self(), Tag},
    New = receive {Tag, Pids} -> lists:sort(Pids) end,
    lists:foreach(
      fun(Pid) ->
              N = ets:update_counter(?ENV, next_pnum, 1) - 1,
              ets:insert(?ENV, [{{pnum, N}, Pid}, {{num, Pid}, N}])
      end, New),
    put(live, New ++ get(live)),
    ok.

%% References are numbered by first appearance in a result, in the order
%% regspec_out:conv/2 meets them.
number_refs({obj, KVs}) -> [number_refs({term, V}) || {_, V} <- KVs], ok;
number_refs({term, T}) ->
    regspec_out:conv(T, {fun ref_number/1, <<>>}),
    ok.

ref_number(Ref) when is_reference(Ref) ->
    case ets:lookup(?ENV, {rn, Ref}) of
        [_] -> ok;
        [] ->
            N = ets:update_counter(?ENV, next_rnum, 1) - 1,
            ets:insert(?ENV, [{{rn, Ref}, N}, {{rnum, N}, Ref}])
    end,
    <<>>;
ref_number(_) -> <<>>.

label(Ref) when is_reference(Ref) ->
    [{_, N}] = ets:lookup(?ENV, {rn, Ref}),
    <<"R", (integer_to_binary(N))/binary>>;
label(Pid) ->
    case ets:lookup(?ENV, {num, Pid}) of
        [{_, N}] -> <<"P", (integer_to_binary(N))/binary>>;
        [] ->
            case ets:lookup(?ENV, {label_of, Pid}) of
                [{_, L}] -> L;
                [] ->
                    case process_info(Pid, registered_name) of
                        {registered_name, Name} ->
                            <<"?", (atom_to_binary(Name, utf8))/binary>>;
                        _ -> <<"?">>
                    end
            end
    end.

result_json({obj, KVs}, Ctx) -> {obj, [{K, regspec_out:conv(V, Ctx)} || {K, V} <- KVs]};
result_json({term, T}, Ctx) -> regspec_out:conv(T, Ctx).

%% Quiescence ------------------------------------------------------------
%% Idle: no scenario process runnable or exiting (all `waiting`), none in
%% a supervisor's timed shutdown wait, and statistics(total_active_tasks)
%% counts only the driver. Two idle readings 1 ms apart end the wait.

quiesce(I, Op) ->
    quiesce(I, Op, erlang:monotonic_time(millisecond) + ?QUIESCE_LIMIT_MS, 0).

quiesce(I, Op, Deadline, Idle) ->
    sync(),
    case busy() of
        [] when Idle >= 1 -> ok;
        [] -> pause(), quiesce(I, Op, Deadline, Idle + 1);
        Busy ->
            erlang:monotonic_time(millisecond) > Deadline andalso
                exit({regspec_fatal,
                      step_msg(I, Op, io_lib:format("no quiescence after ~p ms: ~0tp",
                                                    [?QUIESCE_LIMIT_MS, Busy]))}),
            pause(),
            quiesce(I, Op, Deadline, 0)
    end.

pause() -> receive after 1 -> ok end.

busy() ->
    {Live, Busy} = lists:foldl(fun check/2, {[], []}, get(live)),
    put(live, Live),
    case statistics(total_active_tasks) of
        N when N =< 1 -> Busy;
        N -> [{total_active_tasks, N} | Busy]
    end.

check(Pid, {Live, Busy}) ->
    case process_info(Pid, [status, current_function]) of
        undefined -> {Live, Busy};
        [{status, waiting}, {current_function, MFA}] ->
            case lists:member(MFA, ?SHUTDOWN_WAITS) andalso timed_wait(Pid) of
                true -> {[Pid | Live], [{Pid, MFA} | Busy]};
                false -> {[Pid | Live], Busy}
            end;
        [{status, Status} | _] -> {[Pid | Live], [{Pid, Status} | Busy]}
    end.

%% A supervisor waiting for children to stop monitors them; the wait has a
%% timer unless every such child's shutdown is infinity.
timed_wait(Sup) ->
    case process_info(Sup, monitors) of
        {monitors, Monitors} ->
            lists:any(fun({process, Child}) when is_pid(Child) ->
                              case ets:lookup(?ENV, {shutdown, Child}) of
                                  [{_, infinity}] -> false;
                                  _ -> true
                              end;
                         (_) -> false
                      end, Monitors);
        undefined -> false
    end.
