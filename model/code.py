"""Process code that blocks: OTP code written as generators, kept as replayable data.

Implements: SCN-2, PROC-5

Supervisors, registry servers and the start protocol of `gen` wait for
particular messages in the middle of their work (an init ack, a DOWN, a
call's reply), as OTP code does with a selective `receive`. Such code is
written here as a Python generator that yields *effects*: an effect record
(`Send`, `SpawnLink`, `Monitor`, ...) is performed on the world and its
result sent back into the generator; a `Receive` takes the first matching
message from the process's mailbox, or blocks the process until one comes.

A generator is not data, so a blocked process keeps a `Running` record
instead: the function, its arguments and the log of every value the
generator has received so far. Resuming replays the generator from the
start, feeding it the log without performing anything, and goes on live
from there. The generator must depend only on its arguments and what it
received, so a replay always reaches the same point; the world stays a
frozen, hashable value, and any run can be repeated.

Replaying is only needed when a world is resumed a second time (a run
repeated from an earlier world). A blocked `Running` also carries the
suspended generator itself (`Suspended`), outside its value (neither equality
nor hash sees it): the first resume of that record takes it and goes on
from where the code waits, any later one finds it taken and replays.

An Erlang exception inside the code is an `ErlangError` (shared with the
runtime: `regspec.common.results`): a generator may catch it (OTP's
`catch`); one that escapes kills the process with its reason, as an
uncaught exit does. The receive patterns are `regspec.common.protocol`'s.

>>> from regspec.model.world import new_world
>>> def hello(to):
...     yield Send(to, Atom("hello"))
...     msg = yield Receive(Anything())
...     return msg
>>> w = new_world()
>>> w, done, value = start_code(w, DRIVER, Running(hello, (DRIVER,)))
>>> done, w.processes[DRIVER].code.log
(False, (ok,))
"""

from __future__ import annotations

from typing import Callable

import attrs

from regspec.common.protocol import TagOf
from regspec.common.records import DRIVER, AliveRequest, ExitSignal, Init, Message
from regspec.common.results import ErlangError, exit_reason
from regspec.terms import Atom, Pid, Ref

from . import signals
from .world import World, replace_world

__all__ = [
    "Running", "Receive", "Anything", "Send", "SpawnLink", "Link", "Unlink", "Monitor", "Demonitor",
    "ExitTo", "Die", "TrapExit", "Now", "Self", "Atomic", "Compute", "TIMEOUT", "start_code", "resume", "fire_timeout",
    "finish_work", "Suspended",
]

TIMEOUT = Atom("$timeout")
OK = Atom("ok")
TRUE = Atom("true")


@attrs.frozen(cache_hash=True)
class Running:
    """Code a process is in the middle of: `fn(*args)` and the values it has received.

    `deadline` is the logical time at which the pending `Receive` times out;
    `busy` is true while the code computes (a pending `Compute`). `suspended`
    is no part of the value: the generator at the point the log leads to, for
    the first resume to take (`Suspended`).
    """

    fn: Callable
    args: tuple = ()
    log: tuple = ()
    deadline: object = None
    busy: bool = False
    suspended: object = attrs.field(default=None, eq=False, repr=False)


class Suspended:
    """The generator of a `Running`, suspended at `effect` after taking its whole log; taken once.

    A cache beside the world's value: a copy or a pickle of a world gets an
    empty one (its resume replays), and so does every resume after the first.
    """

    __slots__ = ("gen", "effect")

    def __init__(self, gen, effect):
        self.gen, self.effect = gen, effect

    def take(self):
        """`(gen, effect)`, or None if an earlier resume took them."""
        gen, effect = self.gen, self.effect
        if gen is None:
            return None
        self.gen = self.effect = None
        return gen, effect

    def __reduce__(self):
        return Suspended, (None, None)

    def __copy__(self):
        return Suspended(None, None)

    def __deepcopy__(self, memo):
        return Suspended(None, None)


# -- effects -----------------------------------------------------------------

@attrs.frozen
class Receive:
    """Take the first message `pattern` matches; `timeout` (ms) or `deadline` bound the wait.

    After the wait the generator receives `TIMEOUT`.
    """

    pattern: object
    timeout: object = None     # int ms, or None for infinity
    deadline: object = None    # absolute logical ms (an erlang:start_timer)


