"""The scheduler: which process runs next, and who chooses.

Implements: PROC-2, SCN-1, SCN-2, SCN-12, MON-6

A process runs in slices, as on one BEAM scheduler: when picked, it first
handles every signal waiting for it, in arrival order (exit, link and
monitor signals act at once; messages go to the end of its mailbox), then
its code takes every message it can; it repeats while its own actions sent
it more, and then blocks. Signals from one sender to one receiver keep
their order because arrival order is send order (PROC-2).

`enabled(world)` lists every choice in a fixed order: `Run(pid)` for each
process with signals waiting, ordered by the arrival of its oldest waiting
signal (the order in which processes joined the run queue); then, only
when nothing can run, the end of a process's computing (`FinishWork`,
lowest pid first), and only when nothing computes, the earliest pending
receive timeout (`FireReceiveTimeout`). A `Chooser` picks one; `step(world, choice)`
applies it. A run is fully described by its commands and its choices, so
it replays.

The driver P0 is scheduled like any process: a step that waits is code it
runs (`driver.RunCode`), blocked in a `Receive` until a signal it takes
arrives or its timeout fires. The one thing special about P0 is that its
code ending is an output: the step's `driver.Result`.

The canonical chooser always takes the first choice: the run-queue order
of a single scheduler on one node.

>>> from regspec.model.world import new_world
>>> from regspec.model.driver import Spawn, Send
>>> from regspec.terms import Atom, Pid
>>> w, _ = step(new_world(), Spawn())
>>> w, _ = step(w, Send(Pid(1), Atom("hello")))
>>> enabled(w)
(Run(pid=P1),)
>>> w, _ = run_until_quiescent(w)
>>> w.process(Pid(1)).kept
(hello,)
"""

from __future__ import annotations

import random
from typing import Callable, Protocol

import attrs

from regspec.common.records import (DRIVER, AliveRequest, DemonitorRequest, Down, ExitSignal, Init, LinkRequest,
                                    Message, MonitorRequest, Signal, UnlinkRequest)
from regspec.terms import Atom, Pid

from . import behaviours, code, driver, signals
from .world import World, replace_world

__all__ = ["Run", "FinishWork", "FireReceiveTimeout", "enabled", "step", "Chooser", "CanonicalChooser", "SeededChooser",
           "FunctionChooser", "run_until_quiescent", "run_until_result", "Stuck"]

KILL = Atom("kill")


@attrs.frozen
class Run:
    """Choice: `pid` runs one slice."""

    pid: Pid


class Stuck(Exception):
    """The driver's code waits for something that can never come (a call with timeout infinity):
    the step prints {"exit": "deadlock"} (SCN-12)."""


@attrs.frozen
class FinishWork:
    """Choice: `pid`, computing (`code.Compute`), is done and its code goes on (SCN-5)."""

    pid: Pid


@attrs.frozen
class FireReceiveTimeout:
    """Choice: the pending `receive ... after` of `pid` times out (a call's timeout, a supervisor's shutdown wait)."""

    pid: Pid


def enabled(world: World) -> tuple:
    """Every choice available now, in canonical order.

    Timeouts come only when nothing can run, and then only the earliest one
    (the lowest pid first among equal deadlines): logical time jumps to it.
    """
    in_flight = world.in_flight
    if in_flight:
        seen: set = set()
        choices = []
        for sig in in_flight:  # ordered by arrival
            key = _key(sig.receiver)
            if key not in seen:
                seen.add(key)
                choices.append(Run(sig.receiver))
        return tuple(choices)
    # A computing process outlasts everything else: it goes on once nothing else can run,
    # the lowest pid first, before any timeout (a BEAM process is preempted every 4000 reductions).
    # The process table keeps both indexes (`tables.ProcessTable`): no walk over the world.
    busy = world.processes.first_busy()
    if busy is not None:
        return (FinishWork(busy),)
    timer = world.processes.first_timer()
    if timer is not None:
        return (FireReceiveTimeout(timer[1]),)
    return ()


def step(world: World, event: object) -> tuple[World, tuple]:
    """The model's one transition: `(world, outputs)` after `event`.

    `event` is a scheduler choice from `enabled(world)` (`Run(pid)`,
    `FireReceiveTimeout(pid)`) or a driver command (`driver.COMMANDS`: a
    BIF done at once, or `driver.RunCode`), which the driver takes only
    between steps (not while `driver.blocked(world)`).

    `outputs` is a tuple of `driver.Result` records, at most one: the
    scenario step the driver is performing is done, with that result. A
    command whose result is known at once has it in its own `outputs`; one
    whose code waits has `()`, and the result is the output of the later
    `Run(DRIVER)` or `FireReceiveTimeout(DRIVER)` in which the code returns.
    Every other event has `()`.
    """
    if isinstance(event, Run):
        return run(world, event.pid)
    if isinstance(event, FireReceiveTimeout):
        return resume(code.fire_timeout(world, event.pid), event.pid)
    if isinstance(event, FinishWork):
        return resume(code.finish_work(world, event.pid), event.pid)
    if isinstance(event, driver.COMMANDS):
        return driver.perform(world, event)
    raise TypeError(f"not an event: {event!r}")


