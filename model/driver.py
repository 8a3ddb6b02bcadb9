"""The driver P0: the scenario's shell, whose actions are the model's commands.

Implements: SCN-1, SCN-2, SCN-8, SCN-11, PROC-3, PROC-4, PROC-5, SIG-4, GS-1, GS-3, GS-4, GS-6, GS-7

A command is a frozen record; `perform(world, command)` returns the new world
and either a `Result` (the action is done) or nothing, when the driver now
waits (`world.waiting`) for a reply, a DOWN or a timeout, which
`receive(world, signal)` and `timeout(world)` resolve.

Invariants:
- the driver traps exits; exit signals reaching it are dropped (SCN-1);
- while `world.waiting` is set the driver performs no command.

Results are terms or `Outcome`s: `Outcome("error", badarg)` for a BIF that
raised badarg, `Outcome("exit", Reason)` for a call that exited.
"""

from __future__ import annotations

import attrs

from regspec.common.protocol import GEN_CAST, call_message, reply_tag
from regspec.common.records import (DRIVER, AliveRequest, DemonitorRequest, Down, ExitSignal, Message, MonitorRequest,
                                    Signal, SystemStop, Wait)
from regspec.common.results import (CALLING_SELF, ErlangError, bif_result, link_parties, stop_result, stop_self,
                                    strip_call)
from regspec.terms import Atom, ErlList, LocalName, Outcome, Pid

from . import code, registry_local
from .world import Control, World

__all__ = [
    "Spawn", "Register", "Unregister", "Whereis", "Registered", "Send", "Call", "Cast", "Kill",
    "Stop", "Alive", "Ask", "RunCode", "Result", "perform", "receive", "timeout", "COMMANDS", "runs_code",
    "code_done",
]

TRUE = Atom("true")
OK = Atom("ok")
NOPROC = Atom("noproc")
BADARG = Outcome("error", Atom("badarg"))


@attrs.frozen
class Result:
    """Effect: the driver's current step is done with `value`."""

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
class Call:
    """`gen_server:call(To, Msg, Timeout)`.

    `exit_during`, when set, is the reason of an exit signal that reaches the
    server while the call is pending (right behind the request, as if another
    process killed it meanwhile): how the state machine kills a process
    inside a call.
    """

    to: object
    msg: object
    timeout: object = 5000
    exit_during: object = None


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
class Stop:
    """`gen_server:stop(Target, Reason, infinity)`."""

    target: object
    reason: object = Atom("normal")


@attrs.frozen
class Alive:
    """`is_process_alive(Target)`."""

    target: object


@attrs.frozen
class Ask:
    """A request the collector `target` performs itself (monitor, link, trap_exit, ...)."""

    target: object
    request: tuple


@attrs.frozen
class RunCode:
    """The driver runs OTP code `fn(*args)` (a generator of `code` effects) and waits for it to end.

    This is how the driver starts supervisors and registry servers, and
    uses global and via names: any of these may wait for other processes.
    An Erlang exception the code raises becomes the step's `{"error": R}`
    or `{"exit": R}`.
    """

    fn: object
    args: tuple = ()


COMMANDS = (Spawn, Register, Unregister, Whereis, Registered, Send, Call, Cast, Kill, Stop, Alive, Ask, RunCode)


def resolve(world: World, target: object) -> Pid | None:
    """A pid, or the holder of a local name; None for a free name or `undefined`."""
    if isinstance(target, Pid):
        return target
    if isinstance(target, LocalName):
        holder = registry_local.whereis(world, target.name)
        return holder if isinstance(holder, Pid) else None
    return None


def perform(world: World, cmd: object) -> tuple[World, tuple]:
    """The driver starts `cmd`; returns `(world, (Result(v),))` or `(world, ())` when it waits."""
    if world.waiting is not None:
        raise RuntimeError("the driver is blocked; run the scheduler first")
    # Before each step the driver drops whatever reached its mailbox (EXITs of its links, late replies).
    world = world.update(DRIVER, mailbox=())
    world, value = _COMMAND_FUNCS[type(cmd)](world, cmd)
    if value is _WAIT:
        return world, ()
    return world, (Result(value),)


_WAIT = object()


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


def _monitor_for_wait(world: World, pid: Pid) -> tuple[World, object]:
    world, ref = world.make_ref()
    driver = world.processes[DRIVER]
    world = world.update(DRIVER, monitors=driver.monitors.set(ref, pid))
    return world.send(DRIVER, pid, MonitorRequest(ref, pid)), ref


def _call(world: World, cmd: Call):
    pid = resolve(world, cmd.to)
    if pid is None:
        return world, Outcome("exit", NOPROC)  # GS-3: nothing to call
    if pid == DRIVER:
        return world, Outcome("exit", CALLING_SELF)  # GS-3: gen refuses to call the caller itself
    world, mref = _monitor_for_wait(world, pid)
    world = world.send(DRIVER, pid, Message(call_message(DRIVER, mref, cmd.msg)))
    if cmd.exit_during is not None:
        world = world.send(DRIVER, pid, ExitSignal(cmd.exit_during, link=False))
    deadline = world.time + cmd.timeout if isinstance(cmd.timeout, int) else None
    return attrs.evolve(world, waiting=Wait("call", mref, pid, timeout=cmd.timeout, deadline=deadline)), _WAIT


