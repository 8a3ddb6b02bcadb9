"""The handle a process's own code uses: `Context`, the BIFs acting as that process.

Implements: PROC-1 (pids in creation order, given by the runtime)

The process record itself is `pcb.Process` (re-exported here with its
STATUS values); the signal handling the BIFs perform is `signals`, which
sits below this module and never imports it.
"""

from __future__ import annotations

from typing import Callable

from regspec.terms import Atom, Pid, Ref

from regspec.common.records import AliveRequest

from . import signals
from .mailbox import ANY
from .pcb import BUSY, COMPUTED, EXITED, READY, RUNNING, WAITING, Process

__all__ = ["Process", "Context", "ProcessExit", "ProcessKilled", "TIMEOUT",
           "READY", "RUNNING", "BUSY", "COMPUTED", "WAITING", "EXITED"]


class ProcessExit(BaseException):
    """Unwinds a process's thread once the process is dead.

    A BaseException, so that `except Exception` in a process's own code
    cannot swallow it.
    """


class ProcessKilled(ProcessExit):
    """Raised asynchronously in a thread busy in its own code when its process is killed."""


class _Timeout:
    def __repr__(self) -> str:
        return "TIMEOUT"


TIMEOUT = _Timeout()
"""What `Context.receive` returns when its `after` timeout fires."""


class Context:
    """What a process's own code may do: the BIFs, acting as that process.

    Use a context only from the thread of the process it belongs to. Every
    method raises `ProcessExit` if the process has died meanwhile, so a dead
    process never sends, links or receives again: the BIFs check under the
    runtime lock (atomically with the death), the reads (`now`, `whereis`,
    `mailbox_messages`) check first.
    """

    __slots__ = ("_rt", "_proc", "pid")

    def __init__(self, runtime, proc: Process):
        self._rt = runtime
        self._proc = proc
        self.pid: Pid = proc.pid   # `self()`

    @property
    def runtime(self):
        return self._rt

    def receive(self, match: Callable[[object], bool] = ANY, timeout: int | None = None,
                deadline: int | None = None) -> object:
        """Selective receive: the oldest message `match` accepts; blocks until there is one.

        `timeout` is in logical milliseconds: it fires only when nothing else
        in the system can happen (as the model fires a call timeout); then
        `TIMEOUT` is returned. 0 returns at once. `deadline` is an absolute
        logical time instead (a timer started earlier).
        """
        return self._rt.bif_receive(self._proc, match, timeout, deadline)

    def spawn_link(self, kind: str, body: Callable[["Context"], None]) -> Pid:
        """`spawn_link`: a new process of `kind` running `body`, queued behind the signals sent before."""
        return self._rt.bif(self._proc, lambda rt, proc: rt.spawn(kind, body, parent=proc.pid))

    def now(self) -> int:
        """Logical time in ms (advanced only by timeouts)."""
        self._check()
        return self._rt.time

    def is_process_alive(self, pid: object) -> bool:
        """`is_process_alive(Pid)` (PROC-5): answered after `pid` handled this process's earlier signals."""
        tag = self._rt.bif(self._proc, _ask_alive, pid)
        if isinstance(tag, bool):
            return tag
        msg = self.receive(lambda m: isinstance(m, tuple) and len(m) == 2 and m[0] == tag)
        return msg[1] == Atom("true")

    def computed(self) -> None:
        """Back from computing (after `Runtime.end_slice` and a loop): wait until nothing else can
        run, as the model's `FinishWork` (SCN-5). Signals meanwhile are handled on its behalf."""
        self._rt.bif_computed(self._proc)

    def atomic(self, fn: Callable, *args) -> object:
        """`fn(runtime, pid, *args)` done in one go, as a BIF (an ETS operation, a table read)."""
        return self._rt.bif(self._proc, lambda rt, proc: fn(rt, proc.pid, *args))

    def send(self, to: object, msg: object) -> None:
        """`To ! Msg`; `to` is a pid or a registered name (a free name raises badarg)."""
        self._rt.bif(self._proc, signals.send, to, msg)

    def exit(self, reason: object):
        """The process ends itself with `reason` (never returns)."""
        self._rt.bif_exit(self._proc, reason)

    def exit_signal(self, to: Pid, reason: object) -> None:
        """`exit(To, Reason)`: send an exit signal."""
        self._rt.bif(self._proc, signals.exit_signal, to, reason)

    def link(self, other: object) -> Atom:
        return self._rt.bif(self._proc, signals.link, other)

    def unlink(self, other: object) -> Atom:
        return self._rt.bif(self._proc, signals.unlink, other)

    def monitor(self, target: object) -> Ref:
        """`monitor(process, Target)`: a pid, or a local name resolved now (MON-3)."""
        return self._rt.bif(self._proc, signals.monitor, target)

    def demonitor(self, ref: Ref, flush: bool = False) -> Atom:
        return self._rt.bif(self._proc, signals.demonitor, ref, flush)

    # Two BIFs in one, for gen's and gen_server's hot paths: what one does is what the two do one after
    # the other, with nothing in between (the lock is not let go), which is one way the two can run.

    def monitor_send(self, target: object, make: Callable, *args) -> tuple:
        """`Mref = monitor(process, Target), Target ! make(self(), Mref, *args)`; returns (Mref, the message)."""
        return self._rt.bif_monitor_send(self._proc, target, make, args)

    def receive_demonitor(self, match: Callable[[object], bool], mref: Ref, timeout: int | None = None) -> object:
        """`receive(match, timeout)`, then `demonitor(Mref, [flush])` unless what came is Mref's DOWN."""
        return self._rt.bif_receive_demonitor(self._proc, match, mref, timeout)

    def send_receive(self, to: object, msg: object) -> object:
        """`To ! Msg`, then `receive()` of any message."""
        return self._rt.bif_send_receive(self._proc, to, msg)

    def trap_exit(self, value: bool) -> bool:
        """`process_flag(trap_exit, Value)`; returns the previous value."""
        return self._rt.bif(self._proc, signals.trap_exit, value)

    def mailbox_messages(self) -> tuple:
        """`process_info(self(), messages)`: what is still in the mailbox, oldest first."""
        self._check()
        return self._proc.mailbox.messages()

    def whereis(self, name: Atom) -> object:
        self._check()
        return self._rt.names.whereis(name)

    def _check(self) -> None:
        if self._proc.killed:
            raise ProcessExit


def _ask_alive(rt, proc: Process, pid: object):
    """True/False now, or the tag of an AliveRequest sent behind this process's signals to `pid`."""
    if not isinstance(pid, Pid) or not rt.in_flight(proc.pid, pid):
        return rt.is_alive(pid)
    tag = rt.make_ref()
    rt.send(proc.pid, pid, AliveRequest(tag))
    return tag
