"""gen_server: the server loop (OTP `gen.erl`, `gen_server.erl`).

Implements: GS-2, GS-3, GS-4, GS-5, GS-6, GS-7

`serve` is `gen_server:loop`, run by the server's own thread: it takes
every message in order and feeds it to the behaviour's callbacks, which
return a tagged result (`("reply", Reply, State)`, `("noreply", State)`,
`("stop", Reason, State)`). The client side of a call is `call` here
(gen:do_call, to a pid; `gen.gen_call` resolves a name first), for a
process and for the driver alike; the driver's cast and stop are in
`driver.py` and `driver_names`. The call and cast message shapes are
`regspec.common.protocol`.

This is the bottom of the OTP library layer: it imports only the process
layer, so `registry_global` can call the global name server through it
without importing `gen` (which imports `registry_global`).

Invariants:
- a server never unregisters its own name; the runtime frees a local name
  when the server dies (GS-2, REG-LOCAL-7);
- a callback that returns stop ends the process with that reason; a caller
  waiting on it gets the reason from its monitor (GS-5).
"""

from __future__ import annotations

# The call protocol is shared with the model: the same message shapes and reply tag.
from regspec.common.protocol import GEN_CALL, GEN_CAST, ReplyOrDown, call_message
from regspec.common.records import SystemStop
from regspec.common.results import ErlangError
from regspec.terms import Atom, ErlList, Pid

from .process import TIMEOUT, Context

__all__ = ["serve", "call", "call_mfa", "do_call"]

GEN_SERVER = Atom("gen_server")
CALL = Atom("call")
CALLING_SELF = Atom("calling_self")
TIMEOUT_REASON = Atom("timeout")


def serve(ctx: Context, callbacks, state: object) -> None:
    """`gen_server:loop`: never returns; the process ends through `ctx.exit` or a kill."""
    receive, send_receive = ctx.receive, ctx.send_receive
    term = receive()
    while True:
        if isinstance(term, tuple):
            n = len(term)
            # (`is` first: the tag atom is mostly the very object the client library put there)
            if n == 3 and (term[0] is GEN_CALL or term[0] == GEN_CALL) \
                    and isinstance(sender := term[1], tuple) and len(sender) == 2:
                caller, tag = sender
                result = callbacks.handle_call(term[2], state)
                if result[0] == "reply":
                    _, value, state = result
                    term = send_receive(caller, (tag, value))   # the reply, and the next receive
                    continue
            elif n == 2 and (term[0] is GEN_CAST or term[0] == GEN_CAST):
                result = callbacks.handle_cast(term[1], state)
            else:
                result = callbacks.handle_info(term, state)
        elif isinstance(term, SystemStop):
            ctx.exit(term.reason)  # GS-7: the system message of gen_server:stop, in order with the rest
        else:
            result = callbacks.handle_info(term, state)
        if result[0] == "noreply":
            state = result[1]
            term = receive()
            continue
        # ("stop", Reason, State): terminate/2 would run here; then the process exits.
        ctx.exit(result[1])


def call_mfa(ref: object, request: object, timeout: object = None) -> tuple:
    """`{gen_server, call, Args}`, as an exit reason of a failed call names the call."""
    return (GEN_SERVER, CALL, ErlList((ref, request) if timeout is None else (ref, request, timeout)))


def call(ctx: Context, pid: Pid, request: object, timeout: object = None) -> object:
    """`gen_server:call(Pid, Request)` to a pid: the reply, or raises exit `{Reason, {gen_server, call, Args}}`."""
    return do_call(ctx, pid, request, pid, timeout)


def do_call(ctx: Context, pid: Pid, request: object, printed: object, timeout: object = None,
            exit_during: object = None) -> object:
    """gen:do_call: monitor `pid`, send the request, await the reply or the DOWN (GS-3, GS-4, GS-5).

    A failure exits `{Reason, call_mfa(printed, ...)}`: `printed` is the
    server as the caller named it (made into the reason only then, as
    gen_server:call does in its catch). `exit_during` is the driver's hook,
    not gen's (how the state machine kills a server inside a call): the
    reason of an exit signal sent to the server right behind the request,
    as if another process sent it then.
    """
    if pid.__class__ is Pid and pid.n == ctx.pid.n:   # (`pid == self()`, without Pid's Python __eq__)
        # gen refuses to call itself
        raise ErlangError("exit", (CALLING_SELF, call_mfa(printed, request, timeout)))
    # Mref = monitor(process, Pid), Pid ! {'$gen_call', {self(), Tag}, Request}:
    mref, request_msg = ctx.monitor_send(pid, call_message, request, timeout)
    if exit_during is not None:
        ctx.exit_signal(pid, exit_during)
    # receive {Tag, Reply} or the DOWN; demonitor(Mref, [flush]) after a reply or a timeout:
    msg = ctx.receive_demonitor(ReplyOrDown(request_msg[1][1], mref).matches, mref, timeout)
    if msg is TIMEOUT:
        raise ErlangError("exit", (TIMEOUT_REASON, call_mfa(printed, request, timeout)))
    if len(msg) == 5:   # the DOWN (a reply is {Tag, Reply})
        raise ErlangError("exit", (msg[4], call_mfa(printed, request, timeout)))
    return msg[1]
