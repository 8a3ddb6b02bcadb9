"""The threaded runtime: a thread per process, run one at a time like one BEAM scheduler.

Implements: PROC-1, PROC-2, SCN-1, SCN-2, SIG-1 (a kill stops a process even while it runs)

Design. Each process has a thread, a mailbox and a state record; its code
(a behaviour loop) runs in its thread. A signal goes into one queue, in
send order, the moment it is sent. The *gate* is open only while the driver
(P0: the thread that made the runtime) is blocked; that thread then
schedules as the model's canonical chooser does: the *run queue* is the
receivers ordered by their oldest waiting signal, and the first gets the
*run token* with all its waiting signals. In its own thread it handles them
in order (`signals.handle`: exits, links and monitors act at once, messages
go to its mailbox), its code takes every message it can, it handles what
its own actions sent it, and it blocks in receive, giving the token back.
P0's own signals the scheduler handles on its behalf, as for a process
busy in its code: P0 traps exits and no exit signal kills it (SCN-1).
Quiescence (`wait_quiescent`) is: queue empty, no token out, nobody ready,
nobody preempted, no timer left.

Hand-offs. The token passes between two threads directly: a thread that
waits blocks on a waiter of its own, which the other wakes (no
`threading.Condition` bookkeeping in between); the GIL goes with it. A
process waits for its next turn on an eventfd (`mailbox.EventWaiter`; a raw
lock where there is none): the scheduler's grant is a write, a system call
made without the GIL, so the process takes the GIL and runs at once, even
on the core its waker was running on. The scheduler waits for the token
back on a raw lock, which the process releases just before it blocks
itself; by then the scheduler mostly is not waiting yet (it was preempted
in that write), and the release costs nothing. Each side wakes the other
only once it has let the runtime lock go (`_handoffs`, `_park`), so the
thread woken never wakes only to wait for that lock. A process's thread is
started at its first turn, not at its spawn (spawning 10,000 processes
starts no thread; one that dies before its first turn never has one),
after the scheduler has let the lock go, so it comes up and runs that turn
at once. It is a `ProcessThread`, not a `threading.Thread` (whose objects
the cyclic collector walks again and again, and whose start waits for the
thread: 10,000 of them started in superlinear time); `live_threads()` lists
them with threading's. A process thread blocks signals: the main thread
runs Python's handlers. Per signal and per turn the scheduler's work is
O(1) (O(log n) for the ready heap): tables by pid number, each receiver's
signals in its own list, the run queue those lists in one deque.

A call's path. Only one thread runs at a time, so every bytecode of a
round trip is on its critical path: the commonest case of each step is
inlined, each beside the general code it stands for (and each tested
against it): the scheduler's loop (`run_held`) delivers a lone reply to P0
in place and grants a thread blocked in a receive without a timer
without `_grant`'s frame; a receive of any message without a timeout
(`_receive_any`, a server's loop) parks and waits for its next turn
without `_park`'s and `Mailbox.await_signal`'s. The scheduler's wait
(`_wait`) and the queueing of a signal (`send`) stay one copy each.

One CPU. While a runtime lives, its driver and every process thread (each
started by the driver, so it inherits this) run on one CPU: the one the
driver was on when the runtime was made (`one_cpu`, the default; the
driver's own CPUs come back at shutdown, once its last runtime is gone).
One thread runs at a time anyway, and the GIL lets no two run Python at
once; a hand-off to a thread on the same CPU is a context switch, where
one to a thread on another CPU, idle, first wakes that CPU (on a virtual
machine an interrupt through the hypervisor): measured, a call round trip
took a quarter of the time pinned (`benchmarks/bench_runtime.py`).

Preemption and kills. A process that keeps the token longer than
`time_slice` seconds (busy in its own code) is preempted: it runs on outside
the token and the scheduler handles its signals on its behalf. If one kills
it, it dies at once, as on the BEAM (name released, links then monitors
signalled, `alive` false) and its thread gets `ProcessKilled` raised
asynchronously (`PyThreadState_SetAsyncExc`) so it stops even in a loop that
never calls the runtime. The exception is aimed only at a thread in its own
code (`in_user`), never inside the runtime's bookkeeping. Code that computes
on purpose (a chat room's init work) then calls `Context.computed`: it is
COMPUTED, and goes on only once nothing else can run (lowest pid first,
before any timer), as the model's `FinishWork`, so what it does next never
races the rest of the system.

A kill is never lost. Until a dead process's thread ends (a *zombie*):
- every runtime call it makes (each `Context` BIF: send, receive, link,
  monitor, atomic, spawn_link, exit...) raises `ProcessExit` under the
  runtime lock, so the dead process never changes runtime state again: no
  signal, no name, no link, no spawn, no crash report;
- the scheduler (while the gate is open) and shutdown raise `ProcessKilled`
  in it again every `RESEND` seconds, so a kill swallowed by CPython (one
  that lands in a `__del__` finalizer or a weakref callback is printed as
  "Exception ignored" and dropped) or by the code (`except BaseException`)
  is delivered again, until the code returns into the runtime;
- `wait_quiescent` (and any `run_until` that ends QUIESCENT) returns only
  once every zombie thread has ended, so after the barrier no code of a dead
  process runs. `run_until` returning DONE or TIMER does not wait for them:
  a zombie may still run pure Python then, touching nothing of the runtime's.
`statistics()` counts the kills that stopped a thread asynchronously
(`kills_async`), those that stopped it at a runtime call (`kills_at_call`),
the extra deliveries (`async_resends`), and the kills CPython dropped
(`kills_dropped`): while a runtime exists, `sys.unraisablehook` counts a
dropped `ProcessKilled` of a process thread instead of printing "Exception
ignored" (the kill is raised again), and passes anything else on.

LIMITATION (what is not guaranteed): a thread blocked in C (a lock or
`Event.wait()` without timeout, a blocking system call) sees the exception
only when the call returns; code that catches `ProcessKilled` every time
and loops never ends. Such a thread makes `wait_quiescent` time out (its pid
is in `Statistics.zombies`) and shutdown report it in `LeakedThreads`; it
still cannot change runtime state. Shutdown waits for threads as long as
they keep finishing: `LeakedThreads` names only threads that made no progress
for `join_timeout` seconds. On a loaded machine a kill raised again can
land in CPython's own call of the unraisable hook (the thread lost the GIL
between a dropped kill and the hook): CPython then prints "Exception ignored
in sys.unraisablehook" on stderr and drops that one too; the next one still
comes, so only the message is extra (code spending its time in finalizers,
2 messages in 10 minutes of benchmarks/kill_stress.py).

Time is logical: a call or receive timeout fires only when nothing else can
happen (as in the model), earliest deadline first; a process that computes
(preempted, BUSY) outlasts everything, so no timeout fires while one does,
however long it takes in real time (the model's FinishWork comes before any
timeout, SCN-5): a driver's call waits for a room busy in its init.

Shutdown kills every process at once (as above) and joins their threads in
order; the threads blocked in receive are woken a few at a time, just ahead
of the join, since thousands woken together fight over the GIL.

Lock order: `Runtime._lock` (an RLock; every process mailbox shares it, so
a mailbox change and the scheduler's counters move together), then
`NameTable._lock`. Nothing holding the name lock takes another lock.
"""

