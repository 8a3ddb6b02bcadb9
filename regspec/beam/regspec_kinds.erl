%% Starting the scenario kinds, from the driver (a start step) or from a
%% supervisor (a child spec). start/2 runs in the calling process, which
%% becomes the parent: every kind is started with a *_link call.
%%
%% Bookkeeping in regspec_env, written by whichever process starts:
%%   {sup, Pid}        static | simple_one_for_one | {dynamic, Template | null}
%%   {shutdown, Pid}   the shutdown of a supervised child (quiescence check)
%%   {server, Backend} the backend's current registry server (via modules)
%%   {regserver, Pid}  {Backend, ServerRef} of a registry_server
%%   {bind, Label}     a child spec's "as": the child's first pid (the
%%                     driver binds it to undefined when the start fails)
-module(regspec_kinds).
-export([start/1, child_spec/1, template_spec/2, collector_opts/1, labels/1]).
-export([start_child/1, start_template/1, start_template/2, start_template/3,
         start_template/4, start_template/5, start_template/6,
         start_template/7, start_template/8, start_template/9]).

-define(ENV, regspec_env).
-import(regspec_val, [val/1, atom/1]).

%% J: a start step or a child spec (JSON map), a template's {"arg": n}
%% already replaced by its start argument (regspec_val:args/2).
start(J) ->
    Name = regspec_val:opt_name(J),
    start(maps:get(<<"kind">>, J), J, Name).

start(<<"collector">>, J, Name) ->
    collector:start(Name, collector_opts(J));
start(<<"chat_room">>, _J, Name) ->
    gen_start(Name, chat_room, []);
start(<<"supervisor">>, J, Name) ->
    Flags = (flags(J))#{strategy => atom(maps:get(<<"strategy">>, J, <<"one_for_one">>))},
    Children = [child_spec(C) || C <- maps:get(<<"children">>, J, [])],
    note_sup(sup_start(Name, {static, Flags, Children}), static);
start(<<"dynamic_supervisor">>, J, Name) ->
    %% DynamicSupervisor may have no template (null): start_child then
    %% takes whole child specs only.
    Template = maps:get(<<"child">>, J, null),
    case maps:get(<<"impl">>, J, <<"DynamicSupervisor">>) of
        <<"simple_one_for_one">> ->
            %% The spec is read before any start_child: no args yet.
            Spec = (child_spec(regspec_val:args(Template, [])))#{
                     start => {?MODULE, start_template, [Template]}},
            note_sup(sup_start(Name, {simple_one_for_one, flags(J), Spec}), simple_one_for_one);
        <<"DynamicSupervisor">> ->
            #{intensity := MaxR, period := MaxS} = flags(J),
            Opts = [{strategy, one_for_one}, {max_restarts, MaxR}, {max_seconds, MaxS}],
            NameOpts = case Name of
                           undefined -> [];
                           {local, A} -> [{name, A}];
                           _ -> [{name, Name}]
                       end,
            Res = 'Elixir.DynamicSupervisor':start_link(regspec_sup, {dynamic, Opts}, NameOpts),
            note_sup(Res, {dynamic, Template})
    end;
start(<<"registry_server">>, J, Name) ->
    case atom(maps:get(<<"backend">>, J, <<"map_registry">>)) of
        unique_registry ->
            Reg = case Name of
                      {local, A} -> A;
                      undefined -> unnamed_registry();
                      Other -> Other      % Registry raises: it wants an atom
                  end,
            Res = 'Elixir.Registry':start_link([{keys, unique}, {name, Reg}]),
            note_server(Res, unique_registry, Reg);
        Backend ->
            Res = gen_start(Name, map_registry, Backend),
            Ref = case Name of
                      {local, A} -> A;
                      undefined -> undefined;
                      _ -> Name
                  end,
            note_server(Res, Backend, Ref)
    end.

gen_start(undefined, Mod, Arg) -> gen_server:start_link(Mod, Arg, []);
gen_start(Name, Mod, Arg) -> gen_server:start_link(Name, Mod, Arg, []).

sup_start(undefined, Arg) -> supervisor:start_link(regspec_sup, Arg);
sup_start(Name, Arg) -> supervisor:start_link(Name, regspec_sup, Arg).

