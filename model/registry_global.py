"""`global` on one node: cluster-wide names served by the global name server (OTP `global.erl`).

Implements: REG-GLOBAL-1, REG-GLOBAL-2, REG-GLOBAL-3, REG-GLOBAL-4, REG-GLOBAL-5

- The name table (`world.global_names`) is read directly by the caller, as
  global reads its ETS table; `whereis_name` checks that a local pid is
  alive, so a dead holder is never returned (REG-GLOBAL-3).
- `register_name` and `unregister_name` are requests to the global name
  server (pid `GLOBAL_SERVER`, started before step 0). It refuses a name
  that a live process holds and a second name for a pid that has one
  (REG-GLOBAL-2), and monitors what it registers: a holder's names are
  dropped when its DOWN arrives (REG-GLOBAL-4), also for a pid that was
  already dead when registered.
- `send` returns the pid, or exits `{badarg, {Name, Msg}}` (REG-GLOBAL-5).
"""

from __future__ import annotations

from regspec.common.protocol import GEN_CALL
from regspec.common.records import GLOBAL_SERVER, SystemStop
from regspec.common.results import ErlangError
from regspec.terms import Atom, Pid

from .code import Atomic, Die, Monitor, Send, is_process_alive
from .gen import gen_call
from .world import Process, World, replace_world

__all__ = ["whereis_name", "register_name", "unregister_name", "send", "handle_global_server", "boot"]

UNDEFINED = Atom("undefined")
YES = Atom("yes")
NO = Atom("no")
OK = Atom("ok")
DOWN = Atom("DOWN")


def whereis_name(name: object):
    """The live holder of `name`, or undefined: the table, then a liveness check (REG-GLOBAL-3)."""
    holder = yield Atomic(_lookup, (name,))
    if isinstance(holder, Pid) and (yield from is_process_alive(holder)) == Atom("true"):
        return holder
    return UNDEFINED


def _lookup(world: World, me: Pid, name: object):
    return world, world.global_names.get(name, UNDEFINED)


def _whereis_now(world: World, me: Pid, name: object):
    holder = world.global_names.get(name)
    return world, holder if holder is not None and world.is_alive(holder) else UNDEFINED


def register_name(name: object, pid: object):
    if not isinstance(pid, Pid):
        raise ErlangError("error", Atom("function_clause"))
    return (yield from gen_call(GLOBAL_SERVER, (Atom("register"), name, pid)))


def unregister_name(name: object):
    return (yield from gen_call(GLOBAL_SERVER, (Atom("unregister"), name)))


def send(name: object, msg: object):
    pid = yield from whereis_name(name)
    if not isinstance(pid, Pid):
        raise ErlangError("exit", (Atom("badarg"), (name, msg)))
    yield Send(pid, msg)
    return pid


def handle_global_server(me: Pid, state: object, msg: object):
    """The global name server: registration requests in order, and the DOWNs of holders."""
    if isinstance(msg, SystemStop):
        yield Die(msg.reason)
    if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
        (caller, tag), req = msg[1], msg[2]
        if req[0] == Atom("register"):
            reply = yield Atomic(_register, (req[1], req[2]))
            if reply == YES:
                yield Monitor(req[2])
        else:
            reply = yield Atomic(_unregister, (req[1],))
        yield Send(caller, (tag, reply))
    elif isinstance(msg, tuple) and len(msg) == 5 and msg[0] == DOWN:
        yield Atomic(_drop_pid, (msg[3],))
    return state


def _register(world: World, me: Pid, name: object, pid: Pid):
    _, holder = _whereis_now(world, me, name)
    if isinstance(holder, Pid):
        return world, NO
    if world.global_names.name_of(pid) is not None:
        return world, NO  # global refuses a second name for one pid
    return replace_world(world, global_names=world.global_names.set(name, pid)), YES


def _unregister(world: World, me: Pid, name: object):
    return replace_world(world, global_names=world.global_names.delete(name)), OK


def _drop_pid(world: World, me: Pid, dead: Pid):
    name = world.global_names.name_of(dead)   # a pid holds one name at most (`_register`)
    if name is None:
        return world, OK
    return replace_world(world, global_names=world.global_names.delete(name)), OK


def boot(world: World) -> World:
    """The global name server, started before step 0 (it traps exits)."""
    world = world.put(Process(pid=GLOBAL_SERVER, kind="global_name_server", trap_exit=True))
    return replace_world(world, labels=world.labels.set(GLOBAL_SERVER, "?global_name_server"))