from __future__ import annotations

import ctypes
import heapq
import os
import signal
import sys
import threading
import time
from _thread import allocate_lock, get_native_id as _get_native_id, start_new_thread as _start_new_thread
from collections import deque
from typing import Callable, NamedTuple

import attrs

from regspec.common.records import DRIVER, DemonitorRequest, ExitSignal, Init, Message, MonitorRequest
from regspec.common.results import ErlangError, exit_reason
from regspec.terms import Atom, Pid, Ref

from . import signals
from .signals import MESSAGE, _new, _set_field
from .mailbox import ANY, EventWaiter, Mailbox, MailboxClosed, new_waiter
from .pcb import BUSY, COMPUTED, EXITED, READY, RUNNING, WAITING, Process
from .process import TIMEOUT, Context, ProcessExit, ProcessKilled
from .registry_local import NameTable

__all__ = ["Runtime", "LeakedThreads", "Statistics", "ProcessThread", "live_threads", "DRIVER", "DONE", "QUIESCENT",
           "TIMER", "CLOSED", "RESEND"]

NORMAL = Atom("normal")
KILL = Atom("kill")
KILLED = Atom("killed")

# What `run_until` returns.
DONE, QUIESCENT, TIMER, CLOSED = "done", "quiescent", "timer", "closed"

_RESUME = "resume"   # signal-lane items besides signals: run again / your receive timed out
_TIMER = "timer"

RESEND = 0.005   # seconds between two ProcessKilled raised in a zombie thread


class LeakedThreads(RuntimeError):
    """Process threads that made no progress for `join_timeout` seconds at shutdown; `threads` lists them.

    `results` is set by whoever closed the runtime after a finished run
    (`regspec.runner.run`): the results are not lost.
    """

    def __init__(self, threads: list):
        self.threads = threads
        self.results = None
        super().__init__("threads still running after shutdown: " + ", ".join(t.name for t in threads))


@attrs.frozen
class Statistics:
    """A snapshot of the scheduler, for debugging and for `TimeoutError` messages."""

    gate_open: bool
    in_flight: int            # signals queued, not yet handed to their receiver
    current: Pid | None       # holder of the run token
    ready: tuple
    busy: tuple               # preempted, still running their own code
    waiting: tuple            # blocked in receive
    live_threads: tuple       # pids whose thread has not finished
    time: int                 # logical milliseconds
    crashes: tuple            # (pid, exception repr) of process code that raised
    zombies: tuple = ()       # dead pids whose thread still runs (it can no longer touch the runtime)
    kills_async: int = 0      # deaths whose thread was in its own code: stopped by an asynchronous ProcessKilled
    kills_at_call: int = 0    # deaths whose thread was in the runtime (receive, a BIF): stopped there
    async_resends: int = 0    # ProcessKilled raised again: a zombie still ran its code RESEND s after its death
                              # or the last raise (the kill was swallowed, dropped by CPython, or not yet landed)
    kills_dropped: int = 0    # ProcessKilled that CPython dropped in a finalizer or weakref callback (then raised again)


ASYNC_KILLS = [0]   # deaths that landed in a thread running its own code (`kills_async`), all runtimes: tests count them

_here = threading.local()   # in a process thread: `runtime`, the runtime it belongs to


def _filter_unraisable(previous: Callable) -> Callable:
    """A `sys.unraisablehook` that counts, and does not print, a `ProcessKilled` CPython dropped in a process
    thread (a kill that landed in a finalizer or a weakref callback: the runtime raises it again); anything
    else goes to `previous`."""
    def hook(unraisable, /) -> None:
        rt = getattr(_here, "runtime", None)
        if rt is not None and isinstance(unraisable.exc_type, type) and issubclass(unraisable.exc_type, ProcessKilled):
            rt._dropped.append(1)   # list.append: atomic, no lock taken in a thread the kill may hit again
            return
        previous(unraisable)
    hook.regspec_filter = True
    return hook


class _Signal(NamedTuple):
    """A signal in flight: the fields of `regspec.common.records.Signal` that `signals` reads (sender,
    receiver, payload; the global send order is the order of the run queue and of each receiver's list),
    as a named tuple, made on every send by `_new_signal` in C (no Python `__init__`). A message's payload
    is `signals.MESSAGE` and its term is `term` (the `Message` record it stands for is never made)."""

    sender: Pid
    receiver: Pid
    payload: object
    term: object


_new_signal = tuple.__new__   # _new_signal(_Signal, (sender, receiver, payload, term))
_get_ident = threading.get_ident


# -- one CPU for a runtime's threads ---------------------------------------------

_pins: dict[int, list] = {}   # native thread id of a driver -> [its affinity before the first pin, runtimes alive]
_pins_lock = allocate_lock()
try:
    _sched_getcpu = ctypes.CDLL(None).sched_getcpu   # glibc's: the CPU the calling thread is running on
except (AttributeError, OSError):   # pragma: no cover - not glibc
    _sched_getcpu = None


def _pin_driver() -> int | None:
    """Pin the calling thread (a runtime's driver) to the CPU it runs on, if it may run on several; its
    process threads, started by it, inherit that. Returns its native id, to `_unpin` it at shutdown, or
    None where nothing was pinned (no `sched_setaffinity`, one CPU allowed, or the OS refused)."""
    if not hasattr(os, "sched_setaffinity"):   # pragma: no cover - not Linux
        return None
    tid = threading.get_native_id()
    with _pins_lock:
        pin = _pins.get(tid)
        if pin is not None:   # a runtime of this thread is alive: already pinned
            pin[1] += 1
            return tid
        try:
            allowed = os.sched_getaffinity(tid)
            if len(allowed) < 2:
                return None
            cpu = _sched_getcpu() if _sched_getcpu is not None else -1
            os.sched_setaffinity(tid, {cpu if cpu in allowed else min(allowed)})
        except OSError:   # pragma: no cover - a cpuset that forbids it
            return None
        _pins[tid] = [allowed, 1]
        return tid


def _unpin(tid: int | None) -> None:
    """The driver `tid`'s runtime is shut down: give the thread back the CPUs it had before its first
    runtime, once no runtime of it is left."""
    if tid is None:
        return
    with _pins_lock:
        pin = _pins.get(tid)
        if pin is None:
            return
        pin[1] -= 1
        if pin[1] == 0:
            del _pins[tid]
            try:
                os.sched_setaffinity(tid, pin[0])
            except OSError:   # pragma: no cover - the thread has ended meanwhile
                pass


# -- process threads ---------------------------------------------------------------

_pthread_sigmask = getattr(signal, "pthread_sigmask", None)
_ALL_SIGNALS = signal.valid_signals() if _pthread_sigmask is not None else ()

_running: set = set()   # every runtime's process threads whose code has not returned


