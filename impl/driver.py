"""The driver P0: the scenario's shell, run by the thread that owns the runtime.

Implements: SCN-1, SCN-2, PROC-3, PROC-4, SIG-4, GS-1, GS-6

P0 does a step in one of two ways:

- an action that never waits (spawn, register, whereis, send, cast, kill...)
  is a BIF: atomic (it holds the runtime lock) and done with the gate
  closed, so no process moves meanwhile;
- everything that waits (call, stop, alive, the collectors' control
  requests, starts, supervisors, global and via names) is OTP code that P0
  runs like any process (`run_code`, the one way the driver blocks; the
  code is the library's, `driver_names`). A receive there opens the gate
  and schedules the other processes until a matching message is in P0's
  mailbox, a timeout fires once nothing else can happen, or the system is
  stuck.

Invariants:
- P0 traps exits and no exit signal kills it (SCN-1, the runtime handles
  its signals); its mailbox is cleared before each step, so what reaches it
  between its receives (EXITs of its links, late replies) is dropped;
- while the driver waits it performs no other action.

Results are terms or `Outcome`s: `Outcome("error", badarg)` for a BIF that
raised badarg, `Outcome("exit", Reason)` for code that exited.

Thread safety: use a driver only from its runtime's thread. A pid a method
returns may already be dead.
"""

from __future__ import annotations

from functools import partial

from regspec.common.protocol import GEN_CAST
from regspec.common.records import ExitSignal
from regspec.common.results import ErlangError, bif_result, strip_call
from regspec.terms import Atom, LocalName, Outcome, Pid

from .collector import body_for
from .mailbox import ANY
from .process import TIMEOUT, Context
from . import signals
from .signals import MESSAGE
from .runtime import CLOSED, DONE, DRIVER, TIMER, Runtime

__all__ = ["Driver", "DriverContext"]

TRUE = Atom("true")
OK = Atom("ok")
BADARG = Outcome("error", Atom("badarg"))


