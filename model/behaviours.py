"""The scenario process kinds: `collector` and `chat_room` (docs/scenario-format.md, Kinds).

Implements: SCN-4, SCN-5, SCN-10, LINK-5

- A collector keeps what it receives. In "eager" mode it takes every message
  out of its mailbox at once; in "mailbox" mode it leaves scenario messages
  in the mailbox, which matters for `demonitor(Ref, [flush])` (MON-5). It
  performs the driver's control requests (monitor, demonitor, link, unlink,
  trap_exit, messages) itself, as the caller of those BIFs, and answers the
  driver with a message.
- A chat room is the article's `Chat.Server` gen_server: cast
  `{add_message, M}` prepends, call `get_messages` returns the list newest
  first, any other call or cast stops it with `{bad_call, R}` /
  `{bad_cast, R}`, and any other message is ignored. Its callbacks
  (`ChatRoom`) are pure and shared with the runtime
  (`regspec.common.chat_room`); the gen_server loop that runs them is the
  model's own (`gen_server.handle`).
"""

from __future__ import annotations

from regspec.common.chat_room import ChatRoom
from regspec.common.records import DRIVER, Message, SystemStop
from regspec.common.results import ErlangError
from regspec.terms import Atom, ErlList, LocalName, Pid, Ref

from . import gen_server, signals
from .registry_local import whereis
from .world import Control, World

__all__ = ["consume", "has_work"]

NOPROC = Atom("noproc")


def _handlers():
    from . import dynamic_supervisor, registry_global, registry_via, supervisor
    return {
        "supervisor": supervisor.handle,
        "dynamic_supervisor": dynamic_supervisor.handle,
        "registry_server": registry_via.handle_map_registry,
        "registry_partition": registry_via.handle_partition,
        "global_name_server": registry_global.handle_global_server,
    }


def consume(world: World, pid: Pid) -> World:
    """The process's code runs: it takes every message it can from its mailbox, in order.

    This is what a process does once the scheduler picks it, after its
    pending signals were handled (see scheduler.run). A process inside
    blocking code (`code.Running`: an init, a supervisor restarting a child)
    goes on with it first; its main loop resumes only when that code ends.
    """
    from . import code
    proc = world.processes[pid]
    if proc.code is not None:
        world, done, value = code.resume(world, pid)
        if not done or not world.is_alive(pid):
            return world
        world = world.update(pid, state=value)
        proc = world.processes[pid]
    handler = _handlers().get(proc.kind)
    if handler is not None:
        while world.is_alive(pid) and world.processes[pid].mailbox:
            proc = world.processes[pid]
            world = world.update(pid, mailbox=proc.mailbox[1:])
            world, done, value = code.start_code(world, pid, code.Running(handler, (pid, proc.state, proc.mailbox[0])))
            if not done:
                return world
            if world.is_alive(pid):
                world = world.update(pid, state=value)
        return world
    if proc.kind == "chat_room":
        while world.is_alive(pid) and world.processes[pid].mailbox:
            proc = world.processes[pid]
            term, rest = proc.mailbox[0], proc.mailbox[1:]
            world = world.update(pid, mailbox=rest)
            if isinstance(term, SystemStop):
                # GS-7: gen_server handles sys:terminate in its loop, in order with other messages.
                world = signals.exit_process(world, pid, term.reason)
            elif not isinstance(term, Control):
                world = gen_server.handle(world, pid, term, ChatRoom)
        return world
    if proc.kind != "collector":
        return world
    if proc.mode == "eager":
        # SCN-4: an eager collector takes every message; control requests it performs.
        while world.is_alive(pid) and world.processes[pid].mailbox:
            proc = world.processes[pid]
            term, rest = proc.mailbox[0], proc.mailbox[1:]
            world = world.update(pid, mailbox=rest)
            if isinstance(term, Control):
                world = _control(world, pid, term)
            elif isinstance(term, SystemStop):
                world = signals.exit_process(world, pid, term.reason)   # SCN-10: it exits itself
            else:
                world = world.update(pid, kept=world.processes[pid].kept + (term,))
        return world
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


def has_work(proc) -> bool:
    """Whether the process's code could take a message now."""
    if not proc.alive or not proc.mailbox:
        return False
    if proc.code is not None or proc.kind in _handlers():
        return True
    if proc.kind == "collector" and proc.mode == "mailbox":
        return any(isinstance(t, (Control, SystemStop)) for t in proc.mailbox)
    return proc.kind in ("collector", "chat_room")


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
    elif action in ("register", "unregister"):
        # A unique_registry name is taken or dropped by the holder itself.
        from . import registry_via
        fn = registry_via.unique_register if action == "register" else registry_via.unique_unregister
        world, result = fn(world, pid, *((args[0].name, pid) if action == "register" else (args[0].name,)))
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
