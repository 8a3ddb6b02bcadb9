"""A process's mailbox: a thread-safe message queue with selective receive (erts message queue).

Implements: PROC-2 (messages are taken in arrival order), MON-5 (flush)

A mailbox has two lanes. The *message* lane holds what the process's code
takes with selective receive: the oldest message a `match` predicate
accepts, the others staying in place. The *signal* lane is the runtime's:
it hands a blocked process the next signal to handle, or tells it that it
may run again or that its receive timed out. A waiting process always sees
the signal lane first, as ERTS handles a process's signals before it looks
at its messages.

Thread safety: every method may be called from any thread. The lock may be
shared with its owner (the runtime passes its own lock, so a mailbox change
and the scheduler's counters change together); it must be a `threading.RLock`.
A thread blocked in `receive` or `next_signal` waits on a waiter of its own
(`new_waiter`) that a producer releases (a hand-off with none of
`threading.Condition`'s Python-level bookkeeping); it holds the mailbox lock
again when it wakes.

>>> box = Mailbox()
>>> box.put("a"); box.put("b")
>>> box.receive(lambda m: m == "b")
('message', 'b')
>>> box.messages()
('a',)
>>> box.receive(lambda m: m == "z", timeout=0.01)
('timeout', None)
"""

from __future__ import annotations

import os
import threading
import time
from _thread import allocate_lock
from collections import deque
from functools import partial
from select import select
from typing import Callable

__all__ = ["Mailbox", "MailboxClosed", "ANY", "NOTHING", "new_waiter", "wait_for", "EventWaiter", "EVENT_FDS"]


def ANY(msg: object) -> bool:
    """Match every message."""
    return True


def NOTHING(msg: object) -> bool:
    """Match no message: wait for the signal lane only."""
    return False


class MailboxClosed(Exception):
    """The mailbox was closed (its process is dead) while someone waited on it."""


# -- waiters: what a blocked thread waits on, and how it is woken ----------------------

EVENT_FDS = 256
"""How many threads at most wait on an `EventWaiter` (an eventfd each); any other waits on raw locks
(a runtime of 10,000 processes must not use up the process's file descriptors)."""

_event_fds = [None] * EVENT_FDS   # one item per eventfd still to be had (list.pop and append are atomic)
_thread_waiter = threading.local()


class EventWaiter:
    """A thread's waiter on a Linux eventfd, with a raw lock's `acquire()` and `release()` (C calls, no
    Python frame); `wait_for` waits with a timeout.

    Why: waking it is a write, a system call that lets the GIL go, so the
    thread woken can take the GIL and run at once, even on its waker's
    core. A raw lock is released with the GIL held: the thread woken then
    wakes only to wait for the GIL until its waker blocks, two more context
    switches per hand-off (on a busy machine, most of what a call round
    trip costs beyond its Python code). The scheduler also wakes it only
    once it has let the runtime lock go (`Runtime._handoffs`), for the same
    reason.

    One per thread (`new_waiter`), used for every wait of that thread: a
    wake that comes after its wait timed out stays in the counter and makes
    the next wait return at once, which every wait here tolerates (each is
    in a loop that looks again). Its fd is closed when the last reference
    goes, so a late wake never writes to a closed fd.
    """

    __slots__ = ("fd", "acquire", "release")

    def __init__(self, fd: int):
        self.fd = fd
        self.acquire = partial(os.eventfd_read, fd)       # wait until woken
        self.release = partial(os.eventfd_write, fd, 1)   # wake it

    def __del__(self, close=os.close, fds=_event_fds) -> None:   # (bound now: at exit, module globals go first)
        close(self.fd)
        fds.append(None)


def _event_waiter() -> EventWaiter | None:
    if not hasattr(os, "eventfd"):
        return None
    try:
        _event_fds.pop()
    except IndexError:   # EVENT_FDS threads have one
        return None
    try:
        return EventWaiter(os.eventfd(0))
    except OSError:   # out of file descriptors
        _event_fds.append(None)
        return None


def wait_for(waiter, timeout: float) -> bool:
    """`waiter.acquire(True, timeout)` for either kind of waiter: whether it was woken in time."""
    if waiter.__class__ is EventWaiter:
        if not select((waiter.fd,), (), (), timeout)[0]:
            return False
        waiter.acquire()
        return True
    return waiter.acquire(True, timeout)


def new_waiter():
    """What the calling thread waits on for one wait: `acquire()` blocks until another thread calls
    `release()`. The thread's `EventWaiter` (made at its first wait), or else a new raw lock, held."""
    try:
        waiter = _thread_waiter.waiter
    except AttributeError:
        waiter = _thread_waiter.waiter = _event_waiter()
    if waiter is None:
        waiter = allocate_lock()
        waiter.acquire()
    return waiter