@attrs.frozen
class Compute:
    """Be busy for about `n` loop steps in the process's own code, calling nothing (SCN-5).

    The model has no reductions: n > 0 is a process that computes longer
    than anything else takes, so it goes on only once nothing else can run
    (`finish_work`, chosen before any timeout). Meanwhile its signals are
    handled as for any process (a kill stops it inside the loop); its
    messages wait in the mailbox. n = 0 computes nothing.
    """

    n: int


@attrs.frozen
class Anything:
    def matches(self, term: object) -> bool:
        return True


@attrs.frozen
class Send:
    to: object
    term: object

    def perform(self, world: World, pid: Pid):
        if isinstance(self.to, Pid):
            world = world.send(pid, self.to, Message(self.term))
        return world, OK


@attrs.frozen
class SpawnLink:
    """`spawn_link` of a process of `kind` whose first code is `fn(*args)` (the new pid is prepended)."""

    kind: str
    fn: Callable
    args: tuple = ()
    fields: tuple = ()   # extra Process fields as (name, value) pairs

    def perform(self, world: World, pid: Pid):
        world, child = world.spawn(self.kind, **dict(self.fields))
        world = world.update(child, code=Running(self.fn, (child,) + self.args),
                             links=frozenset({pid}))
        world = world.update(pid, links=world.processes[pid].links | {child})
        # A new process joins the run queue at once, behind everything queued before it.
        return world.send(pid, child, Init()), child


@attrs.frozen
class Link:
    other: object

    def perform(self, world: World, pid: Pid):
        world, result = signals.link(world, pid, self.other)
        if isinstance(result, tuple):
            raise ErlangError("error", result[1])
        return world, result


@attrs.frozen
class Unlink:
    other: object

    def perform(self, world: World, pid: Pid):
        return signals.unlink(world, pid, self.other)


@attrs.frozen
class Monitor:
    target: object

    def perform(self, world: World, pid: Pid):
        return signals.monitor(world, pid, self.target, self.target)


@attrs.frozen
class Demonitor:
    ref: Ref
    flush: bool = False

    def perform(self, world: World, pid: Pid):
        return signals.demonitor(world, pid, self.ref, self.flush), TRUE


@attrs.frozen
class ExitTo:
    """`exit(Target, Reason)`."""

    target: object
    reason: object

    def perform(self, world: World, pid: Pid):
        if not isinstance(self.target, Pid):
            raise ErlangError("error", Atom("badarg"))
        return world.send(pid, self.target, ExitSignal(self.reason, link=False)), TRUE


@attrs.frozen
class Die:
    """The process exits with `reason` (`exit(Reason)` of its own)."""

    reason: object


@attrs.frozen
class TrapExit:
    value: bool

    def perform(self, world: World, pid: Pid):
        old = world.processes[pid].trap_exit
        return world.update(pid, trap_exit=self.value), Atom("true" if old else "false")


@attrs.frozen
class Now:
    """The logical time in ms (the model's `erlang:monotonic_time`)."""

    def perform(self, world: World, pid: Pid):
        return world, world.time


@attrs.frozen
class Self:
    def perform(self, world: World, pid: Pid):
        return world, pid


@attrs.frozen
class Atomic:
    """Any action done in one go by the running process: `fn(world, pid, *args) -> (world, result)`.

    A result that is an `ErlangError` is raised inside the code.
    """

    fn: Callable
    args: tuple = ()

    def perform(self, world: World, pid: Pid):
        world, result = self.fn(world, pid, *self.args)
        if isinstance(result, ErlangError):
            raise result
        return world, result


# -- running code ------------------------------------------------------------

def start_code(world: World, pid: Pid, running: Running) -> tuple[World, bool, object]:
    """Install `running` as `pid`'s code and run it as far as it goes.

    The record is written into the process only if the code waits: code that
    runs to its end in one go leaves the process's `code` as it found it (None),
    as installing and clearing it would.
    """
    return _run(world, pid, running)


def resume(world: World, pid: Pid) -> tuple[World, bool, object]:
    """Run `pid`'s code until it blocks, ends or the process dies.

    Returns `(world, done, value)`: `done` is True when the code returned
    `value` (and `code` is cleared) or the process died; False when it waits
    in a `Receive` with nothing matching.
    """
    return _run(world, pid, world.processes[pid].code)