def _stop(world: World, cmd: Stop):
    pid = resolve(world, cmd.target)
    if pid is None:
        return world, Outcome("exit", NOPROC)  # GS-7
    if pid == DRIVER:
        return world, stop_self(pid, cmd.reason)
    world, mref = _monitor_for_wait(world, pid)
    world = world.send(DRIVER, pid, Message(SystemStop(cmd.reason)))
    return attrs.evolve(world, waiting=Wait("stop", mref, pid, reason=cmd.reason)), _WAIT


def _alive(world: World, cmd: Alive):
    pid = resolve(world, cmd.target)
    if pid is None:
        return world, Atom("false")
    if not any(s.sender == DRIVER and s.receiver == pid for s in world.in_flight):
        return world, Atom("true") if world.is_alive(pid) else Atom("false")
    # PROC-5: the answer comes after the target handled the driver's earlier signals.
    world, tag = world.make_ref()
    world = world.send(DRIVER, pid, AliveRequest(tag))
    return attrs.evolve(world, waiting=Wait("alive", tag, pid)), _WAIT


def _ask(world: World, cmd: Ask):
    if cmd.request[0] in ("link", "unlink"):
        caller, other = link_parties(cmd.target, cmd.request[1], lambda t: resolve(world, t),
                                     lambda p: getattr(world.processes.get(p), "kind", None) == "collector")
        cmd = Ask(caller, (cmd.request[0], other))
    pid = resolve(world, cmd.target)   # a local name: its holder now, as the beam driver resolves it
    refused = refusal(world, pid, cmd.request)
    if refused is not None:
        return world, refused
    # The driver monitors the collector while it waits, as gen:call does, so
    # a collector that dies first ends the wait instead of hanging it.
    world, tag = _monitor_for_wait(world, pid)
    world = world.send(DRIVER, pid, Message(Control(tag, cmd.request)))
    return attrs.evolve(world, waiting=Wait("control", tag, pid, request=cmd.request)), _WAIT


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


def _run_code(world: World, cmd: RunCode):
    world, done, value = code.start_code(world, DRIVER, code.Running(_api, (cmd.fn, cmd.args)))
    if done:
        return world, value
    return attrs.evolve(world, waiting=Wait("code", None, None)), _WAIT


def _api(fn, args):
    """Run `fn(*args)` as the driver: an Erlang exception becomes `{"error": R}` / `{"exit": R}`."""
    try:
        return (yield from fn(*args))
    except ErlangError as e:
        if e.cls == "exit":
            return Outcome("exit", strip_call(e.reason))
        return Outcome("error", e.reason)


def runs_code(world: World) -> bool:
    """Whether the driver is waiting inside `RunCode` (then it handles signals like any process)."""
    return world.waiting is not None and world.waiting.kind == "code"


def code_done(world: World, done: bool, value: object) -> tuple[World, tuple]:
    if not done:
        return world, ()
    return _done(world, value)


_COMMAND_FUNCS = {
    RunCode: _run_code,
    Spawn: _spawn, Register: _register, Unregister: _unregister, Whereis: _whereis,
    Registered: _registered, Send: _send, Call: _call, Cast: _cast, Kill: _kill, Stop: _stop,
    Alive: _alive, Ask: _ask,
}


# -- the waiting half --------------------------------------------------------

def receive(world: World, sig: Signal) -> tuple[World, tuple]:
    """A signal reaches the driver; returns a `Result` effect when it ends the wait."""
    payload = sig.payload
    wait = world.waiting
    if isinstance(payload, Down):
        driver = world.processes[DRIVER]
        if payload.ref not in driver.monitors:
            return world, ()
        world = world.update(DRIVER, monitors=driver.monitors.delete(payload.ref))
        if wait is not None and wait.tag == payload.ref:
            if wait.kind == "stop":
                return _done(world, stop_result(wait, payload.reason))
            if wait.kind == "control":
                return _done(world, dead_collector_answer(world, wait.target, wait.request))  # it died first
            # GS-3, GS-5: the callee is gone; the call exits with its reason.
            return _done(world, Outcome("exit", payload.reason))
        return world, ()
    if isinstance(payload, Message) and wait is not None and isinstance(payload.term, tuple) \
            and len(payload.term) == 2:
        tag, value = payload.term
        if wait.kind == "call" and tag == reply_tag(wait.tag):
            return _done(_demonitor(world, wait), value)
        if wait.kind in ("control", "alive") and tag == wait.tag:
            if isinstance(value, tuple) and len(value) == 2 and value[0] == "error":
                value = Outcome("error", value[1])
            if wait.kind == "control":
                world = _demonitor(world, wait)
            return _done(world, value)
    # SCN-1: exit signals and stray messages reaching the driver are dropped.
    return world, ()


def _demonitor(world: World, wait: Wait) -> World:
    driver = world.processes[DRIVER]
    world = world.update(DRIVER, monitors=driver.monitors.delete(wait.tag))
    return world.send(DRIVER, wait.target, DemonitorRequest(wait.tag))


def _done(world: World, value: object) -> tuple[World, tuple]:
    return attrs.evolve(world, waiting=None), (Result(value),)


def timeout(world: World) -> tuple[World, tuple]:
    """The driver's call times out (GS-4): exit timeout; a late reply is dropped."""
    wait = world.waiting
    world = attrs.evolve(world, time=max(world.time, wait.deadline if wait.deadline is not None else world.time))
    return _done(_demonitor(world, wait), Outcome("exit", Atom("timeout")))


def alive_answer(world: World, pid: Pid, req: AliveRequest, requester: Pid = DRIVER) -> World:
    """The target of an `AliveRequest` answers the requester (PROC-5)."""
    answer = Atom("true") if world.is_alive(pid) else Atom("false")
    return world.send(pid, requester, Message((req.tag, answer)))