class ProcessThread:
    """A process's OS thread, with the part of `threading.Thread`'s interface the runtime uses (`start`,
    `join`, `is_alive`, `name`, `ident`, `native_id`).

    Lighter than a `threading.Thread`: that one makes a dozen objects for the cyclic collector to walk
    again and again while thousands of processes live, and its `start` waits for the new thread to come
    up (a second hand-off per process); together they made starting 10,000 processes superlinear. This
    one is started with `_thread.start_new_thread`; it is alive until the last of its Python code has
    run (what is left is CPython freeing the thread), and `join` waits for that. It takes the hooks of
    `threading.settrace`/`setprofile`, as threading's own threads do; `threading.enumerate()` does not
    list it: `live_threads()` does.
    """

    __slots__ = ("name", "ident", "native_id", "_run_args", "_done", "_ended")

    def __init__(self, target: Callable, args: tuple, name: str):
        self.name = name
        self.ident = self.native_id = self._done = None
        self._ended = False
        self._run_args = (target, args)

    def __repr__(self) -> str:
        return f"<ProcessThread {self.name} {'alive' if self.is_alive() else 'not running'}>"

    def start(self) -> None:
        if self._done is not None:
            raise RuntimeError("threads can only be started once")
        done = self._done = allocate_lock()
        done.acquire()   # released by the thread as the last thing it does
        _running.add(self)
        try:
            self.ident = _start_new_thread(self._bootstrap, ())
        except BaseException:
            _running.discard(self)
            raise

    def _bootstrap(self) -> None:
        try:
            # (set here too: a kill aimed at this thread may come before `start` has its ident to store)
            self.ident, self.native_id = _get_ident(), _get_native_id()
            # The hooks `threading` gives its own threads: a coverage tool or a profiler sees process code.
            trace, profile = threading.gettrace(), threading.getprofile()
            if trace is not None:
                sys.settrace(trace)
            if profile is not None:
                sys.setprofile(profile)
            # Signals go to the main thread, which runs Python's handlers: one delivered here would only
            # interrupt a wait (an eventfd read is not retried after EINTR) and delay the handler.
            if _pthread_sigmask is not None:
                _pthread_sigmask(signal.SIG_BLOCK, _ALL_SIGNALS)
            target, args = self._run_args
            self._run_args = None
            target(*args)
        finally:
            _running.discard(self)
            self._ended = True   # (before the release: a joiner holds `_done` for a moment)
            self._done.release()

    def discard(self) -> None:
        """It will never be started: drop its target, which refers back to its runtime (the runtime's
        process table holds this thread: a cycle the collector would have to find)."""
        self._run_args = None

    def is_alive(self) -> bool:
        return self._done is not None and not self._ended

    def join(self, timeout: float | None = None) -> None:
        """Wait until the thread has ended, or for `timeout` seconds."""
        done = self._done
        if done is None:
            raise RuntimeError("cannot join thread before it is started")
        if done.acquire(True, -1 if timeout is None else max(timeout, 0)):
            done.release()


def live_threads() -> list:
    """Every thread of this Python process still running: `threading.enumerate()` and every runtime's
    process threads."""
    return threading.enumerate() + [t for t in list(_running) if t.is_alive()]


def _raise_in(thread: ProcessThread, exc: type[BaseException]) -> None:
    """Raise `exc` in `thread` at its next bytecode (CPython only)."""
    n = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc))
    if n > 1:  # pragma: no cover - the C API asks to undo when more than one thread matched
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), None)


