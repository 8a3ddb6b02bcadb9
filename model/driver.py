"""The driver P0: the scenario's shell, whose actions are the model's commands.

Implements: SCN-1, SCN-2, SCN-8, SCN-11, PROC-3, PROC-4, SIG-4, GS-6

A command is a frozen record, and `perform(world, command)` starts it. The
BIFs that never wait (spawn, register, whereis, send, cast, exit/2, ...)
are done at once: `perform` returns `(world, (Result(value),))`. Every step
that may wait is OTP code the driver runs, `RunCode(fn, args)`: P0 runs the
generator `fn(*args)` of `code` effects exactly as any process runs OTP
code (a call is gen:call's code, a stop proc_lib:stop's, an alive
`is_process_alive`'s; those are written by the OTP library,
`driver_names`). If the code returns at once, so does `perform`; if it
waits in a `Receive`, `perform` returns `(world, ())`, the scheduler runs
P0 like any other process (its signals, its code, its receive timeout) and
the step's `Result` is the output of the scheduler step in which the code
returns (`resume`).

Invariants:
- the driver traps exits; what reaches its mailbox between steps is
  dropped before the next one (SCN-1);
- while its code runs (`blocked(world)`) the driver performs no command.

Results are terms or `Outcome`s: `Outcome("error", badarg)` for a BIF that
raised badarg, `Outcome("exit", Reason)` for OTP code that exited.
"""

from __future__ import annotations

import attrs

from regspec.common.protocol import GEN_CAST
from regspec.common.records import DRIVER, ExitSignal, Message
from regspec.common.results import ErlangError, bif_result, strip_call
from regspec.terms import Atom, ErlList, LocalName, Outcome, Pid

from . import code, registry_local
from .world import World

__all__ = [
    "Spawn", "Register", "Unregister", "Whereis", "Registered", "Send", "Cast", "Kill", "RunCode", "Result",
    "perform", "resume", "blocked", "resolve", "refusal", "COMMANDS",
]

TRUE = Atom("true")
OK = Atom("ok")
NOPROC = Atom("noproc")
BADARG = Outcome("error", Atom("badarg"))


@attrs.frozen
class Result:
    """The one output of `step`: the driver's current step is done with `value`."""

    value: object


# -- commands ----------------------------------------------------------------

@attrs.frozen
class Spawn:
    """`spawn_link` (or `spawn`) of a collector."""

    trap_exit: bool = False
    link: bool = False
    mode: str = "eager"


@attrs.frozen
class Register:
    name: object
    target: object


@attrs.frozen
class Unregister:
    name: object


@attrs.frozen
class Whereis:
    name: object


@attrs.frozen
class Registered:
    pass


@attrs.frozen
class Send:
    """`To ! Msg`; `to` is a pid, a `LocalName` or `undefined`."""

    to: object
    msg: object


@attrs.frozen
class Cast:
    to: object
    msg: object


@attrs.frozen
class Kill:
    """`exit(Target, Reason)` from the driver."""

    target: object
    reason: object = Atom("kill")


@attrs.frozen
class RunCode:
    """The driver runs OTP code `fn(*args)` (a generator of `code` effects); the step's result is its value.

    This is every step that may wait for other processes: calls, stops,
    alive, the collector requests, starts, global and via names,
    supervisors. An Erlang exception the code raises becomes the step's
    `{"error": R}` or `{"exit": R}` (gen_server:call's wrapper dropped).
    """

    fn: object
    args: tuple = ()


COMMANDS = (Spawn, Register, Unregister, Whereis, Registered, Send, Cast, Kill, RunCode)


def resolve(world: World, target: object) -> Pid | None:
    """A pid, or the holder of a local name; None for a free name or `undefined`."""
    if isinstance(target, Pid):
        return target
    if isinstance(target, LocalName):
        holder = registry_local.whereis(world, target.name)
        return holder if isinstance(holder, Pid) else None
    return None


def blocked(world: World) -> bool:
    """Whether the driver is inside a step's code, waiting in a receive."""
    return world.processes[DRIVER].code is not None


