"""`global` on one node in the threaded runtime: names served by the global name server.

Implements: REG-GLOBAL-1, REG-GLOBAL-2, REG-GLOBAL-3, REG-GLOBAL-4, REG-GLOBAL-5

As `regspec.model.registry_global`: the caller reads the table
(`runtime.global_names`, global's ETS table) and checks that the holder is
alive; registering and unregistering are calls to the global name server,
which monitors each holder and drops its names when the DOWN arrives.
"""

from __future__ import annotations

from regspec.common.protocol import GEN_CALL
from regspec.common.records import GLOBAL_SERVER, SystemStop
from regspec.common.results import ErlangError
from regspec.terms import Atom, Pid

from . import gen_server
from .process import Context

__all__ = ["whereis_name", "register_name", "unregister_name", "send", "serve"]

UNDEFINED = Atom("undefined")
YES = Atom("yes")
NO = Atom("no")
OK = Atom("ok")
DOWN = Atom("DOWN")


def whereis_name(ctx: Context, name: object) -> object:
    """The live holder of `name`, or undefined: the table, then a liveness check (REG-GLOBAL-3)."""
    holder = ctx.atomic(lambda rt, me: rt.global_names.get(name, UNDEFINED))
    if isinstance(holder, Pid) and ctx.is_process_alive(holder):
        return holder
    return UNDEFINED


def register_name(ctx: Context, name: object, pid: object) -> Atom:
    if not isinstance(pid, Pid):
        raise ErlangError("error", Atom("function_clause"))
    return gen_server.call(ctx, GLOBAL_SERVER, (Atom("register"), name, pid))


def unregister_name(ctx: Context, name: object) -> Atom:
    return gen_server.call(ctx, GLOBAL_SERVER, (Atom("unregister"), name))


def send(ctx: Context, name: object, msg: object) -> Pid:
    pid = whereis_name(ctx, name)
    if not isinstance(pid, Pid):
        raise ErlangError("exit", (Atom("badarg"), (name, msg)))   # REG-GLOBAL-5
    ctx.send(pid, msg)
    return pid


def serve(ctx: Context) -> None:
    """The global name server: registration requests in order, and the DOWNs of holders."""
    while True:
        msg = ctx.receive()
        if isinstance(msg, SystemStop):
            ctx.exit(msg.reason)
        if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
            (caller, tag), req = msg[1], msg[2]
            if req[0] == Atom("register"):
                reply = ctx.atomic(_register, req[1], req[2])
                if reply == YES:
                    ctx.monitor(req[2])   # REG-GLOBAL-4
            else:
                reply = ctx.atomic(_unregister, req[1])
            ctx.send(caller, (tag, reply))
        elif isinstance(msg, tuple) and len(msg) == 5 and msg[0] == DOWN:
            ctx.atomic(_drop_pid, msg[3])


def _register(rt, me: Pid, name: object, pid: Pid) -> Atom:
    holder = rt.global_names.get(name)
    if holder is not None and rt.is_alive(holder):
        return NO
    if pid in rt.global_names.values():
        return NO   # REG-GLOBAL-2: global refuses a second name for one pid
    rt.global_names[name] = pid
    return YES


def _unregister(rt, me: Pid, name: object) -> Atom:
    rt.global_names.pop(name, None)
    return OK


def _drop_pid(rt, me: Pid, dead: Pid) -> None:
    for name in [n for n, p in rt.global_names.items() if p == dead]:
        del rt.global_names[name]
