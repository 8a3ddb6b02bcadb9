%% Canonical output: Erlang terms -> the contract's JSON form, and a small
%% JSON encoder (OTP 25 has none). Output is pure ASCII.
%%
%% conv/2 walks a term depth first, left to right (map entries in sorted
%% key order), and asks Label for every pid and reference it meets; the
%% driver relies on that order to number references by first appearance.
-module(regspec_out).
-export([conv/2, encode/1]).

%% Label: fun((pid() | reference()) -> binary()); Node: the local node's
%% printed name.
conv(T, {Label, Node} = Ctx) ->
    if
        T =:= true; T =:= false -> T;
        T =:= node() -> Node;
        is_atom(T) -> atom_to_binary(T, utf8);
        is_integer(T); is_float(T) -> T;
        is_binary(T) -> {obj, [{<<"str">>, T}]};
        is_pid(T) -> {obj, [{<<"pid">>, Label(T)}]};
        is_reference(T) -> {obj, [{<<"ref">>, Label(T)}]};
        is_map(T) ->
            case exception(T) of
                undefined ->
                    {obj, [{<<"map">>, [[conv(K, Ctx), conv(V, Ctx)]
                                        || {K, V} <- lists:sort(maps:to_list(T))]}]};
                Name -> {obj, [{<<"exception">>, Name}]}
            end;
        is_tuple(T) -> tuple(T, Ctx);
        is_list(T) ->
            case stack(T) of
                true -> [];
                false -> list(T, [], Ctx)
            end;
        is_port(T) -> {obj, [{<<"port">>, list_to_binary(erlang:port_to_list(T))}]};
        is_function(T) ->
            {module, M} = erlang:fun_info(T, module),
            {name, F} = erlang:fun_info(T, name),
            {arity, A} = erlang:fun_info(T, arity),
            {obj, [{<<"fun">>, iolist_to_binary(io_lib:format("~tw:~tw/~w", [M, F, A]))}]};
        is_bitstring(T) -> {obj, [{<<"bits">>, [B || <<B:1>> <= T]}]}
    end.

%% supervisor's #child{} record prints as ["child", Id].
tuple({child, _Pid, Id, _MFA, _Restart, _Sig, _Shutdown, _Type, _Mods}, Ctx) ->
    [<<"child">>, conv(Id, Ctx)];
%% An Elixir exception caught with its stack trace: the stack is dropped.
tuple({E, Stack}, Ctx) when is_map(E), is_list(Stack) ->
    case exception(E) of
        undefined -> [conv(E, Ctx), conv(Stack, Ctx)];
        Name -> {obj, [{<<"exception">>, Name}]}
    end;
tuple(T, Ctx) -> [conv(X, Ctx) || X <- tuple_to_list(T)].

%% An Erlang stack trace prints as []: its contents vary with the OTP
%% build, and the model has no stacks.
stack([_ | _] = L) -> frames(L);
stack(_) -> false.

frames([]) -> true;
frames([{M, F, A, Loc} | T]) when is_atom(M), is_atom(F), is_integer(A) orelse is_list(A),
                                  is_list(Loc) -> frames(T);
frames(_) -> false.

list([], Acc, _) -> lists:reverse(Acc);
list([H | T], Acc, Ctx) -> list(T, [conv(H, Ctx) | Acc], Ctx);
list(Tail, Acc, Ctx) -> {obj, [{<<"improper">>, lists:reverse(Acc, [conv(Tail, Ctx)])}]}.

%% 'Elixir.ArgumentError' -> <<"ArgumentError">>
exception(#{'__exception__' := true, '__struct__' := Mod}) when is_atom(Mod) ->
    case atom_to_binary(Mod, utf8) of
        <<"Elixir.", Name/binary>> -> Name;
        Name -> Name
    end;
exception(_) -> undefined.

%% JSON ----------------------------------------------------------------
%% Values: true | false | null | number | binary (string) | list (array)
%% | {obj, [{binary(), value}]}.
encode(true) -> <<"true">>;
encode(false) -> <<"false">>;
encode(null) -> <<"null">>;
encode(I) when is_integer(I) -> integer_to_binary(I);
encode(F) when is_float(F) -> float_to_binary(F, [short]);
encode(B) when is_binary(B) -> string(B);
encode(L) when is_list(L) -> [$[, join([encode(X) || X <- L]), $]];
encode({obj, KVs}) -> [${, join([[string(K), $:, encode(V)] || {K, V} <- KVs]), $}].

join([]) -> [];
join([H | T]) -> [H | [[$,, X] || X <- T]].

string(B) ->
    Chars = case unicode:characters_to_list(B, utf8) of
                L when is_list(L) -> L;
                _ -> binary_to_list(B)        % not UTF-8: bytes as latin1
            end,
    [$", [char(C) || C <- Chars], $"].

char($") -> <<"\\\"">>;
char($\\) -> <<"\\\\">>;
char(C) when C >= 16#20, C < 16#7f -> C;
char(C) when C < 16#10000 -> io_lib:format("\\u~4.16.0b", [C]);
char(C) ->
    V = C - 16#10000,
    [char(16#D800 bor (V bsr 10)), char(16#DC00 bor (V band 16#3FF))].
