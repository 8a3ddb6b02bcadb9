"""What a process runs when the scheduler picks it: the table of behaviours by kind, and the collector.

Implements: SCN-4, SCN-10, LINK-5

A process record names its code by its `kind`, as an Erlang process names
the module of its initial call. `BEHAVIOURS` is the table erts looks that
name up in (OTP: the loaded modules): one `Behaviour` per kind. The OTP
library fills it with its own kinds (supervisors, registry servers, the
global name server, the chat room: see `kinds.py`); this layer knows only
the table and its own kind, the collector, and never imports the library.

- A collector keeps what it receives. In "eager" mode it takes every message
  out of its mailbox at once; in "mailbox" mode it leaves scenario messages
  in the mailbox, which matters for `demonitor(Ref, [flush])` (MON-5). It
  performs the driver's control requests (monitor, demonitor, link, unlink,
  trap_exit, messages) itself, as the caller of those BIFs, and answers the
  driver with a message. A request it has no BIF for (register, unregister
  through Elixir's Registry) is a library function it applies, looked up by
  the request's name in `ACTIONS` (filled by the library, as `BEHAVIOURS`).
"""

from __future__ import annotations

from typing import Callable

import attrs

from regspec.common.records import DRIVER, Message, SystemStop
from regspec.common.results import ErlangError
from regspec.terms import Atom, ErlList, LocalName, Pid, Ref

from . import code, signals
from .registry_local import whereis
from .world import Control, World

__all__ = ["Behaviour", "BEHAVIOURS", "ACTIONS", "register_kind", "register_action", "consume"]

NOPROC = Atom("noproc")


@attrs.frozen
class Behaviour:
    """A kind's entry in the table: the code its processes run (OTP: the module named in a child spec's MFA).

    Exactly one of `handle` and `loop` is set:
    - `handle(me, state, msg)`: a generator of `code` effects run for each
      message in turn, as blocking code (`code.Running`) that returns the new
      state (an OTP behaviour's loop: it may wait in the middle of a message);
    - `loop(world, pid) -> world`: takes every message it can from the
      mailbox at once, in one go.
    `wants(proc)`, when set, says whether the process would take a message
    now (default: any message in its mailbox).
    """

    handle: Callable | None = None
    loop: Callable | None = None
    wants: Callable | None = None


BEHAVIOURS: dict[str, Behaviour] = {}
ACTIONS: dict[str, Callable] = {}   # control request name -> fn(world, pid, *args) -> (world, result)


def register_kind(kind: str, behaviour: Behaviour) -> None:
    """Enter `kind` in the table (the library calls this for each of its kinds)."""
    BEHAVIOURS[kind] = behaviour


def register_action(name: str, fn: Callable) -> None:
    """A control request `name` a collector performs by applying `fn(world, pid, *args)`."""
    ACTIONS[name] = fn


def consume(world: World, pid: Pid) -> World:
    """The process's code runs: it takes every message it can from its mailbox, in order.

    This is what a process does once the scheduler picks it, after its
    pending signals were handled (see scheduler.run). A process inside
    blocking code (`code.Running`: an init, a supervisor restarting a child)
    goes on with it first; its main loop resumes only when that code ends.
    """
    proc = world.processes[pid]
    if proc.code is not None:
        world, done, value = code.resume(world, pid)
        if not done or not world.is_alive(pid):
            return world
        world = world.update(pid, state=value)
        proc = world.processes[pid]
    entry = BEHAVIOURS.get(proc.kind)
    if entry is None:
        return world
    if entry.handle is None:
        return entry.loop(world, pid)
    while world.is_alive(pid) and world.processes[pid].mailbox:
        proc = world.processes[pid]
        world = world.update(pid, mailbox=proc.mailbox[1:])
        world, done, value = code.start_code(world, pid, code.Running(entry.handle, (pid, proc.state, proc.mailbox[0])))
        if not done:
            return world
        if world.is_alive(pid):
            world = world.update(pid, state=value)
    return world



# -- the collector -------------------------------------------------------------

