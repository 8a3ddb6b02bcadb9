%% Reading scenario input. The Python side hands the scenario JSON over as
%% plain Erlang terms (object -> map with binary keys, string -> binary,
%% array -> list, number -> number, true/false/null -> atom); this module
%% gives them the contract's meaning (string -> atom, array -> tuple, ...).
%% Bindings and numbers live in the public table regspec_env, so children
%% started inside supervisors can read them too.
-module(regspec_val).
-export([val/1, name/1, target/1, opt_name/1, atom/1, args/2]).

-define(ENV, regspec_env).

val(B) when is_binary(B) -> binary_to_atom(B, utf8);
val(I) when is_number(I) -> I;
val(A) when is_atom(A) -> A;
val(L) when is_list(L) -> list_to_tuple([val(X) || X <- L]);
val(#{<<"str">> := S}) -> S;
val(#{<<"list">> := L}) -> [val(X) || X <- L];
val(#{<<"atom">> := S}) -> binary_to_atom(S, utf8);
val(#{<<"proc">> := L}) -> proc(L);
val(#{<<"pid">> := L}) -> pid(L);
val(#{<<"ref">> := L}) -> ref(L);
val(#{<<"map">> := KVs}) -> maps:from_list([{val(K), val(V)} || [K, V] <- KVs]);
%% A start argument put in place by args/2: already a term.
val(#{<<"$term">> := T}) -> T;
val(Other) -> fatal("cannot read the value ~0tp", [Other]).

%% {local, Atom} | {global, Term} | {via, Module, Term}. A start argument
%% as a local name is taken as is: OTP decides what a non-atom does.
name(#{<<"local">> := #{<<"$term">> := T}}) -> {local, T};
name(#{<<"local">> := A}) -> {local, atom(A)};
name(#{<<"global">> := T}) -> {global, val(T)};
name(#{<<"via">> := [B, T]}) -> {via, regspec_kinds:via_module(B), val(T)};
name(Other) -> fatal("cannot read the name ~0tp", [Other]).

%% A dynamic supervisor's child template with its start arguments in place:
%% each {"arg": N} becomes the N-th argument (undefined when there is none).
%% A nested "child" is another dynamic supervisor's template: its args are
%% that supervisor's start_child's, so it is left alone.
args(#{<<"arg">> := N}, Args) when is_integer(N) ->
    #{<<"$term">> => case N >= 0 andalso N < length(Args) of
                         true -> lists:nth(N + 1, Args);
                         false -> undefined
                     end};
args(M, Args) when is_map(M) ->
    maps:map(fun(<<"child">>, V) -> V;
                (_, V) -> args(V, Args)
             end, M);
args(L, Args) when is_list(L) -> [args(X, Args) || X <- L];
args(X, _) -> X.

%% A proc or a name: pid | undefined | {local, _} | {global, _} | {via, _, _}.
target(#{<<"local">> := _} = J) -> name(J);
target(#{<<"global">> := _} = J) -> name(J);
target(#{<<"via">> := _} = J) -> name(J);
target(J) -> val(J).

opt_name(J) ->
    case maps:get(<<"name">>, J, null) of
        null -> undefined;
        N -> name(N)
    end.

atom(B) when is_binary(B) -> binary_to_atom(B, utf8);
atom(A) when is_atom(A) -> A.

%% A label bound by "as"; a failed creating step bound it to undefined, and
%% a child spec's "as" that never started is undefined too.
proc(Label) ->
    case ets:lookup(?ENV, {bind, Label}) of
        [{_, V}] -> V;
        [] -> undefined
    end.

pid(L) ->
    case number(<<"P">>, L) of
        undefined -> labelled(L);
        N -> numbered(N, L)
    end.

numbered(N, L) ->
    case ets:lookup(?ENV, {pnum, N}) of
        [{_, Pid}] -> Pid;
        [] ->
            %% Created after the driver's last sync (a nowait step): the
            %% driver syncs its numbering once, which lets other processes run.
            case ets:lookup(?ENV, driver) =:= [{driver, self()}] of
                true ->
                    driver:sync(),
                    case ets:lookup(?ENV, {pnum, N}) of
                        [{_, Pid}] -> Pid;
                        [] -> fatal("no process is numbered ~ts", [L])
                    end;
                false -> undefined
            end
    end.

labelled(L) ->
    case ets:lookup(?ENV, {label, L}) of
        [{_, Pid}] -> Pid;
        [] -> fatal("no process is labelled ~0tp", [L])
    end.

ref(L) ->
    case ets:lookup(?ENV, {bind, L}) of
        [{_, R}] when is_reference(R) -> R;
        [{_, undefined}] -> undefined;     % bound by a monitor step that failed
        _ ->
            case ets:lookup(?ENV, {rnum, number(<<"R">>, L)}) of
                [{_, R}] -> R;
                [] -> fatal("no reference is bound to or numbered ~ts", [L])
            end
    end.

%% <<"P12">> -> 12 (for Prefix <<"P">>); anything else -> undefined.
number(Prefix, L) when is_binary(L) ->
    case string:prefix(L, Prefix) of
        <<D, _/binary>> = Digits when D >= $0, D =< $9 ->
            try binary_to_integer(Digits) catch error:badarg -> undefined end;
        _ -> undefined
    end;
number(_, _) -> undefined.

fatal(Fmt, Args) -> throw({regspec_fatal, lists:flatten(io_lib:format(Fmt, Args))}).