class Mailbox:
    """Messages of one process, taken by selective receive; plus the runtime's signal lane.

    Values put in a mailbox are frozen terms (or frozen runtime records), so
    the receiving thread never needs to copy them.
    """

    __slots__ = ("_lock", "_messages", "_signals", "_closed", "_waiters")

    def __init__(self, lock: threading.RLock | None = None):
        self._lock = lock if lock is not None else threading.RLock()
        self._messages: deque = deque()   # in arrival order
        self._signals: deque = deque()    # the runtime's lane, FIFO, always served first
        self._closed = False
        self._waiters: list = []          # a held raw lock per blocked thread: releasing it wakes that thread

    # -- producers ---------------------------------------------------------
    def put(self, msg: object) -> None:
        """Append a message; a closed mailbox drops it (a dead process takes nothing)."""
        with self._lock:
            self.deliver(msg)

    def deliver(self, msg: object) -> None:
        """`put` with the lock held (the runtime's, per signal)."""
        if self._closed:
            return
        self._messages.append(msg)
        if self._waiters:
            self._wake()

    def put_signal(self, item: object) -> None:
        """Give the owner one item on the signal lane (runtime use)."""
        with self._lock:
            self.hand(item)

    def hand(self, item: object, later: list | None = None) -> None:
        """`put_signal` with the lock held: the scheduler handing the run token to the owner. With
        `later`, the waiting thread's waiter goes there instead of being woken now: the caller wakes
        it once it has let the lock go, so that the thread woken finds the lock free."""
        if self._closed:
            return
        self._signals.append(item)
        if self._waiters:
            if later is None:
                self._wake()
            else:
                later.extend(self._waiters)
                self._waiters.clear()

    def close(self, wake: bool = True) -> None:
        """Drop every message; waiters and later receives raise `MailboxClosed`. With `wake` false,
        a waiter raises it only once woken (`wake`)."""
        with self._lock:
            self._closed = True
            self._messages.clear()
            self._signals.clear()
            if wake and self._waiters:
                self._wake()

    def wake(self) -> None:
        """Wake every thread blocked on this mailbox: each looks again at what it waits for."""
        with self._lock:
            if self._waiters:
                self._wake()

    def _wake(self) -> None:
        # (lock held)
        for waiter in self._waiters:
            waiter.release()
        self._waiters.clear()

    def _sleep(self, timeout: float | None, handoffs: list | None = None) -> None:
        """Block until woken or `timeout` seconds pass (lock held, released meanwhile, held again after);
        the waiters in `handoffs` are taken out and woken once the lock is let go."""
        waiter = new_waiter()
        self._waiters.append(waiter)
        saved = self._lock._release_save()   # as threading.Condition does: the RLock at any depth
        try:
            while handoffs:
                handoffs.pop().release()
            if timeout is None:
                try:
                    waiter.acquire()
                except InterruptedError:   # a signal (an eventfd read is not retried): the caller looks again
                    pass
            elif timeout > 0:
                wait_for(waiter, timeout)
        finally:
            self._lock._acquire_restore(saved)
            if waiter in self._waiters:   # not woken: timed out, or unwound by an exception
                self._waiters.remove(waiter)

    # -- consumers ---------------------------------------------------------
    def take(self, match: Callable[[object], bool] = ANY) -> tuple[bool, object]:
        """Without blocking: `(True, msg)` for the oldest match, removed; else `(False, None)`."""
        with self._lock:
            if match is ANY:
                if self._messages:
                    return True, self._messages.popleft()
                return False, None
            for i, msg in enumerate(self._messages):
                if match(msg):
                    del self._messages[i]
                    return True, msg
            return False, None

    def take_into(self, match: Callable[[object], bool], found: list) -> bool:
        """`take` as a predicate: whether there was a match; the one taken is appended to `found`."""
        if not self._messages:   # (one read: atomic; an empty mailbox is the common answer)
            return False
        with self._lock:
            return self.take_held(match, found)

    def take_held(self, match: Callable[[object], bool], found: list) -> bool:
        """`take_into` with the lock already held (the driver's `done` in the scheduler, which holds it)."""
        messages = self._messages
        if messages:
            for i, msg in enumerate(messages):
                if match(msg):
                    del messages[i]
                    found.append(msg)
                    return True
        return False

    def has(self, match: Callable[[object], bool] = ANY) -> bool:
        if not self._messages:   # (one read: atomic; an empty mailbox is the common answer)
            return False
        with self._lock:
            if match is ANY:
                return bool(self._messages)
            for m in self._messages:
                if match(m):
                    return True
            return False

    def receive(self, match: Callable[[object], bool] = ANY, timeout: float | None = None) -> tuple[str, object]:
        """Block until a signal-lane item or a matching message; `timeout` in seconds of real time.

        Returns `("signal", item)`, `("message", msg)` or `("timeout", None)`.
        Raises `MailboxClosed` if the mailbox is or becomes closed.
        `match` runs with the mailbox lock held: it must be a pure predicate.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                if self._closed:
                    raise MailboxClosed
                if self._signals:
                    return "signal", self._signals.popleft()
                found, msg = self.take(match)
                if found:
                    return "message", msg
                if deadline is None:
                    left = None
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return "timeout", None
                self._sleep(left)

    def next_signal(self) -> object:
        """Block until the signal lane has an item and return it (raises `MailboxClosed`); the
        messages are not looked at."""
        with self._lock:
            return self.await_signal()

    def await_signal(self, handoffs: list | None = None) -> object:
        """`next_signal` with the lock held (the runtime's, as a process waits for its turn); the waiters
        in `handoffs` are woken once the lock is let go, or at the end if it never is."""
        lane = self._signals
        try:
            while not lane:   # (a closed mailbox has an empty lane: `close` clears it, `hand` adds nothing)
                if self._closed:
                    raise MailboxClosed
                self._sleep(None, handoffs)
            return lane.popleft()
        finally:
            while handoffs:   # (each is taken out before it is woken: never woken twice)
                handoffs.pop().release()

    def remove(self, match: Callable[[object], bool]) -> int:
        """Remove every matching message (`demonitor(Ref, [flush])`); returns how many."""
        with self._lock:
            if not self._messages:
                return 0
            kept = [m for m in self._messages if not match(m)]
            removed = len(self._messages) - len(kept)
            if removed:   # in place: the runtime holds on to the queue (`Runtime.bif_receive`)
                self._messages.clear()
                self._messages.extend(kept)
            return removed

    def messages(self) -> tuple:
        """A snapshot of the messages not yet taken, oldest first."""
        with self._lock:
            return tuple(self._messages)

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)
