%% Starting the scenario kinds, from the driver (a start step) or from a
%% supervisor (a child spec). start/2 runs in the calling process, which
%% becomes the parent: every kind is started with a *_link call.
%%
%% Bookkeeping in regspec_env, written by whichever process starts:
%%   {sup, Pid}        static | simple_one_for_one | {dynamic, Template | null}
%%   {shutdown, Pid}   the shutdown of a supervised child (quiescence check)
%%   {server, Module}  the current registry server of the backend whose via
%%                     module is Module (current_server/1)
%%   {regserver, Pid}  {Backend, ServerRef} of a registry server
%%   {bind, Label}     a child spec's "as": the child's first pid (the
%%                     driver binds it to undefined when the start fails)
%% and, written by the driver before step 0, the via backends of the run
%% (regspec.common.backends): {backend, Name} and {module, Module}, each
%% #{name, module, server, self_register, server_type}.
-module(regspec_kinds).
-export([start/1, child_spec/1, template_spec/2, collector_opts/1, labels/1]).
-export([backend/1, via_module/1, current_server/1, note_server/3]).
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
start(<<"chat_room">>, J, Name) ->
    gen_start(Name, chat_room, maps:get(<<"init_work">>, J, 0));
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
    %% The backend's beam leg starts it (linked to the caller) and says how
    %% its names reach it: {ok, Pid, Ref}.
    #{name := Backend, module := Mod} = backend(maps:get(<<"backend">>, J, <<"map_registry">>)),
    case Mod:start_server(Name) of
        {ok, Pid, Ref} -> note_server(Backend, Pid, Ref), {ok, Pid};
        Res -> Res
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

%% The new server (Pid, reached as Ref) serves the backend's via names
%% from now on (VIA-6).
note_server(Backend, Pid, Ref) ->
    #{module := Mod} = backend(Backend),
    ets:insert(?ENV, [{{server, Mod}, Ref}, {{regserver, Pid}, {Backend, Ref}}]).

%% Where the via names of the backend whose module is Mod go now: its
%% current registry server (a beam leg calls this with ?MODULE).
current_server(Mod) -> ets:lookup_element(?ENV, {server, Mod}, 2).

%% A backend of the run, by name (a binary).
backend(Name) ->
    case ets:lookup(?ENV, {backend, Name}) of
        [{_, B}] -> B;
        [] -> error({unknown_via_backend, Name})
    end.

%% The module of {via, Module, Term} for a backend's name.
via_module(Name) -> maps:get(module, backend(Name)).

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
    case maps:get(<<"kind">>, C) of
        <<"supervisor">> -> supervisor;
        <<"dynamic_supervisor">> -> supervisor;
        <<"registry_server">> ->
            maps:get(server_type, backend(maps:get(<<"backend">>, C, <<"map_registry">>)));
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
