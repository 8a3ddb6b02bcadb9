"""The driver P0: the scenario's shell, run by the thread that owns the runtime.

Implements: SCN-1, SCN-2, PROC-3, PROC-4, PROC-5, SIG-4, GS-1, GS-3, GS-4, GS-6, GS-7

Each method is one scenario action, with the model's semantics
(`model/driver.py`). The action itself is atomic (it holds the runtime
lock) and runs with the gate closed, so no process moves meanwhile; an
action that waits (call, stop, a control request, the alive barrier) opens
the gate and schedules until its answer arrives. The answer lands in P0's
mailbox, which the driver reads.

Invariants:
- the driver traps exits; exit signals and stray messages reaching it are
  dropped (SCN-1);
- while the driver waits it performs no other action.

Results are terms or `Outcome`s: `Outcome("error", badarg)` for a BIF that
raised badarg, `Outcome("exit", Reason)` for a call that exited.

Thread safety: use a driver only from its runtime's thread. A pid a method
returns may already be dead.
"""

from __future__ import annotations

import attrs

# The wait record and the results are shared with the model (`regspec.common`): the same
# wait, the same stop result; the waiting itself is the runtime's own.
from regspec.common.protocol import GEN_CAST, call_message, reply_tag
from regspec.common.records import (AliveRequest, DemonitorRequest, Down, ExitSignal, Message, MonitorRequest, Signal,
                                    SystemStop, Wait)
from regspec.common.results import ErlangError, bif_result, link_parties, stop_result, stop_self, strip_call
from regspec.terms import Atom, LocalName, Outcome, Pid, Ref

from . import signals
from .collector import Control, body_for, dead_collector_answer, refusal
from .mailbox import ANY
from .process import TIMEOUT, Context
from .runtime import CLOSED, DONE, DRIVER, TIMER, Runtime

__all__ = ["Driver", "DriverContext", "Result"]

TRUE = Atom("true")
FALSE = Atom("false")
OK = Atom("ok")
NOPROC = Atom("noproc")
BADARG = Outcome("error", Atom("badarg"))


@attrs.frozen
class Result:
    """The answer that ends the driver's wait, as it lands in P0's mailbox."""

    value: object


def _is_result(msg: object) -> bool:
    return isinstance(msg, Result)


