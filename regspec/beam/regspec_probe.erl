%% Probes of a via module for the conformance kit on the BEAM
%% (regspec.conformance_beam), each run in a fresh VM:
%%
%%   erl -noshell -pa EBIN -pa ELIXIR_EBIN -run regspec_probe main FILE
%%
%% FILE holds two terms, as for the driver: the job (below) and the table of
%% the run's via backends. The run is set up as the driver's is
%% (driver:setup/1: the backends' servers, a start_link/0). Printed on
%% stdout: JSON.
%%
%% - #{probe => contend, backend, contenders, name, timeout} (BACKEND-6; the
%%   name as scenario JSON: "a", ["k", 1]): the contenders are spawned, wait
%%   until all are ready, and are told to go at once; each calls
%%   register_name(Name, self()) and keeps its name (waits for ever).
%%   Printed: each contender's answer (`~0tp` text) in spawn order, and
%%   `holder`: the 1-based index of the contender whereis_name answers
%%   afterwards, or its answer as text.
%% - #{probe => protocol, backend, timeout} (BACKEND-1): each via function
%%   called once with the name `regspec_probe` and a holder process, as a
%%   client would: whereis, register (by the holder itself for a
%%   self_register backend), whereis, send, unregister, whereis, send to the
%%   free name; after the first send the holder says whether the message
%%   arrived (`delivered`). Printed: a list of #{function, outcome (returned | error |
%%   exit | throw | no_answer), text, holder (the value is the holder's pid),
%%   pid, badarg (an exit {badarg, {Name, Msg}}, or error badarg as Elixir's
%%   Registry raises: the driver prints both as {"error": "badarg"})}.
-module(regspec_probe).
-export([main/1]).

main([File]) ->
    ok = logger:set_primary_config(level, none),
    Status =
        try run(File) of
            Json -> ok = file:write(standard_io, Json), 0
        catch
            throw:{regspec_fatal, Msg} ->
                io:format(standard_error, "regspec beam: ~ts~n", [Msg]),
                2;
            Class:Reason:Stack ->
                io:format(standard_error, "regspec beam: ~p:~0tp~n~0tp~n", [Class, Reason, Stack]),
                2
        end,
    erlang:halt(Status).

run(File) ->
    {Job, Backends} = case file:consult(File) of
                          {ok, [J, B]} -> {J, B};
                          Error -> throw({regspec_fatal, io_lib:format("cannot read ~ts: ~0tp", [File, Error])})
                      end,
    #{<<"probe">> := Probe, <<"backend">> := Backend, <<"timeout">> := Ms} = Job,
    driver:setup(Backends),
    Mod = regspec_kinds:via_module(Backend),
    case Probe of
        <<"contend">> -> contend(Mod, Job, Ms);
        <<"protocol">> -> protocol(Mod, Ms)
    end.

contend(Mod, #{<<"contenders">> := N, <<"name">> := T}, Ms) ->
    Name = regspec_val:val(T),
    Main = self(),
    Pids = [spawn(fun() -> contender(Main, Mod, Name) end) || _ <- lists:seq(1, N)],
    [receive {ready, P} -> ok end || P <- Pids],
    [P ! go || P <- Pids],
    Answers = [receive {answer, P, A} -> A after Ms -> no_answer_within_the_deadline end || P <- Pids],
    Holder = try Mod:whereis_name(Name) catch C:R -> {C, R} end,
    Index = index(Holder, Pids, 1),
    regspec_out:encode({obj, [{<<"answers">>, [text(A) || A <- Answers]}, {<<"holder">>, Index}]}).

contender(Main, Mod, Name) ->
    Main ! {ready, self()},
    receive go -> ok end,
    A = try Mod:register_name(Name, self()) catch C:R -> {C, R} end,
    Main ! {answer, self(), A},
    receive never -> ok end.

index(Holder, [Holder | _], I) -> I;
index(Holder, [_ | Rest], I) -> index(Holder, Rest, I + 1);
index(Holder, [], _) -> text(Holder).

text(T) -> iolist_to_binary(io_lib:format("~0tp", [T])).

protocol(Mod, Ms) ->
    Name = regspec_probe,
    Msg = {regspec_probe, hello},
    [{_, #{self_register := Self}}] = ets:lookup(regspec_env, {module, Mod}),
    Holder = spawn(fun holder/0),
    Call = fun(F, Fun) -> outcome(F, Fun, Holder, Name, Msg, Ms) end,
    ByHolder = fun(F) ->
                       fun() ->
                               Holder ! {do, self(), F},
                               receive {did, Holder, R} -> R end
                       end
               end,
    Register = case Self of
                   true -> ByHolder(fun() -> Mod:register_name(Name, self()) end);
                   false -> fun() -> {returned, Mod:register_name(Name, Holder)} end
               end,
    Unregister = case Self of
                     true -> ByHolder(fun() -> Mod:unregister_name(Name) end);
                     false -> fun() -> {returned, Mod:unregister_name(Name)} end
                 end,
    Calls = [Call(whereis_name, fun() -> {returned, Mod:whereis_name(Name)} end),
             Call(register_name, Register),
             Call(whereis_name, fun() -> {returned, Mod:whereis_name(Name)} end),
             Call(send, fun() -> {returned, Mod:send(Name, Msg)} end),
             Call(send, ByHolder(fun() -> receive Msg -> delivered after 1000 -> not_delivered end end)),
             Call(unregister_name, Unregister),
             Call(whereis_name, fun() -> {returned, Mod:whereis_name(Name)} end),
             Call(send, fun() -> {returned, Mod:send(Name, Msg)} end)],
    regspec_out:encode(Calls).

%% A call, in a process of its own so a call that never answers costs the deadline only.
outcome(F, Fun, Holder, Name, Msg, Ms) ->
    Main = self(),
    P = spawn(fun() ->
                      R = try Fun() catch C:Reason -> {C, Reason} end,
                      Main ! {self(), R}
              end),
    {Outcome, T} = receive {P, R} -> R after Ms -> exit(P, kill), {no_answer, none} end,
    {obj, [{<<"function">>, atom_to_binary(F, utf8)}, {<<"outcome">>, atom_to_binary(Outcome, utf8)},
           {<<"text">>, text(T)}, {<<"holder">>, T =:= Holder}, {<<"pid">>, is_pid(T)},
           {<<"badarg">>, (Outcome =:= exit andalso T =:= {badarg, {Name, Msg}})
                             orelse (Outcome =:= error andalso T =:= badarg)}]}.

holder() ->
    receive
        {do, From, F} ->
            R = try {returned, F()} catch C:Reason -> {C, Reason} end,
            From ! {did, self(), R},
            holder()
    end.