def _run(world: World, pid: Pid, running: Running) -> tuple[World, bool, object]:
    log = list(running.log)
    deadline = running.deadline
    taken = running.suspended.take() if running.suspended is not None else None
    try:
        if taken is not None:
            gen, effect = taken            # the generator where this record's log left it
        else:
            gen = running.fn(*running.args)
            effect = gen.send(None)
            for value in running.log:      # replay: nothing is performed again
                effect = _feed(gen, value)
        while True:
            kind = effect.__class__   # the effects that are no `perform` first, by their exact type
            if kind is Die:
                gen.close()
                return _die(world, pid, effect.reason), True, None
            if kind is Receive:
                mailbox = world.processes[pid].mailbox
                matches = effect.pattern.matches
                i = None
                for j, t in enumerate(mailbox):
                    if matches(t):
                        i = j
                        break
                if i is None:
                    if deadline is None:
                        deadline = _deadline(world, effect)
                    if deadline is None or deadline > world.time:
                        waiting = Running(running.fn, running.args, tuple(log), deadline, running.busy,
                                          Suspended(gen, effect))
                        return world.update(pid, code=waiting), False, None
                    value = TIMEOUT
                else:
                    value = mailbox[i]
                    world = world.update(pid, mailbox=mailbox[:i] + mailbox[i + 1:])
                deadline = None
            elif kind is Compute:
                if effect.n > 0:   # computing: it goes on at finish_work
                    world = world.update(pid, code=Running(running.fn, running.args, tuple(log), None, True))
                    return world, False, None
                value = OK
            else:
                try:
                    world, value = effect.perform(world, pid)
                except ErlangError as e:
                    log.append(Raised(e.cls, e.reason))
                    effect = gen.throw(e)
                    continue
            log.append(value)
            effect = gen.send(value)
    except StopIteration as stop:
        return _clear_code(world, pid), True, stop.value
    except ErlangError as e:
        # An exception the code did not catch: the process exits with it.
        return _die(world, pid, exit_reason(e)), True, None


def _clear_code(world: World, pid: Pid) -> World:
    """`pid` is out of its code (None also when it never had to be written, `start_code`)."""
    return world if world.processes[pid].code is None else world.update(pid, code=None)


@attrs.frozen
class Raised:
    """In a log: the effect raised this Erlang exception instead of returning."""

    cls: str
    reason: object


def _feed(gen, value):
    if isinstance(value, Raised):
        return gen.throw(ErlangError(value.cls, value.reason))
    return gen.send(value)


def _deadline(world: World, effect: Receive):
    if effect.deadline is not None:
        return effect.deadline
    if effect.timeout is not None:
        return world.time + effect.timeout
    return None


def _die(world: World, pid: Pid, reason: object) -> World:
    return signals.exit_process(_clear_code(world, pid), pid, reason)


def fire_timeout(world: World, pid: Pid) -> World:
    """The pending `Receive` of `pid` times out: logical time jumps to its deadline.

    The receive takes `TIMEOUT` when the process's code next resumes.
    """
    running: Running = world.processes[pid].code
    return replace_world(world, time=max(world.time, running.deadline))


def finish_work(world: World, pid: Pid) -> World:
    """The pending `Compute` of `pid` is done: its code takes `ok` when it next resumes."""
    running: Running = world.processes[pid].code
    return world.update(pid, code=Running(running.fn, running.args, running.log + (OK,), running.deadline))


def is_process_alive(pid: object):
    """`is_process_alive(Pid)` (PROC-5): it answers only after `pid` has handled this process's earlier signals."""
    pending = yield Atomic(_pending_to, (pid,))
    if not pending:
        return (yield Atomic(_alive_now, (pid,)))
    tag = yield Atomic(_ask_alive, (pid,))
    msg = yield Receive(TagOf(tag))
    return msg[1]


def _pending_to(world: World, me: Pid, pid: object):
    return world, any(s.sender == me and s.receiver == pid for s in world.in_flight)


def _alive_now(world: World, me: Pid, pid: object):
    return world, Atom("true") if world.is_alive(pid) else Atom("false")


def _ask_alive(world: World, me: Pid, pid: Pid):
    world, tag = world.make_ref()
    return world.send(me, pid, AliveRequest(tag)), tag


__all__ += ["is_process_alive"]