def perform(world: World, cmd: object) -> tuple[World, tuple]:
    """The driver starts `cmd`; returns `(world, (Result(v),))`, or `(world, ())` when its code waits."""
    if blocked(world):
        raise RuntimeError("the driver is blocked; run the scheduler first")
    # Before each step the driver drops whatever reached its mailbox (EXITs of its links, late replies).
    if world.processes[DRIVER].mailbox:
        world = world.update(DRIVER, mailbox=())
    if isinstance(cmd, RunCode):
        world, done, value = code.start_code(world, DRIVER, code.Running(_api, (cmd.fn, cmd.args)))
        return world, ((Result(value),) if done else ())
    world, value = _COMMAND_FUNCS[type(cmd)](world, cmd)
    return world, (Result(value),)


def resume(world: World) -> tuple[World, tuple]:
    """The driver's code goes on (the scheduler picked P0); `(Result(v),)` when it returns."""
    if not blocked(world):
        return world, ()   # between steps: what reached it waits in its mailbox, dropped before the next step
    world, done, value = code.resume(world, DRIVER)
    return world, ((Result(value),) if done else ())


def _api(fn, args):
    """Run `fn(*args)` as the driver: an Erlang exception becomes `{"error": R}` / `{"exit": R}`."""
    try:
        return (yield from fn(*args))
    except ErlangError as e:
        if e.cls == "exit":
            return Outcome("exit", strip_call(e.reason))
        return Outcome("error", e.reason)


def _spawn(world: World, cmd: Spawn):
    world, pid = world.spawn("collector", trap_exit=cmd.trap_exit, mode=cmd.mode)
    if cmd.link:  # spawn_link is atomic: the link exists before the child runs
        world = _link_both(world, pid)
    return world, pid


def _link_both(world: World, pid: Pid) -> World:
    world = world.update(pid, links=world.processes[pid].links | {DRIVER})
    return world.update(DRIVER, links=world.processes[DRIVER].links | {pid})


def _register(world: World, cmd: Register):
    world, result = registry_local.register(world, cmd.name, cmd.target)
    return world, bif_result(result)


def _unregister(world: World, cmd: Unregister):
    world, result = registry_local.unregister(world, cmd.name)
    return world, bif_result(result)


def _whereis(world: World, cmd: Whereis):
    return world, registry_local.whereis(world, cmd.name)


def _registered(world: World, cmd: Registered):
    return world, registry_local.registered(world)


def _send(world: World, cmd: Send):
    pid = resolve(world, cmd.to)
    if pid is None:
        return world, BADARG  # PROC-4: `Name ! Msg` to a free name raises badarg
    # PROC-3: a dead pid takes the message silently; it is dropped on arrival.
    return world.send(DRIVER, pid, Message(cmd.msg)), OK


def _cast(world: World, cmd: Cast):
    pid = resolve(world, cmd.to)
    if pid is not None:  # GS-6: cast is ok whatever the destination
        world = world.send(DRIVER, pid, Message((GEN_CAST, cmd.msg)))
    return world, OK


def _kill(world: World, cmd: Kill):
    pid = resolve(world, cmd.target)
    if pid is None:
        return world, BADARG
    # SIG-4: exit/2 only sends the signal; the target handles it later.
    return world.send(DRIVER, pid, ExitSignal(cmd.reason, link=False)), TRUE


_COMMAND_FUNCS = {
    Spawn: _spawn, Register: _register, Unregister: _unregister, Whereis: _whereis, Registered: _registered,
    Send: _send, Cast: _cast, Kill: _kill,
}


def refusal(world: World, pid: object, request: tuple) -> object:
    """What a collector request answers when no live collector takes it, or None when one does:
    a live process that is no collector answers not_a_collector (SCN-11), anything else as gone."""
    proc = world.processes.get(pid) if isinstance(pid, Pid) else None
    if proc is not None and proc.alive:
        return None if proc.kind == "collector" else Outcome("error", Atom("not_a_collector"))
    return dead_collector_answer(world, pid, request)


def dead_collector_answer(world: World, pid: object, request: tuple) -> object:
    """What a request to a collector that is gone answers (SCN-8): noproc, except
    `messages` of an eager collector, which stay readable after it died."""
    proc = world.processes.get(pid) if isinstance(pid, Pid) else None
    if request[0] == "messages" and proc is not None and proc.kind == "collector" and proc.mode == "eager":
        return ErlList(proc.kept)
    return Outcome("error", NOPROC)  # a dead, unbound or never created collector
