%% The article's Chat.Server as an Erlang gen_server: a room keeps its
%% messages newest first. cast {add_message, M} prepends, call get_messages
%% answers the list; any other call stops it with {bad_call, Req}, any other
%% cast with {bad_cast, Req}; other messages are ignored. A cast {work, N}
%% (0 =< N =< 1000000) loops N times and changes nothing: a busy room.
%% init(InitWork) loops InitWork times first: the room is busy in its init,
%% after gen has taken its name and before proc_lib acks its starter.
-module(chat_room).
-behaviour(gen_server).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).

init(InitWork) ->
    work(InitWork),
    {ok, []}.

handle_call(get_messages, _From, Messages) -> {reply, Messages, Messages};
handle_call(Req, _From, Messages) -> {stop, {bad_call, Req}, Messages}.

handle_cast({add_message, M}, Messages) -> {noreply, [M | Messages]};
handle_cast({work, N}, Messages) when is_integer(N), N >= 0, N =< 1000000 ->
    work(N),
    {noreply, Messages};
handle_cast(Req, Messages) -> {stop, {bad_cast, Req}, Messages}.

handle_info(_, Messages) -> {noreply, Messages}.

work(0) -> ok;
work(N) -> work(N - 1).