flags(J) ->
    #{intensity => maps:get(<<"max_restarts">>, J, 3),
      period => maps:get(<<"max_seconds">>, J, 5)}.

collector_opts(J) ->
    #{trap_exit => maps:get(<<"trap_exit">>, J, false),
      mode => atom(maps:get(<<"mode">>, J, <<"eager">>))}.

note_sup({ok, Pid} = Res, Kind) -> ets:insert(?ENV, {{sup, Pid}, Kind}), Res;
note_sup(Res, _) -> Res.

%% The new server serves the backend's via names from now on. A map
%% registry is called by its local (else global) name like the article's
%% Chat.Registry, or by pid when it has no name.
note_server({ok, Pid} = Res, Backend, Ref0) ->
    Ref = case Ref0 of undefined -> Pid; _ -> Ref0 end,
    ets:insert(?ENV, [{{server, Backend}, Ref}, {{regserver, Pid}, {Backend, Ref}}]),
    Res;
note_server(Res, _, _) -> Res.

unnamed_registry() ->
    N = ets:update_counter(?ENV, unnamed_registries, 1, {unnamed_registries, 0}),
    list_to_atom("unique_registry_" ++ integer_to_list(N)).

%% Child specs ---------------------------------------------------------

child_spec(C) ->
    #{id => val(maps:get(<<"id">>, C, maps:get(<<"kind">>, C))),
      start => {?MODULE, start_child, [C]},
      restart => atom(maps:get(<<"restart">>, C, <<"permanent">>)),
      shutdown => shutdown(C),
      type => type(C)}.

%% A DynamicSupervisor child from its template and start arguments.
template_spec(T, Args) ->
    child_spec(regspec_val:args(T, Args)).

type(C) ->
    case {maps:get(<<"kind">>, C), maps:get(<<"backend">>, C, null)} of
        {<<"supervisor">>, _} -> supervisor;
        {<<"dynamic_supervisor">>, _} -> supervisor;
        {<<"registry_server">>, <<"unique_registry">>} -> supervisor;
        _ -> worker
    end.

shutdown(C) ->
    case maps:get(<<"shutdown">>, C, null) of
        null -> default_shutdown(C);
        N when is_integer(N) -> N;
        B -> atom(B)
    end.

default_shutdown(C) ->
    case type(C) of supervisor -> infinity; worker -> 5000 end.

%% Called by a supervisor (the MFA of child_spec/1 and template_spec/2).
start_child(C) -> supervised(C).

%% simple_one_for_one appends start_child's args to [Template].
start_template(T) -> supervised(regspec_val:args(T, [])).
start_template(T, A) -> supervised(regspec_val:args(T, [A])).
start_template(T, A, B) -> supervised(regspec_val:args(T, [A, B])).
start_template(T, A, B, C) -> supervised(regspec_val:args(T, [A, B, C])).
start_template(T, A, B, C, D) -> supervised(regspec_val:args(T, [A, B, C, D])).
start_template(T, A, B, C, D, E) -> supervised(regspec_val:args(T, [A, B, C, D, E])).
start_template(T, A, B, C, D, E, F) -> supervised(regspec_val:args(T, [A, B, C, D, E, F])).
start_template(T, A, B, C, D, E, F, G) -> supervised(regspec_val:args(T, [A, B, C, D, E, F, G])).
start_template(T, A, B, C, D, E, F, G, H) ->
    supervised(regspec_val:args(T, [A, B, C, D, E, F, G, H])).

supervised(C) ->
    Res = start(C),
    case Res of
        {ok, Pid} ->
            ets:insert(?ENV, {{shutdown, Pid}, shutdown(C)}),
            case maps:get(<<"as">>, C, null) of
                null -> ok;
                Label -> ets:insert_new(?ENV, {{bind, Label}, Pid})
            end;
        _ -> ok
    end,
    Res.

%% The "as" labels of a spec tree: J's own, its children's (recursively)
%% and its template's. A failed start binds them all to no process.
labels(J) when is_map(J) ->
    Own = case maps:get(<<"as">>, J, null) of null -> []; L -> [L] end,
    Own ++ lists:append([labels(C) || C <- maps:get(<<"children">>, J, [])])
        ++ labels(maps:get(<<"child">>, J, null));
labels(_) -> [].
