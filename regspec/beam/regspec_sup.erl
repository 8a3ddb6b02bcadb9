%% Callback module of every supervisor a scenario starts: a static
%% supervisor, a simple_one_for_one supervisor, or an Elixir
%% DynamicSupervisor (through DynamicSupervisor.init/1).
-module(regspec_sup).
-behaviour(supervisor).
-export([init/1]).

init({static, Flags, Children}) -> {ok, {Flags, Children}};
init({simple_one_for_one, Flags, Template}) ->
    {ok, {Flags#{strategy => simple_one_for_one}, [Template]}};
init({dynamic, Opts}) -> 'Elixir.DynamicSupervisor':init(Opts).