def collector_loop(world: World, pid: Pid) -> World:
    """A collector takes its messages; control requests it performs (SCN-4, SCN-10)."""
    proc = world.processes[pid]
    if proc.mode == "eager":
        # SCN-4: an eager collector takes every message; control requests it performs.
        while True:
            proc = world.processes[pid]
            mailbox = proc.mailbox
            if not proc.alive or not mailbox:
                return world
            # The plain messages up to the first request or stop are kept in one go.
            n = 0
            while n < len(mailbox) and not isinstance(mailbox[n], (Control, SystemStop)):
                n += 1
            if n:
                world = world.update(pid, mailbox=mailbox[n:], kept=proc.kept + mailbox[:n])
                continue
            term, rest = mailbox[0], mailbox[1:]
            if isinstance(term, Control):
                world = _control(world.update(pid, mailbox=rest), pid, term)
            else:
                # SCN-10: it exits itself
                world = signals.exit_process(world.update(pid, mailbox=rest), pid, term.reason)
    # Mailbox mode: a selective receive of control requests only.
    while world.is_alive(pid):
        proc = world.processes[pid]
        i = next((i for i, t in enumerate(proc.mailbox) if isinstance(t, (Control, SystemStop))), None)
        if i is None:
            return world
        term = proc.mailbox[i]
        world = world.update(pid, mailbox=proc.mailbox[:i] + proc.mailbox[i + 1:])
        if isinstance(term, Control):
            world = _control(world, pid, term)
        else:
            world = signals.exit_process(world, pid, term.reason)
    return world


def collector_wants(proc) -> bool:
    """A collector in mailbox mode takes only control requests and stops."""
    if proc.mode == "mailbox":
        return any(isinstance(t, (Control, SystemStop)) for t in proc.mailbox)
    return True


def _control(world: World, pid: Pid, control: Control) -> World:
    """A collector performs one driver request and replies `{Tag, Result}`.

    A result `("error", Reason)` means the BIF raised; it is answered as such.
    """
    proc = world.processes[pid]
    action, *args = control.request
    if action == "messages":
        if proc.mode == "eager":
            # What it took so far; messages behind this request are not taken yet.
            result = ErlList(proc.kept)
        else:
            # `process_info(self(), messages)`: the whole mailbox, this request aside.
            result = ErlList(tuple(t for t in proc.mailbox if not isinstance(t, (Control, SystemStop))))
    elif action == "trap_exit":
        world = world.update(pid, trap_exit=args[0])
        result = Atom("true") if proc.trap_exit else Atom("false")   # LINK-5
    elif action == "monitor":
        world, result = _monitor(world, pid, args[0])
    elif action == "demonitor":
        ref, flush = args
        if isinstance(ref, Ref):
            world = signals.demonitor(world, pid, ref, flush)
            result = Atom("true")
        else:
            result = ("error", Atom("badarg"))
    elif action in ("link", "unlink"):
        other = args[0]
        if isinstance(other, LocalName):   # the collector looks the name up, then links to what it found
            other = whereis(world, other.name)
        world, result = (signals.link if action == "link" else signals.unlink)(world, pid, other)
    elif action in ACTIONS:
        # A library function the collector applies itself (a unique_registry name is taken or
        # dropped by the holder itself).
        world, result = ACTIONS[action](world, pid, *args)
        if isinstance(result, ErlangError):
            result = ("error", result.reason)
    else:  # pragma: no cover - the driver sends only the actions above
        raise ValueError(f"unknown control request {action!r}")
    return world.send(pid, DRIVER, Message((control.tag, result)))


def _monitor(world: World, pid: Pid, target: object):
    """`monitor(process, Target)`: a pid, or a local name resolved now (MON-3)."""
    if isinstance(target, Pid):
        return signals.monitor(world, pid, target, target)
    obj = (target, world.node)
    holder = whereis(world, target)
    if not isinstance(holder, Pid):
        return signals.monitor_free_name(world, pid, obj)
    return signals.monitor(world, pid, holder, obj)


register_kind("collector", Behaviour(loop=collector_loop, wants=collector_wants))