class Driver:
    """The driver P0 of one runtime."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.proc = rt.process(DRIVER)
        self._ctx = DriverContext(rt, self.proc)   # a context holds nothing else: one serves every step

    def clear_mailbox(self) -> None:
        """Before each step the driver drops whatever reached its mailbox (EXITs of its links, late replies)."""
        self.proc.mailbox.remove(ANY)

    def run_code(self, fn, *args) -> object:
        """Run OTP code `fn(ctx, *args)` as P0 and return what it returns.

        This is how the driver does every step that waits: the code may
        wait for other processes, and while it does P0 handles its signals
        like any process. An Erlang exception it raises is the step's
        `{"error": R}` or `{"exit": R}` (a failed call's `{R, {gen_server,
        call, Args}}` prints as R).
        """
        try:
            return fn(self._ctx, *args)
        except ErlangError as e:
            if e.cls == "exit":
                return Outcome("exit", strip_call(e.reason))
            return Outcome("error", e.reason)
        except _Deadlock:
            return Outcome("exit", Atom("deadlock"))

    def resolve(self, target: object) -> Pid | None:
        """A pid, or the holder of a local name; None for a free name or `undefined`."""
        if isinstance(target, Pid):
            return target
        if isinstance(target, LocalName):
            holder = self.rt.names.whereis(target.name)
            return holder if isinstance(holder, Pid) else None
        return None

    # -- actions that answer at once --------------------------------------------
    def spawn(self, trap_exit: bool = False, link: bool = False, mode: str = "eager") -> Pid:
        """`spawn_link` (or `spawn`) of a collector."""
        return self.rt.spawn("collector", body_for("collector", mode), trap_exit=trap_exit, link=link)

    def start(self, kind: str, name: Atom | None = None, link: bool = True, trap_exit: bool = False,
              mode: str = "eager", body=None) -> Outcome:
        """`gen_server:start_link` of a kind (or of `body`), optionally with a local name."""
        with self.rt.atomic:
            if name is not None:
                holder = self.rt.names.whereis(name)
                if isinstance(holder, Pid):
                    # GS-1: gen checks the name before spawning; no process, no pid number.
                    return Outcome("error", (Atom("already_started"), holder))
            # GS-2: the server is registered before its init runs.
            pid = self.rt.spawn(kind, body or body_for(kind, mode), trap_exit=trap_exit, link=link, name=name)
        return Outcome("ok", pid)

    def register(self, name: object, target: object) -> object:
        with self.rt.atomic:
            return bif_result(self.rt.names.register(name, target, alive=self.rt.is_alive(target)))

    def unregister(self, name: object) -> object:
        with self.rt.atomic:
            return bif_result(self.rt.names.unregister(name))

    def whereis(self, name: object) -> object:
        return self.rt.names.whereis(name)

    def registered(self) -> object:
        return self.rt.names.registered()

    def send(self, to: object, msg: object) -> object:
        with self.rt.atomic:
            pid = self.resolve(to)
            if pid is None:
                return BADARG  # PROC-4: `Name ! Msg` to a free name raises badarg
            # PROC-3: a dead pid takes the message silently; it is dropped on arrival.
            self.rt.send(DRIVER, pid, MESSAGE, msg)
            return OK

    def cast(self, to: object, msg: object) -> object:
        with self.rt.atomic:
            pid = to if to.__class__ is Pid else self.resolve(to)
            if pid is not None:  # GS-6: cast is ok whatever the destination
                self.rt.send(DRIVER, pid, MESSAGE, (GEN_CAST, msg))
            return OK

    def kill(self, target: object, reason: object = Atom("kill")) -> object:
        """`exit(Target, Reason)`; returns before the target handles it (SIG-4)."""
        with self.rt.atomic:
            pid = self.resolve(target)
            if pid is None:
                return BADARG
            self.rt.send(DRIVER, pid, ExitSignal(reason, link=False))
            return TRUE


class _Deadlock(Exception):
    """The driver's code waits for a message that can never come (the model's Stuck)."""


class DriverContext(Context):
    """The driver's own `Context` while it runs code: a receive schedules the system until a match arrives."""

    __slots__ = ()

    def receive(self, match=ANY, timeout: int | None = None, deadline: int | None = None) -> object:
        """As `Context.receive`, run by the scheduler itself: P0 is the thread that schedules.

        With no match in the mailbox the system runs until one arrives. A
        timeout fires, in logical time, once nothing else can happen (never
        while a process computes, however long: SCN-5); one already due
        fires at once, as in a process. A receive that can never match ends
        the code with the step's `{"exit": "deadlock"}` (the model's Stuck),
        a shutdown with `{"exit": "shutdown"}`.
        """
        return self.receive_demonitor(match, None, timeout, deadline)

    def receive_demonitor(self, match=ANY, mref=None, timeout: int | None = None, deadline: int | None = None):
        """`receive`; with `mref`, then `demonitor(Mref, [flush])` unless what came is Mref's DOWN (P0's
        BIFs run with the gate closed: the two are one BIF already)."""
        rt, box = self._rt, self._proc.mailbox
        found: list = []
        with rt.atomic:   # (the scheduler's waits let it go, at any depth)
            if box._messages and box.take_held(match, found):   # (a call mostly finds it empty)
                msg = found[0]
            else:
                if deadline is None and isinstance(timeout, int):
                    deadline = rt.time + timeout
                if deadline is not None and deadline <= rt.time:
                    msg = TIMEOUT
                else:
                    # The match is taken as soon as it is there (`run_until` stops right after `done`):
                    outcome = rt.run_held(partial(box.take_held, match, found), deadline, None)
                    if outcome is DONE:
                        msg = found[0]
                    elif outcome == TIMER:
                        msg = TIMEOUT
                    elif outcome == CLOSED:
                        raise ErlangError("exit", Atom("shutdown"))
                    else:
                        raise _Deadlock
            if mref is not None and not signals.is_down(msg, mref):
                signals.demonitor(rt, self._proc, mref, True)
            return msg

    def send_receive(self, to: object, msg: object) -> object:
        self.send(to, msg)
        return self.receive()
