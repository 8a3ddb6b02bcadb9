"""gen and proc_lib in the threaded runtime: the name forms and the synchronous start.

Implements: GS-1, GS-2, VIA-1, VIA-2, VIA-3, REG-GLOBAL-1

The same functions as `regspec.model.gen`, as code that runs in the calling
process's own thread (or the driver's): `ctx` is its `Context`. Where the
model yields an effect, this code calls the BIF; a receive blocks the
thread until the scheduler hands it a matching message. The message shapes
and receive patterns are shared with the model (`regspec.common.protocol`).
"""

from __future__ import annotations

from regspec.common import backends
from regspec.common.protocol import ACK, Ack
from regspec.common.results import ErlangError, exit_reason
from regspec.terms import Atom, GlobalName, LocalName, Pid, ViaName

from . import gen_server, registry_global
from .process import Context

__all__ = ["where", "register_name", "unregister_name", "send", "gen_call", "start", "init_it", "Stop",
           "via_backend"]

UNDEFINED = Atom("undefined")
YES = Atom("yes")
OK = Atom("ok")
ERROR = Atom("error")


def via_backend(name: str):
    """The `{via, Module, Name}` module of the backend `name`: as gen calls `Module:whereis_name(Name)`
    without knowing the module, gen looks the backend's impl leg up in the backend registry
    (`regspec.common.backends`, which names `registry_via`'s three and anyone's own)."""
    return backends.impl_leg(name)


def where(ctx: Context, name: object) -> object:
    """The pid holding `name` now, or `undefined`."""
    if isinstance(name, LocalName):
        if not isinstance(name.name, Atom):
            raise ErlangError("error", Atom("badarg"))  # whereis/1 of a non-atom (a template's arg)
        holder = ctx.whereis(name.name)
        return holder if isinstance(holder, Pid) else UNDEFINED
    if isinstance(name, GlobalName):
        return registry_global.whereis_name(ctx, name.name)
    if isinstance(name, ViaName):
        return via_backend(name.backend).whereis_name(ctx, name.name)
    return name


def register_name(ctx: Context, name: object) -> bool:
    """The calling process takes `name`: True, or False when it is taken (gen:register_name)."""
    if isinstance(name, LocalName):
        return ctx.atomic(_register_local, name.name)
    if isinstance(name, GlobalName):
        return registry_global.register_name(ctx, name.name, ctx.pid) == YES
    try:
        answer = via_backend(name.backend).register_name(ctx, name.name, ctx.pid)
    except ErlangError:
        return False  # gen wraps the via call in a catch
    return answer == YES


def _register_local(rt, me: Pid, name: Atom) -> bool:
    return rt.names.register(name, me, alive=True) == Atom("true")


def unregister_name(ctx: Context, name: object) -> None:
    """Drop `name` (gen:unregister_name, after a failed init): errors are ignored."""
    try:
        if isinstance(name, LocalName):
            ctx.atomic(lambda rt, me: rt.names.unregister(name.name))
        elif isinstance(name, GlobalName):
            registry_global.unregister_name(ctx, name.name)
        elif isinstance(name, ViaName):
            via_backend(name.backend).unregister_name(ctx, name.name)
    except ErlangError:
        pass


def send(ctx: Context, name: object, msg: object) -> object:
    """`Name ! Msg` for every form (a free local name raises badarg, PROC-4)."""
    if isinstance(name, LocalName):
        holder = where(ctx, name)
        if not isinstance(holder, Pid):
            raise ErlangError("error", Atom("badarg"))
        ctx.send(holder, msg)
        return msg
    if isinstance(name, GlobalName):
        return registry_global.send(ctx, name.name, msg)
    if isinstance(name, ViaName):
        return via_backend(name.backend).send(ctx, name.name, msg)
    ctx.send(name, msg)
    return msg


def gen_call(ctx: Context, server: object, request: object, timeout: object = None, printed_as: object = None,
             exit_during: object = None):
    """`gen_server:call(Server, Request)`: the reply, or raises exit `{Reason, {gen_server, call, Args}}`.

    `exit_during` is the driver's hook of `gen_server.do_call`.
    """
    printed = server if printed_as is None else printed_as
    pid = server
    if not isinstance(server, Pid):
        try:
            pid = where(ctx, server)
        except ErlangError as e:
            raise ErlangError("exit", (exit_reason(e), gen_server.call_mfa(printed, request, timeout))) from None
        if not isinstance(pid, Pid):
            raise ErlangError("exit", (Atom("noproc"), gen_server.call_mfa(printed, request, timeout)))
    return gen_server.do_call(ctx, pid, request, printed, timeout, exit_during)


class Stop(Exception):
    """Raised by a kind's init: the start fails with `reason` and the process exits with it."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def start(ctx: Context, kind: str, name: object, init, loop, init_args: tuple = ()) -> tuple:
    """`gen:start` from the calling process: `{ok, Pid}` or `{error, Reason}`.

    The new process runs `init(ctx, starter, *init_args)` once its name is
    taken, acks, then `loop(ctx, state)` for the rest of its life.
    """
    if name is not None:
        holder = where(ctx, name)
        if isinstance(holder, Pid):
            return (ERROR, (Atom("already_started"), holder))  # GS-1: no process is created
    starter = ctx.pid

    def body(child: Context) -> None:
        state = init_it(child, starter, name, init, init_args)
        loop(child, state)

    child = ctx.spawn_link(kind, body)
    msg = ctx.receive(Ack(child).matches)
    if msg[0] == ACK:
        return msg[2]
    return (ERROR, msg[2])


def init_it(ctx: Context, starter: Pid, name: object, init, init_args: tuple) -> object:
    """The new process: take the name, run init, ack the starter (gen:init_it)."""
    me = ctx.pid
    if name is not None and not register_name(ctx, name):
        holder = where(ctx, name)
        ctx.send(starter, (ACK, me, (ERROR, (Atom("already_started"), holder))))
        ctx.exit(Atom("normal"))
    try:
        state = init(ctx, starter, *init_args)
    except Stop as stop:
        if name is not None:
            unregister_name(ctx, name)
        ctx.send(starter, (ACK, me, (ERROR, stop.reason)))
        ctx.exit(stop.reason)
    ctx.send(starter, (ACK, me, (OK, me)))
    return state