def run(world: World, pid: Pid) -> tuple[World, tuple]:
    """One slice of `pid`: handle every signal waiting for it, then let its code run; repeat.

    All signals already in its queue are handled first, in arrival order:
    exit, link and monitor signals act at once, messages go to the end of
    the mailbox. Only then does its code take messages. This is how erts
    handles a process's signal queue before it resumes in `receive`: an exit
    signal that arrived after a message can kill the process before its code
    ever sees that message.
    """
    effects: tuple = ()
    key = _key(pid)
    while True:
        mine, rest = [], []
        for s in world.in_flight:
            receiver = s.receiver
            (mine if (receiver.n if type(receiver) is Pid else receiver) == key else rest).append(s)
        if not mine:
            return world, effects
        world = replace_world(world, in_flight=tuple(rest))
        for sig in mine:
            world = deliver(world, sig)
        if world.is_alive(pid):
            world, more = resume(world, pid)
            effects += more


def _key(receiver: object) -> object:
    """What tells receivers apart: a pid's number (an int compares and hashes in C, a `Pid` in Python)."""
    return receiver.n if type(receiver) is Pid else receiver


def resume(world: World, pid: Pid) -> tuple[World, tuple]:
    """`pid`'s code runs: the driver's step goes on (ending it is an output), any other process consumes."""
    if pid == DRIVER:
        return driver.resume(world)
    return behaviours.consume(world, pid), ()


def deliver(world: World, sig: Signal) -> World:
    """The receiver handles one signal (its code does not run here)."""
    pid, payload = sig.receiver, sig.payload
    kind = type(payload)
    if kind is Init:
        return world  # the new process's code is already in place; this only queued it
    if kind is AliveRequest:
        return signals.answer_alive(world, pid, sig.sender, payload)
    proc = world.processes.get(pid)
    if proc is None or not proc.alive:
        return signals.answer_dead(world, pid, sig.sender, payload)
    handle = _HANDLERS.get(kind)
    if handle is None:
        raise TypeError(f"unknown signal payload {payload!r}")
    return handle(world, pid, sig.sender, payload)


def _exit_signal(world: World, pid: Pid, sender: Pid, payload: ExitSignal) -> World:
    if pid == DRIVER and payload.reason == KILL and not payload.link:
        return world   # SCN-1: the shell outlives every step; an exit(P0, kill) is dropped
    return signals.receive_exit(world, pid, sender, payload.reason, payload.link)


# What a live receiver does with each kind of signal (`deliver`: one lookup instead of a chain of tests).
_HANDLERS = {
    Message: lambda world, pid, sender, payload: signals.deliver_message(world, pid, payload.term),
    ExitSignal: _exit_signal,
    LinkRequest: lambda world, pid, sender, payload: signals.receive_link(world, pid, sender),
    UnlinkRequest: lambda world, pid, sender, payload: signals.receive_unlink(world, pid, sender),
    MonitorRequest: lambda world, pid, sender, payload: signals.receive_monitor(world, pid, sender, payload.ref,
                                                                                payload.object),
    DemonitorRequest: lambda world, pid, sender, payload: signals.receive_demonitor(world, pid, payload.ref),
    Down: lambda world, pid, sender, payload: signals.receive_down(world, pid, payload)[0],
}


class Chooser(Protocol):
    def choose(self, world: World, choices: tuple) -> int:
        """The index of the choice to take; `choices` is never empty."""


class CanonicalChooser:
    """Always the first choice: the run-queue order of one BEAM scheduler."""

    def choose(self, world: World, choices: tuple) -> int:
        return 0


class SeededChooser:
    """A reproducible random choice from a seed."""

    def __init__(self, seed: int):
        self._random = random.Random(seed)

    def choose(self, world: World, choices: tuple) -> int:
        return self._random.randrange(len(choices))


class FunctionChooser:
    """Choices from a function `(n) -> index`, e.g. one drawing from Hypothesis data."""

    def __init__(self, fn: Callable[[int], int]):
        self._fn = fn

    def choose(self, world: World, choices: tuple) -> int:
        return self._fn(len(choices))


def _choose(world: World, chooser: Chooser) -> object:
    """The choice `chooser` takes among `enabled(world)`, or None when there is none."""
    if type(chooser) is CanonicalChooser and world.in_flight:
        # The first choice, without listing the others: the process of the oldest signal in flight.
        return Run(world.in_flight[0].receiver)
    choices = enabled(world)
    return choices[chooser.choose(world, choices)] if choices else None


def run_until_quiescent(world: World, chooser: Chooser | None = None, limit: int = 100_000) -> tuple[World, tuple]:
    """Take choices until none is left (SCN-2); returns the world and all effects."""
    chooser = chooser or CanonicalChooser()
    effects: tuple = ()
    for _ in range(limit):
        choice = _choose(world, chooser)
        if choice is None:
            return world, effects
        world, more = step(world, choice)
        effects += more
    raise RuntimeError(f"no quiescence after {limit} steps")


def run_until_result(world: World, chooser: Chooser | None = None, limit: int = 100_000) -> tuple[World, object]:
    """Take choices until the blocked driver's code returns; raises `Stuck` if nothing can happen first."""
    chooser = chooser or CanonicalChooser()
    for _ in range(limit):
        if not driver.blocked(world):
            raise RuntimeError("the driver is not waiting")
        choice = _choose(world, chooser)
        if choice is None:
            raise Stuck(f"the driver waits forever (in {world.processes[DRIVER].code.args[0].__name__})")
        world, effects = step(world, choice)
        for e in effects:
            if isinstance(e, driver.Result):
                return world, e.value
    raise RuntimeError(f"no result after {limit} steps")
