%% Reading scenario input. The Python side hands the scenario JSON over as
%% plain Erlang terms (object -> map with binary keys, string -> binary,
%% array -> list, number -> number, true/false/null -> atom); this module
%% gives them the contract's meaning (string -> atom, array -> tuple, ...).
%% Bindings and numbers live in the public table regspec_env, so children
%% started inside supervisors can read them too.
-module(regspec_val).
-export([val/1, val/2, name/2, target/1, opt_name/2, atom/1]).

-define(ENV, regspec_env).

val(J) -> val(J, []).

%% Args: the start arguments of a dynamic supervisor's child template.
val(B, _) when is_binary(B) -> binary_to_atom(B, utf8);
val(I, _) when is_number(I) -> I;
val(A, _) when is_atom(A) -> A;
val(L, Args) when is_list(L) -> list_to_tuple([val(X, Args) || X <- L]);
val(#{<<"str">> := S}, _) -> S;
val(#{<<"list">> := L}, Args) -> [val(X, Args) || X <- L];
val(#{<<"atom">> := S}, _) -> binary_to_atom(S, utf8);
val(#{<<"proc">> := L}, _) -> proc(L);
val(#{<<"pid">> := L}, _) -> pid(L);
val(#{<<"ref">> := L}, _) -> ref(L);
val(#{<<"arg">> := N}, Args) when N >= 0, N < length(Args) -> lists:nth(N + 1, Args);
val(#{<<"map">> := KVs}, Args) -> maps:from_list([{val(K, Args), val(V, Args)} || [K, V] <- KVs]);
val(Other, _) -> fatal("cannot read the value ~0tp", [Other]).

%% {local, Atom} | {global, Term} | {via, Module, Term}
name(#{<<"local">> := A}, _) -> {local, atom(A)};
name(#{<<"global">> := T}, Args) -> {global, val(T, Args)};
name(#{<<"via">> := [B, T]}, Args) -> {via, atom(B), val(T, Args)};
name(Other, _) -> fatal("cannot read the name ~0tp", [Other]).

%% A proc or a name: pid | undefined | {local, _} | {global, _} | {via, _, _}.
target(#{<<"local">> := _} = J) -> name(J, []);
target(#{<<"global">> := _} = J) -> name(J, []);
target(#{<<"via">> := _} = J) -> name(J, []);
target(J) -> val(J).

opt_name(J, Args) ->
    case maps:get(<<"name">>, J, null) of
        null -> undefined;
        N -> name(N, Args)
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
                [] -> fatal("no reference is bound to or numbered ~0tp", [L])
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