class Driver:
    """The driver P0 of one runtime."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.proc = rt.process(DRIVER)
        self._wait: Wait | None = None
        self._in_code = False
        rt.set_driver_receiver(self.receive)

    def clear_mailbox(self) -> None:
        """Before each step the driver drops whatever reached its mailbox (EXITs of its links, late replies)."""
        self.proc.mailbox.remove(ANY)

    def run_code(self, fn, *args) -> object:
        """Run OTP code `fn(ctx, *args)` as P0 and return what it returns.

        This is how the driver starts every kind, and uses supervisors,
        global and via names: the code may wait for other processes, and
        while it does P0 handles its signals like any process. An Erlang
        exception it raises is the step's `{"error": R}` or `{"exit": R}`.
        """
        self._in_code = True
        try:
            return fn(DriverContext(self.rt, self.proc), *args)
        except ErlangError as e:
            if e.cls == "exit":
                return Outcome("exit", strip_call(e.reason))
            return Outcome("error", e.reason)
        except _Deadlock:
            return Outcome("exit", Atom("deadlock"))
        finally:
            self._in_code = False

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
            self.rt.send(DRIVER, pid, Message(msg))
            return OK

    def cast(self, to: object, msg: object) -> object:
        with self.rt.atomic:
            pid = self.resolve(to)
            if pid is not None:  # GS-6: cast is ok whatever the destination
                self.rt.send(DRIVER, pid, Message((GEN_CAST, msg)))
            return OK

    def kill(self, target: object, reason: object = Atom("kill")) -> object:
        """`exit(Target, Reason)`; returns before the target handles it (SIG-4)."""
        with self.rt.atomic:
            pid = self.resolve(target)
            if pid is None:
                return BADARG
            self.rt.send(DRIVER, pid, ExitSignal(reason, link=False))
            return TRUE

    # -- actions that wait ---------------------------------------------------------
    def call(self, to: object, msg: object, timeout: object = 5000, *, exit_during: object = None) -> object:
        """`gen_server:call`: the reply, or `Outcome("exit", Reason)` (GS-3, GS-4, GS-5).

        `exit_during`, when given, is the reason of an exit signal that reaches
        the server while the call is pending (sent right behind the request,
        as if by another process), as `model.driver.Call` does.
        """
        with self.rt.atomic:
            pid = self.resolve(to)
            if pid is None:
                return Outcome("exit", NOPROC)  # GS-3: nothing to call
            if pid == DRIVER:
                return Outcome("exit", Atom("calling_self"))  # gen refuses to call the caller itself
            mref = self._monitor_for_wait(pid)
            self.rt.send(DRIVER, pid, Message(call_message(DRIVER, mref, msg)))
            if exit_during is not None:
                self.rt.send(DRIVER, pid, ExitSignal(exit_during, link=False))
            self._wait = Wait("call", mref, pid, timeout=timeout)
            finite = isinstance(timeout, int)
            timer = self.rt.time + timeout if finite else None
        return self._await(timer, timeout / 1000 if finite else None)

    def stop(self, target: object, reason: object = Atom("normal")) -> object:
        """`gen_server:stop(Target, Reason, infinity)` (GS-7)."""
        with self.rt.atomic:
            pid = self.resolve(target)
            if pid is None:
                return Outcome("exit", NOPROC)
            if pid == DRIVER:
                return stop_self(pid, reason)
            mref = self._monitor_for_wait(pid)
            self.rt.send(DRIVER, pid, Message(SystemStop(reason)))
            self._wait = Wait("stop", mref, pid, reason=reason)
        return self._await()

    def alive(self, target: object) -> object:
        """`is_process_alive(Target)`, answered after the driver's earlier signals to it (PROC-5)."""
        pid = self.resolve(target)
        if pid is None:
            return FALSE
        with self.rt.atomic:
            if not self.rt.in_flight(DRIVER, pid):
                return TRUE if self.rt.is_alive(pid) else FALSE
            tag = self.rt.make_ref()
            self.rt.send(DRIVER, pid, AliveRequest(tag))
            self._wait = Wait("alive", tag, pid)
        return self._await()

    def ask(self, target: object, request: tuple) -> object:
        """A request the collector `target` performs itself (monitor, link, trap_exit, ...)."""
        if request[0] in ("link", "unlink"):
            with self.rt.atomic:
                target, other = link_parties(target, request[1], self.resolve, self._was_collector)
            request = (request[0], other)
        proc = self.rt.process(self.resolve(target) if isinstance(target, LocalName) else target)
        with self.rt.atomic:
            refused = refusal(proc, request)
            if refused is not None:
                return refused
            # Monitored while it answers, as gen:call does: a collector that
            # dies first ends the wait instead of hanging it.
            tag = self._monitor_for_wait(proc.pid)
            self.rt.send(DRIVER, proc.pid, Message(Control(tag, request, DRIVER)))
            self._wait = Wait("control", tag, proc.pid, request=request)
        return self._await()

    def _was_collector(self, pid: object) -> bool:
        proc = self.rt.process(pid)
        return proc is not None and proc.kind == "collector"

    def _monitor_for_wait(self, pid: Pid) -> Ref:
        ref = self.rt.make_ref()
        self.proc.monitors[ref] = pid
        self.rt.send(DRIVER, pid, MonitorRequest(ref, pid))
        return ref

    def _await(self, timer: int | None = None, timer_real: float | None = None) -> object:
        outcome = self.rt.run_until(lambda: self.proc.mailbox.has(_is_result), timer=timer, timer_real=timer_real)
        with self.rt.atomic:
            if outcome == DONE:
                return self.proc.mailbox.take(_is_result)[1].value
            wait, self._wait = self._wait, None
            if outcome == TIMER:
                # GS-4: the call exits timeout; its late reply is dropped.
                self._demonitor(wait)
                return Outcome("exit", Atom("timeout"))
            if outcome == CLOSED:
                return Outcome("exit", Atom("shutdown"))
            # Quiescent and no answer: it can never come (the model's Stuck).
            return Outcome("exit", Atom("deadlock"))

    # -- the waiting half: signals reaching P0 (runtime lock held) ---------------------
    def receive(self, sig: Signal) -> None:
        """A signal reaches the driver; an answer to its wait goes to P0's mailbox."""
        if self._in_code:
            signals.handle(self.rt, self.proc, sig)   # running code, P0 is a process like any other
            return
        payload, wait = sig.payload, self._wait
        if isinstance(payload, Down):
            if payload.ref not in self.proc.monitors:
                return
            del self.proc.monitors[payload.ref]
            if wait is not None and wait.tag == payload.ref:
                if wait.kind == "stop":
                    self._done(stop_result(wait, payload.reason))
                elif wait.kind == "control":
                    self._done(dead_collector_answer(self.rt.process(wait.target), wait.request))  # it died first
                else:
                    self._done(Outcome("exit", payload.reason))  # GS-3, GS-5: the callee is gone
            return
        if isinstance(payload, Message) and wait is not None and isinstance(payload.term, tuple) \
                and len(payload.term) == 2:
            tag, value = payload.term
            if wait.kind == "call" and tag == reply_tag(wait.tag):
                self._demonitor(wait)
                self._done(value)
            elif wait.kind in ("control", "alive") and tag == wait.tag:
                if wait.kind == "control":
                    self._demonitor(wait)
                self._done(value)
        # SCN-1: exit signals and stray messages reaching the driver are dropped.

    def _demonitor(self, wait: Wait) -> None:
        self.proc.monitors.pop(wait.tag, None)
        self.rt.send(DRIVER, wait.target, DemonitorRequest(wait.tag))

    def _done(self, value: object) -> None:
        self._wait = None
        self.proc.mailbox.put(Result(value))


class _Deadlock(Exception):
    """The driver's code waits for a message that can never come (the model's Stuck)."""


class DriverContext(Context):
    """The driver's own `Context` while it runs code: a receive schedules the system until a match arrives."""

    __slots__ = ()

    def receive(self, match=ANY, timeout: int | None = None, deadline: int | None = None) -> object:
        rt, box = self._rt, self._proc.mailbox
        with rt.atomic:
            found, msg = box.take(match)
            if found:
                return msg
            if deadline is None and isinstance(timeout, int):
                deadline = rt.time + timeout
            if deadline is not None and deadline <= rt.time:
                return TIMEOUT
            real = (deadline - rt.time) / 1000 if deadline is not None else None
        outcome = rt.run_until(lambda: box.has(match), timer=deadline, timer_real=real)
        with rt.atomic:
            if outcome == DONE:
                return box.take(match)[1]
            if outcome == TIMER:
                return TIMEOUT
            if outcome == CLOSED:
                raise ErlangError("exit", Atom("shutdown"))
            raise _Deadlock