class Runtime:
    """One node: processes, the local name table and the scheduler. A context manager.

    Args:
        node: the node's name (monitor objects name it).
        time_slice: seconds a process may keep the run token before it is preempted.
        wait_timeout: default real-time bound of every blocking wait.
        join_timeout: how long shutdown waits for process threads.
        one_cpu: run the driver and every process thread on one CPU while the runtime lives (the
            driver's own CPUs are given back at shutdown): one thread runs at a time anyway, and a
            hand-off on one CPU is a context switch, not a wake-up of another CPU.

    Thread safety: the scheduling methods (`run_until`, `wait_quiescent`) and
    the driver's actions must be called from the thread that created the
    runtime; `statistics`, `shutdown` and the name table from any thread.
    """

    def __init__(self, node: str = "a", *, time_slice: float = 1.0, wait_timeout: float = 30.0,
                 join_timeout: float = 5.0, one_cpu: bool = True):
        self.node = Atom(node)
        self.time_slice = time_slice
        self.wait_timeout = wait_timeout
        self.join_timeout = join_timeout
        self.names = NameTable()
        self.time = 0                       # logical ms, advanced only by timeouts
        self.crashes: list = []             # (pid, exception) of process code that raised
        self._lock = threading.RLock()
        self.atomic = self._lock   # the driver holds it for each of its actions, which are then atomic
        # Tables by pid number (an int hashes in C; a Pid's hash is Python code, and these are read per signal):
        self._procs: dict[int, Process] = {}            # every process ever, dead ones too
        self._active: dict[Pid, Process] = {}           # processes whose thread the scheduler tracks
        # The signals in flight: each receiver's in send order (`_inbox`), and the run queue (`_queue`):
        # each receiver's list, put there with its first signal, so in the send order of their oldest.
        # A receiver takes all its signals at once, so its place is that of its oldest; an entry whose
        # list was taken meanwhile (it is no longer its receiver's list) is dropped when it reaches the front.
        self._queue: deque = deque()
        self._inbox: dict[int, list] = {}
        # Indexes of `_active` by status (kept by `_set_status`): READY pids in a heap (stale entries
        # dropped when met), the BUSY and COMPUTED processes, the WAITING ones with a timer.
        self._ready: list = []
        self._busy: set = set()
        self._computed: set = set()
        self._timed: set = set()
        self._sched_waiter = None                       # while the scheduler waits: the waiter that wakes it
        self._handoffs: list = []                       # waiters of the threads granted a turn, woken once the
                                                        # scheduler lets the lock go (`_wait`): they find it free
        self._starting: list = []                       # threads granted their first turn, not yet started
        self._start_lock = allocate_lock()              # held while they are started (not the runtime lock)
        self._finished = 0                              # process threads that have finished (shutdown's progress)
        self._next_pid, self._next_ref = 1, 1
        self._gate_open = False
        self._current: Process | None = None           # holder of the run token
        self._slice_owner: Process | None = None       # whose slice ran last (cleared once seen over)
        self._slice_end = 0.0
        self._closing = False
        self._driver_ident = threading.get_ident()
        self._zombies: dict[Pid, Process] = {}          # dead, thread still running
        self.kills_async = self.kills_at_call = self.async_resends = 0
        self._dropped: list = []                        # ProcessKilled that CPython dropped ("Exception ignored")
        if not getattr(sys.unraisablehook, "regspec_filter", False):
            sys.unraisablehook = _filter_unraisable(sys.unraisablehook)
        self._rekill_at = 0.0                           # when the scheduler next looks at the zombies
        self._closers: list[Callable[[], None]] = []     # what stops with the runtime (on_shutdown)
        self._driver = self._procs[DRIVER.n] = Process(DRIVER, "driver", Mailbox(self._lock), trap_exit=True,
                                                      status=RUNNING)
        # What OTP keeps outside processes (ETS tables, the registries' bookkeeping), guarded by the lock:
        self.labels: dict[Pid, str] = {}         # pid -> printed name of a process from before step 0
        self.global_names: dict = {}              # :global's table: name -> pid
        self.via_servers: dict = {}               # via backend -> its current server (pid, name or registry atom)
        self.registry_servers: dict = {}          # registry server pid -> (backend, server)
        self.unique: dict = {}                    # Registry atom -> registry_via.UniqueTable
        self.unnamed_registries = 0
        self.bindings: dict = {}                  # child spec "as" label -> the child's first pid
        self.dynamic_templates: dict = {}         # DynamicSupervisor pid -> its child template (or None)
        self._pinned = _pin_driver() if one_cpu else None   # last: a failed __init__ pins nothing

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # -- state helpers (runtime lock held) ---------------------------------
    def process(self, pid: object) -> Process | None:
        return self._procs.get(pid.n) if isinstance(pid, Pid) else None

    def processes(self) -> list[Process]:
        """Every process ever created, in pid order (read their fields holding `atomic`)."""
        with self._lock:
            return [self._procs[n] for n in sorted(self._procs)]

    def is_alive(self, pid: object) -> bool:
        """Thread safety: the answer may be stale as soon as the lock is released."""
        proc = self.process(pid)
        return proc is not None and proc.alive

    def send(self, sender: Pid, receiver: Pid, payload: object, term: object = None) -> None:
        """Queue a signal behind every signal sent before it (PROC-2). Lock held.

        A message is `send(sender, receiver, MESSAGE, term)`: no `Message` record is made for the
        commonest signal (one is taken too, and stored the same way).
        """
        if payload.__class__ is Message:
            payload, term = MESSAGE, payload.term
        sig = _new_signal(_Signal, (sender, receiver, payload, term))
        n = receiver.n
        box = self._inbox.get(n)
        if box is None:
            self._inbox[n] = box = [sig]
            self._queue.append(box)   # its receiver's oldest waiting signal: its place in the run queue
        else:
            box.append(sig)
        if self._sched_waiter is not None and self._current is None:
            # (the token's holder sending: the scheduler has nothing to do before it gives the token back)
            self._wake_scheduler()

    def _wake_scheduler(self) -> None:
        """Wake the scheduler if it waits (lock held): a direct hand-off, the raw lock it blocks on."""
        waiter = self._sched_waiter
        if waiter is not None:
            self._sched_waiter = None
            waiter.release()

    def make_ref(self) -> Ref:
        with self._lock:
            return self.new_ref()

    def new_ref(self) -> Ref:
        """`make_ref()` with the lock held."""
        n = self._next_ref
        self._next_ref = n + 1
        ref = _new(Ref)
        _set_field(ref, "n", n)   # `Ref(n)`, without the Python frame of attrs' __init__ (`signals.MonitorRequest`)
        return ref

    def in_flight(self, sender: Pid, receiver: Pid) -> bool:
        """Whether a signal from `sender` to `receiver` is queued and not yet handled."""
        with self._lock:
            return any(s.sender == sender for s in self._inbox.get(receiver.n, ()))

    def process_exited(self, proc: Process) -> None:
        """Called by `signals.exit_process`: stop the dead process's thread if it may still run."""
        self._set_status(proc, EXITED)
        proc.killed = True
        # A thread waiting for its next signal wakes with ProcessExit; at shutdown, only when
        # `_join_processes` comes to it (thousands woken at once would fight over the GIL).
        proc.mailbox.close(wake=not self._closing)
        self._active.pop(proc.pid, None)
        if self._current is proc:
            self._current = None
        thread = proc.thread
        if thread is not None and not proc.started:
            # It never had a turn: its thread is never started, as if it ended blocked before its code.
            if not proc.thread_done:
                proc.thread_done = True
                self.kills_at_call += 1
                thread.discard()
        elif thread is not None and not proc.thread_done and proc.pid not in self._zombies:
            self._zombies[proc.pid] = proc
            now = proc.async_at = time.monotonic()   # if it still runs its code RESEND from now, raise again
            if thread.ident != _get_ident():
                if proc.in_user:
                    self.kills_async += 1
                    ASYNC_KILLS[0] += 1
                    self._raise_killed(proc, now)
                else:   # blocked in receive: it wakes with ProcessExit
                    self.kills_at_call += 1
        self._wake_scheduler()

    def _set_status(self, proc: Process, status: str, timer: int | None = None) -> None:
        """Set `proc.status` and its timer (a WAITING process's only), keeping the scheduler's indexes by
        status and the set of timed waits (lock held). (The STATUS values are compared by identity:
        every status is one of pcb's constants.)"""
        old = proc.status
        if old is BUSY:
            self._busy.discard(proc)
        elif old is COMPUTED:
            self._computed.discard(proc)
        proc.status = status
        if timer is not None and status is WAITING:
            proc.timer = timer
            self._timed.add(proc)
        elif proc.timer is not None:
            proc.timer = None
            self._timed.discard(proc)
        if status is READY:
            heapq.heappush(self._ready, (proc.pid.n, proc))
        elif status is BUSY:
            self._busy.add(proc)
        elif status is COMPUTED:
            self._computed.add(proc)

    def _next_ready(self) -> Process | None:
        """The READY process of the lowest pid, or None (lock held)."""
        ready = self._ready
        while ready:
            proc = ready[0][1]
            if proc.status is READY:   # (a process leaves `_active` only as EXITED)
                return proc
            heapq.heappop(ready)
        return None

    def _raise_killed(self, proc: Process, now: float) -> None:
        proc.async_sent += 1
        proc.async_at = now
        _raise_in(proc.thread, ProcessKilled)

    def _rekill(self) -> None:
        """Raise ProcessKilled again in every zombie still in its own code (lock held). The next look is
        RESEND later, or 20 times as long as this one took if that is more (thousands of zombies, as at
        shutdown: looking at them all must not starve the threads that are ending)."""
        now = time.monotonic()
        me = _get_ident()
        for proc in list(self._zombies.values()):
            if not proc.thread.is_alive():
                self._zombies.pop(proc.pid, None)
            elif proc.in_user and now - proc.async_at >= RESEND and proc.thread.ident != me:
                self.async_resends += 1
                self._raise_killed(proc, now)
        self._rekill_at = now + max(RESEND, 20 * (time.monotonic() - now))

    # -- spawning -----------------------------------------------------------
    def spawn(self, kind: str, body: Callable[[Context], None], *, trap_exit: bool = False, link: bool = False,
              name: Atom | None = None, parent: Pid | None = None, pid: Pid | None = None,
              label: str | None = None) -> Pid:
        """Create a process running `body(ctx)`, linked to the driver if `link`, registered as `name`.

        The link and the name exist before the process runs (spawn_link is
        atomic; GS-2). Its code first runs when the scheduler gives it the
        token: its thread is started then (one that dies first never starts).
        Returns a pid that may already be dead.

        With `parent` (`spawn_link` from process code), the new process is
        linked to `parent` and joins the run queue as the model's does: its
        first signal, sent by the parent, queues behind every signal sent
        before it. `pid` and `label` create a process from before step 0
        (a negative pid, printed by its label); it waits for its first signal.
        """
        with self._lock:
            if self._closing:
                raise RuntimeError("the runtime is shut down")
            if pid is None:
                pid = Pid(self._next_pid)
                self._next_pid += 1
            queued = parent is not None or label is not None
            proc = Process(pid, kind, Mailbox(self._lock), trap_exit=trap_exit, status=WAITING)
            self._procs[pid.n] = self._active[pid] = proc
            if not queued:
                self._set_status(proc, READY)
            if link:
                proc.links.add(DRIVER)
                self._driver.links.add(pid)
            if parent is not None:
                proc.links.add(parent)
                self._procs[parent.n].links.add(pid)
                self.send(parent, pid, Init())
            if label is not None:
                self.labels[pid] = label
            if name is not None:
                self.names.register(name, pid, alive=True)
            # Started at its first turn (`_grant`): spawning never waits for a thread to come up.
            proc.thread = ProcessThread(self._main, (proc, body), f"regspec-{pid!r}-{kind}")
            return pid

    def _main(self, proc: Process, body: Callable[[Context], None]) -> None:
        lived = False
        while True:
            try:
                if not lived:
                    lived = True
                    self._live(proc, body)
                proc.in_user = False   # out of its code for good: no more ProcessKilled aimed at it
                self._thread_finished(proc)
                return
            except BaseException:   # a late ProcessKilled, raised again before the thread left user code
                proc.in_user = False
                continue

    def _live(self, proc: Process, body: Callable[[Context], None]) -> None:
        _here.runtime = self
        try:
            with self._lock:
                item = self._await_grant(proc)   # _RESUME, or (spawned by code) its first signals
                if isinstance(item, list):
                    self._handle_own(proc, item)
                proc.in_user = True
            body(Context(self, proc))
            self.bif_exit(proc, NORMAL)
        except ProcessExit:
            pass
        except ErlangError as exc:  # an Erlang exception the code did not catch: the process exits with it
            with self._lock:
                proc.in_user = False
                signals.exit_process(self, proc, exit_reason(exc))
        except BaseException as exc:  # a crash in the process's own code: it exits, as on the BEAM
            self._crashed(proc, exc)

    def _crashed(self, proc: Process, exc: BaseException) -> None:
        with self._lock:
            if proc.killed:
                return   # code of a dead process that swallowed its kill: nothing to report, nobody to tell
            proc.in_user = False
            self.crashes.append((proc.pid, repr(exc)))
            signals.exit_process(self, proc, (Atom("error"), Atom(type(exc).__name__)))

    def _thread_finished(self, proc: Process) -> None:
        # A late ProcessKilled may land here; `_main` calls again (the bookkeeping is idempotent).
        with self._lock:
            if not proc.thread_done:
                self._finished += 1
            proc.in_user, proc.thread_done = False, True
            self._zombies.pop(proc.pid, None)
            self._wake_scheduler()

    # -- the process side of scheduling (runtime lock held) --------------------
    def _await_grant(self, proc: Process, handoffs: list | None = None) -> object:
        """Wait for the next item of `proc`'s lane; `handoffs` (from `_park`) are woken once the lock is
        let go."""
        try:
            return proc.mailbox.await_signal(handoffs)
        except MailboxClosed:
            raise ProcessExit from None

    def _park(self, proc: Process, status: str, deadline: int | None) -> list | None:
        """`proc` gives the token back; returns the scheduler's waiter if it waits (in a list), for the
        caller to wake once it lets the lock go (`_await_grant`): the scheduler then finds the lock free."""
        if status is WAITING and deadline is None and proc.status is RUNNING:
            proc.status = WAITING   # (all `_set_status` does for this move: a RUNNING process has no timer)
        else:
            self._set_status(proc, status, deadline)
        proc.in_slice = False
        if self._current is proc:
            self._current = None
        waiter, self._sched_waiter = self._sched_waiter, None
        return None if waiter is None else [waiter]

    def _handle_batch(self, proc: Process, batch: list) -> None:
        """`proc` (alive) handles its signals in order; once it is dead the rest are answered as dead.

        A message goes straight to the end of its mailbox (`Mailbox.deliver` without its checks: a live
        process's mailbox is open, and only its own thread ever waits on it, for its next turn on the
        signal lane, never for a message: a message wakes nobody)."""
        put, monitored_by = proc.mailbox._messages.append, proc.monitored_by
        signals_ = iter(batch)
        for sig in signals_:
            payload = sig.payload
            if payload is MESSAGE:   # the common case, as `signals.handle` delivers it
                put(sig.term)
                continue
            kind = payload.__class__
            if kind is MonitorRequest:   # a call's monitor, then its demonitor: as `HANDLERS`
                monitored_by[payload.ref.n] = (sig.sender, payload.object, payload.ref)
            elif kind is DemonitorRequest:
                monitored_by.pop(payload.ref.n, None)
            else:
                signals.HANDLERS[kind](self, proc, sig.sender, payload)   # `signals.handle`'s table
                if not proc.alive:   # (only such a signal can kill it)
                    for sig in signals_:   # the rest
                        signals.answer_dead(self, proc.pid, sig)
                    return

    def _handle_own(self, proc: Process, batch: list) -> None:
        self._handle_batch(proc, batch)
        if not proc.alive:   # killed by a signal it handled in its own receive
            self.kills_at_call += 1
            raise ProcessExit

    def _grant(self, proc: Process, item: object) -> None:
        if proc.status is WAITING and proc.timer is None:
            proc.status = RUNNING   # (all `_set_status` does for this move: neither status is indexed)
        else:
            self._set_status(proc, RUNNING)   # (from WAITING with a timer, READY, BUSY or COMPUTED)
        proc.in_slice = item.__class__ is list
        self._current = self._slice_owner = proc
        proc.mailbox.hand(item, self._handoffs)   # woken once the scheduler lets the lock go (`_wait`)
        if not proc.started:
            # Its first turn: its thread comes up and finds `item` waiting. The scheduler starts it once
            # it has let the lock go (`_start_pending`), so the thread runs its turn straight away.
            proc.started = True
            self._starting.append(proc.thread)
        self._slice_end = time.monotonic() + self.time_slice

    def end_slice(self, pid: Pid) -> None:
        """The token's holder `pid` will compute for a while without calling the runtime:
        its slice is over now, so the scheduler preempts it at once (lock held)."""
        if self._current is not None and self._current.pid == pid:
            self._slice_end = 0.0
            self._wake_scheduler()

    # -- BIFs: called by a process's own thread through its Context ----------------
    def _enter(self, proc: Process) -> None:
        if proc.killed:
            proc.in_user = True   # the exception goes back into its code: keep re-raising there
            raise ProcessExit
        proc.in_user = False

    def _leave(self, proc: Process) -> None:
        proc.in_user = True
        if proc.killed:
            raise ProcessExit

    def bif_receive(self, proc: Process, match: Callable, timeout: object, deadline: int | None = None) -> object:
        with self._lock:
            if proc.killed:   # `_enter`, inlined
                proc.in_user = True
                raise ProcessExit
            messages = proc.mailbox._messages
            if match is ANY and messages and proc.status is not BUSY:   # `_receive`'s first case, one frame less
                return messages.popleft()
            if match is ANY and timeout is None and deadline is None:
                return self._receive_any(proc)
            return self._receive(proc, match, timeout, deadline)

    def bif_send_receive(self, proc: Process, to: object, msg: object) -> object:
        """`To ! Msg`, then `receive` of any message, as one BIF (gen_server's reply, then its loop's
        next receive): nothing happens between the two that could not happen before the send."""
        with self._lock:
            if proc.killed:
                proc.in_user = True
                raise ProcessExit
            if to.__class__ is Pid:
                self.send(proc.pid, to, MESSAGE, msg)   # `signals.send` to a pid
            else:
                signals.send(self, proc, to, msg)   # (a free name raises badarg, as `Context.send`)
            messages = proc.mailbox._messages
            if messages and proc.status is not BUSY:   # `_receive_any`'s first case, one frame less
                return messages.popleft()
            return self._receive_any(proc)

    def bif_receive_demonitor(self, proc: Process, match: Callable, mref: Ref, timeout: object) -> object:
        """`receive`, then `demonitor(Mref, [flush])` unless what came is Mref's DOWN, as one BIF
        (gen:do_call after its request): the demonitor follows the receive under the same lock."""
        with self._lock:
            if proc.killed:
                proc.in_user = True
                raise ProcessExit
            msg = self._receive(proc, match, timeout, None)
            if not signals.is_down(msg, mref):
                signals.demonitor(self, proc, mref, True)
            return msg

    def _receive_any(self, proc: Process) -> object:
        """`_receive(proc, ANY, None, None)`: the next message, however long it takes (a server's loop).

        Its commonest path inlined: back in receive with the token (RUNNING), it handles what its own
        actions sent it, then gives the token back (`_park`) and waits for its next turn on its waiter
        (`Mailbox.await_signal`), waking the scheduler once it has let the lock go."""
        if proc.status is not RUNNING:   # preempted code back in receive (BUSY): the general case
            return self._receive(proc, ANY, None, None)
        box = proc.mailbox
        messages, lane = box._messages, box._signals
        proc.in_user = False
        try:
            while True:
                # (RUNNING here: a process holding the runtime lock is never preempted, and each turn is
                # granted as RUNNING)
                if messages:
                    return messages.popleft()
                if proc.in_slice:
                    # Signals its own actions sent it during this slice (the model's run loop).
                    batch = self._inbox.pop(proc.pid.n, None)
                    if batch is not None:
                        self._handle_own(proc, batch)
                        continue
                # `_park(proc, WAITING, None)`:
                proc.status = WAITING   # (all `_set_status` does for this move: a RUNNING process has no timer)
                proc.in_slice = False
                if self._current is proc:
                    self._current = None
                handoff, self._sched_waiter = self._sched_waiter, None
                # `Mailbox.await_signal([handoff])`:
                try:
                    while not lane:   # (a closed mailbox has an empty lane: `close` clears it)
                        if box._closed:
                            raise ProcessExit
                        waiter = proc.waiter   # (its thread's EventWaiter, once it has one: `new_waiter`)
                        if waiter is None:
                            waiter = new_waiter()
                            if waiter.__class__ is EventWaiter:   # (a raw lock serves one wait only)
                                proc.waiter = waiter
                        waiters = box._waiters
                        waiters.append(waiter)
                        lock = self._lock
                        saved = lock._release_save()   # (the RLock at any depth)
                        try:
                            if handoff is not None:   # the scheduler: it finds the lock free
                                handoff.release()
                                handoff = None
                            try:
                                waiter.acquire()
                            except InterruptedError:   # a signal (not retried by the eventfd read): look again
                                pass
                        finally:
                            lock._acquire_restore(saved)
                            if waiter in waiters:   # not woken: unwound by an exception
                                waiters.remove(waiter)
                    item = lane.popleft()
                finally:
                    if handoff is not None:   # (the lock was never let go)
                        handoff.release()
                if item.__class__ is list:   # its signals: handled in order, then its code looks again
                    self._handle_batch(proc, item)
                    if not proc.alive:   # killed by a signal it handled (`_handle_own`)
                        self.kills_at_call += 1
                        raise ProcessExit
                elif item is _TIMER:   # pragma: no cover - a receive without a timeout has no timer
                    return TIMEOUT
        finally:
            proc.in_user = True   # `_leave`, inlined
            if proc.killed:
                raise ProcessExit

    def _receive(self, proc: Process, match: Callable, timeout: object, deadline: int | None) -> object:
        """The receive of the BIFs above (lock held, `proc` not killed)."""
        box = proc.mailbox
        messages = box._messages
        if match is ANY and messages and proc.status is not BUSY:
            # The common case: a message is there. The lock is not released, so nobody sees
            # `in_user`, and nothing can kill it before it returns.
            return messages.popleft()
        proc.in_user = False
        try:
            if deadline is None and isinstance(timeout, int):
                deadline = self.time + timeout
            if deadline is not None and deadline <= self.time:
                timeout = 0   # already due: take a match that is there, else time out at once
            while True:
                if proc.status is BUSY:
                    # Preempted code is back in receive: it runs again only with the token.
                    can_run = box.has(match) or timeout == 0
                    handoffs = self._park(proc, READY if can_run else WAITING, deadline)
                else:
                    if match is ANY:
                        if messages:
                            return messages.popleft()
                    else:
                        found, msg = box.take(match)
                        if found:
                            return msg
                    if proc.in_slice:
                        # Signals its own actions sent it during this slice (the model's run loop).
                        batch = self._inbox.pop(proc.pid.n, None)
                        if batch is not None:
                            self._handle_own(proc, batch)
                            continue
                    if timeout == 0:
                        return TIMEOUT
                    handoffs = self._park(proc, WAITING, deadline)
                try:
                    item = box.await_signal(handoffs)   # (`_await_grant`, inlined)
                except MailboxClosed:
                    raise ProcessExit from None
                if item.__class__ is list:   # its signals: handled in order, then its code looks again
                    self._handle_batch(proc, item)
                    if not proc.alive:   # killed by a signal it handled (`_handle_own`)
                        self.kills_at_call += 1
                        raise ProcessExit
                elif item is _TIMER:
                    return TIMEOUT
        finally:
            proc.in_user = True   # `_leave`, inlined
            if proc.killed:
                raise ProcessExit

    def bif_computed(self, proc: Process) -> None:
        """`proc` is done computing: it parks until the scheduler has nothing else to run (then the
        lowest pid first, before any timer), as the model's `FinishWork`. Its signals are handled on
        its behalf meanwhile; a kill ends the wait with ProcessExit."""
        with self._lock:
            self._enter(proc)
            try:
                handoffs = self._park(proc, COMPUTED, None)
                while self._await_grant(proc, handoffs) is not _RESUME:   # pragma: no cover - only a resume is granted
                    handoffs = None
            finally:
                self._leave(proc)

    def bif_exit(self, proc: Process, reason: object):
        with self._lock:
            self._enter(proc)
            signals.exit_process(self, proc, reason)
            raise ProcessExit

    def bif_monitor_send(self, proc: Process, target: object, make: Callable, args: tuple) -> tuple:
        """`signals.monitor_send` as a BIF (`Context.monitor_send`), its commonest case inline: a pid."""
        with self._lock:
            if proc.killed:   # `_enter`, inlined
                proc.in_user = True
                raise ProcessExit
            if target.__class__ is not Pid:   # a name: resolved as `monitor` and `send` resolve it
                return signals.monitor_send(self, proc, target, make, *args)
            me, n = proc.pid, self._next_ref
            self._next_ref = n + 1
            mref = _new(Ref)
            _set_field(mref, "n", n)   # `new_ref()`: `Ref(n)` ...
            proc.monitors[n] = target   # ... `signals.monitor` of a pid ...
            request = _new(MonitorRequest)
            _set_field(request, "ref", mref)
            _set_field(request, "object", target)
            self.send(me, target, request)
            msg = make(me, mref, *args)
            self.send(me, target, MESSAGE, msg)   # ... and `signals.send` to it
            return mref, msg

    def bif(self, proc: Process, fn: Callable, *args) -> object:
        """Run `fn(runtime, proc, *args)` as a BIF of `proc`, from `proc`'s own thread, atomically.

        `in_user` is not cleared meanwhile (as `_enter`/`_leave` do around a wait): it is read only
        by a thread holding the lock, which this one holds throughout.
        """
        with self._lock:
            if proc.killed:
                self._enter(proc)   # raises ProcessExit
            try:
                return fn(self, proc, *args)
            finally:
                if proc.killed:
                    raise ProcessExit

    # -- the scheduler: runs in the driver's thread while the driver is blocked ----
    def run_until(self, done: Callable[[], bool], *, timer: int | None = None, timeout: float | None = None) -> str:
        """Open the gate and run the system until `done()`; returns DONE, QUIESCENT, TIMER or CLOSED.

        `done` is checked with the lock held before each scheduling step, so
        the run stops right after the signal that satisfied it, as the
        model's `run_until_result` does. `timer` is the logical deadline
        of the driver's own receive (a call's timeout); it fires, returning
        TIMER, when nothing else can happen: never while a preempted process
        runs, however long (SCN-5). Raises `TimeoutError` (with a `statistics()`
        snapshot) when `timeout` real seconds pass first.
        """
        with self._lock:
            return self.run_held(done, timer, timeout)

    def run_held(self, done: Callable[[], bool], timer: int | None, timeout: float | None) -> str:
        """`run_until` with the runtime lock already held (the driver's receive, in an atomic step)."""
        if _get_ident() != self._driver_ident:
            raise RuntimeError("only the driver's thread (the one that made the runtime) may schedule")
        now = time.monotonic()
        real_deadline = now + (self.wait_timeout if timeout is None else timeout)
        queue, inbox, procs, driver = self._queue, self._inbox, self._procs, self._driver
        messages = driver.mailbox._messages
        handoffs, monotonic = self._handoffs, time.monotonic
        self._gate_open = True
        try:
            while True:
                if self._closing:
                    return CLOSED
                if done():
                    return DONE
                if self._zombies and monotonic() >= self._rekill_at:
                    self._rekill()
                current = self._current
                if current is None:
                    owner = self._slice_owner
                    if owner is not None:
                        self._slice_owner = None
                        if not owner.alive:   # it died in its slice: what it sent itself is answered now
                            self._handle_for(owner.pid.n, owner)
                            continue
                    if self._ready and (ready := self._next_ready()) is not None:
                        self._grant(ready, _RESUME)
                    else:
                        # The run queue's head, out of the queue: its receiver takes every signal waiting
                        # for it (an entry whose list was taken meanwhile is stale: dropped).
                        while queue:
                            batch = queue.popleft()
                            n = batch[0].receiver.n
                            if inbox.get(n) is batch:
                                break
                        else:   # nothing in flight
                            now = monotonic()
                            if self._busy:
                                # It computes: no timer fires before it is done (the model's FinishWork
                                # comes first), however long that takes in real time.
                                if now >= real_deadline:
                                    raise self._timeout_error(timeout)
                                # `done` may watch the busy code itself (nothing notifies then): look again
                                # each slice.
                                self._wait(min(real_deadline, now + self.time_slice) - now)
                            elif computed := min(self._computed, key=lambda p: p.pid, default=None):
                                # Nothing else can run: it goes on (the model's FinishWork).
                                self._grant(computed, _RESUME)
                            else:
                                fired = self._fire_timer(timer)
                                if fired == QUIESCENT and self._zombies:
                                    # Quiescent only once no code of a dead process runs any more.
                                    if now >= real_deadline:
                                        raise self._timeout_error(timeout)
                                    self._wait(real_deadline - now)
                                elif fired is not None:
                                    return fired
                            continue
                        proc = procs.get(n)
                        if proc is driver:
                            if len(batch) == 1 and (sig := batch[0]).payload is MESSAGE:
                                # A reply to P0 (a call's): `_handle_for`'s delivery of one message, inlined.
                                del inbox[n]
                                if not driver.mailbox._closed:
                                    messages.append(sig.term)   # (nobody waits on P0's mailbox: it schedules)
                            else:
                                self._handle_for(n, proc)
                            continue
                        if proc is None or proc.status is not WAITING or not proc.alive:
                            self._handle_for(n, proc)   # on someone's behalf (a dead one's, a busy one's)
                            continue
                        del inbox[n]
                        if proc.timer is not None or not proc.started:
                            self._grant(proc, batch)   # it handles them in its own thread
                        else:
                            # `_grant(proc, batch)`, inlined for its commonest case: a
                            # started thread blocked in a receive without a timer (a server's loop).
                            proc.status = RUNNING   # (all `_set_status` does for this move)
                            proc.in_slice = True
                            self._current = self._slice_owner = proc
                            box = proc.mailbox
                            box._signals.append(batch)   # (alive: its mailbox is open)
                            waiters = box._waiters
                            if waiters:
                                handoffs.extend(waiters)
                                waiters.clear()
                            now = monotonic()
                            self._slice_end = now + self.time_slice
                            if now >= real_deadline:
                                raise self._timeout_error(timeout)
                            self._wait(min(self._slice_end, real_deadline) - now)
                            continue
                    current = self._current
                    if current is None:   # handled on someone's behalf (P0's, a dead one's, a busy one's)
                        continue
                    # Granted: wait for the token at once (a grant delivers nothing `done` reads).
                now = monotonic()
                if now >= real_deadline:
                    raise self._timeout_error(timeout)
                if now < self._slice_end:
                    self._wait(min(self._slice_end, real_deadline) - now)
                else:  # it kept the token a whole slice: preempt it
                    self._set_status(current, BUSY)
                    self._current = None
        finally:
            self._gate_open = False
            while handoffs:   # granted, and the run ended before the scheduler waited
                handoffs.pop().release()
            if self._starting:
                self._start_pending()

    def _wait(self, seconds: float) -> None:
        """Wait until woken (`_wake_scheduler`) or `seconds` pass (lock held, released meanwhile); while
        zombies run, wake every RESEND to kill them again."""
        if self._zombies:
            seconds = min(seconds, RESEND)
        waiter = allocate_lock()
        waiter.acquire()
        self._sched_waiter = waiter
        handoffs = self._handoffs
        saved = self._lock._release_save()   # as threading.Condition does, with the lock at any depth
        try:
            while handoffs:   # (only the scheduler's thread uses the list)
                handoffs.pop().release()
            if self._starting:
                self._start_pending()
            if seconds > 0:
                waiter.acquire(True, seconds)
        finally:
            self._lock._acquire_restore(saved)
            if self._sched_waiter is waiter:   # not woken: timed out
                self._sched_waiter = None

    def _start_pending(self) -> None:
        """Start the threads granted their first turn (`_grant`); `Thread.start` waits for each to come
        up. Shutdown calls it too, before it joins: `_start_lock` makes it wait for a start in progress."""
        with self._start_lock:
            while self._starting:
                self._starting.pop().start()

    def _fire_timer(self, timer: int | None) -> str | None:
        """Nothing else can happen: fire the earliest timer (logical time); None if it was a process's."""
        timers = [(p.timer, p.pid.n, p) for p in self._timed]
        if timer is not None:
            timers.append((timer, DRIVER.n, None))
        if not timers:
            return QUIESCENT
        deadline, _, proc = min(timers, key=lambda t: t[:2])
        self.time = max(self.time, deadline)
        if proc is None:
            return TIMER
        self._grant(proc, _TIMER)
        return None

    def _handle_for(self, n: int, proc: Process | None) -> None:
        """Handle here every signal waiting for pid number `n` (`proc`), which is not blocked in receive:
        P0's, a dead one's (answered as dead), another's on its behalf."""
        inbox = self._inbox
        while (batch := inbox.pop(n, None)) is not None:   # (handling may send it more: take those too)
            if proc is self._driver:
                # P0 handles its signals like any process that traps exits, whether or not it is in a
                # receive: replies, DOWNs and EXITs go to its mailbox, where its code takes them. But no
                # exit signal kills it, not even `exit(P0, kill)` (SCN-1): it is dropped.
                put = proc.mailbox.deliver
                for sig in batch:
                    payload = sig.payload
                    if payload is MESSAGE:   # the common case (a reply), as `signals.handle` delivers it
                        put(sig.term)
                    elif not (isinstance(payload, ExitSignal) and not payload.link and payload.reason == KILL):
                        signals.handle(self, proc, sig)
            elif proc is None or not proc.alive:
                pid = batch[0].receiver
                for sig in batch:
                    signals.answer_dead(self, pid, sig)
            else:
                # BUSY in its own code: handle its signals on its behalf, as ERTS
                # does between a running process's reductions; a kill stops its thread.
                self._handle_batch(proc, batch)

    def wait_quiescent(self, timeout: float | None = None) -> None:
        """Run until no process is runnable, no signal is in flight and no timer is due (SCN-2).

        A real barrier: it returns only when every process thread is blocked
        in receive with nothing it can take. Raises `TimeoutError` with a
        `statistics()` snapshot if that takes more than `timeout` seconds.
        """
        self.run_until(lambda: False, timeout=timeout)

    def _timeout_error(self, timeout: float | None) -> TimeoutError:
        stats = self.statistics()
        err = TimeoutError(f"no quiescence within {timeout or self.wait_timeout}s: {stats}")
        err.statistics = stats
        return err

    def statistics(self) -> Statistics:
        """A consistent snapshot of the scheduler (any thread)."""
        with self._lock:
            by = lambda status: tuple(sorted(p.pid for p in self._active.values() if p.status == status))
            return Statistics(
                gate_open=self._gate_open, in_flight=sum(map(len, self._inbox.values())),
                current=self._current.pid if self._current is not None else None,
                ready=by(READY), busy=by(BUSY), waiting=by(WAITING),
                live_threads=tuple(p.pid for p in self._procs.values() if p.thread is not None and not p.thread_done),
                time=self.time, crashes=tuple(self.crashes), zombies=tuple(sorted(self._zombies)),
                kills_async=self.kills_async, kills_at_call=self.kills_at_call, async_resends=self.async_resends,
                kills_dropped=len(self._dropped))

    # -- shutdown ------------------------------------------------------------
    def on_shutdown(self, closer: Callable[[], None]) -> None:
        """Call `closer()` once, when the runtime shuts down, after its process threads were joined.

        For what lives beside the processes and must not outlive the runtime:
        a via backend's heartbeat thread or its connection (regspec.impl.registry_redis).
        A closer stops and joins its own threads; one it cannot join it reports by raising
        `LeakedThreads`, which `shutdown` raises once every closer has run. Closers run in
        the reverse order of their registration. Any thread may call this (a process's
        code does, under the runtime lock); a runtime already shut down refuses it.
        """
        with self._lock:
            if self._closing:
                raise RuntimeError("the runtime is shut down")
            self._closers.append(closer)

    def _close_beside(self) -> None:
        with self._lock:
            closers, self._closers = self._closers[::-1], []
        leaked: list = []
        for closer in closers:
            try:
                closer()
            except LeakedThreads as e:
                leaked.extend(e.threads)
        if leaked:
            raise LeakedThreads(leaked)

    def shutdown(self) -> None:
        """Kill every process, end a pending driver wait, join every thread (any thread may call).

        A driver blocked in `run_until` gets CLOSED (its receive exits
        `shutdown`). Threads are waited for as long as they make progress:
        `LeakedThreads` is raised naming the threads still running once none
        has finished for `join_timeout` seconds (meanwhile `ProcessKilled`
        is raised again in them every `RESEND` seconds). Calling it again
        does nothing more.
        """
        with self._lock:
            self._closing = True
            self._queue.clear()
            self._inbox.clear()
            for n in sorted(self._procs):
                proc = self._procs[n]
                if proc is self._driver or proc.status == EXITED and not proc.alive and proc.killed:
                    continue
                if proc.alive:
                    self.names.release(proc.pid)
                    proc.alive, proc.exit_reason = False, KILLED
                    proc.links.clear(); proc.monitors.clear(); proc.monitored_by.clear()
                self.process_exited(proc)
            me = _get_ident()
            pending = [p for p in self._procs.values() if p.started and p.thread.ident != me]
        try:
            self._join_processes(pending)
        finally:
            try:
                self._close_beside()
            finally:
                pinned, self._pinned = self._pinned, None
                _unpin(pinned)

    def _join_processes(self, pending: list) -> None:
        """Join the threads of the processes `pending` in order. At shutdown `process_exited` closes a
        mailbox without waking its thread: the threads blocked in receive are woken a few ahead of the
        join, as it comes to them (thousands woken at once fight over the GIL with this thread), and
        all of them once one takes longer than RESEND to end. Progress is any process thread finishing
        (`_finished`), so each wait is O(1) however many are still ending."""
        self._start_pending()   # a thread granted its first turn just now may not be started yet
        last_progress = time.monotonic()
        finished = -1
        head = woken = 0   # pending[head:] not joined yet; pending[:woken] woken
        while head < len(pending):
            if woken < head + 8:
                for proc in pending[woken:head + 8]:
                    proc.mailbox.wake()
                woken = head + 8
            thread = pending[head].thread
            thread.join(RESEND)
            if not thread.is_alive():
                head += 1
                last_progress = time.monotonic()
                continue
            if woken < len(pending):
                for proc in pending[woken:]:
                    proc.mailbox.wake()
                woken = len(pending)
            with self._lock:
                now = time.monotonic()
                if self._finished != finished:
                    finished, last_progress = self._finished, now
                if now >= self._rekill_at:
                    self._rekill()
            if now - last_progress >= self.join_timeout:
                still = [p.thread for p in pending[head:] if p.thread.is_alive()]
                if still:
                    raise LeakedThreads(still)
                return
