"""The impl's mailbox: selective receive in arrival order, a signal lane served first, close, flush;
what a blocked thread waits on (`new_waiter`) and the hand-offs that wake another thread once the
lock is let go."""

from __future__ import annotations

import os
import signal
import threading
from _thread import allocate_lock

import pytest

from regspec.impl import mailbox
from regspec.impl.mailbox import ANY, EventWaiter, Mailbox, MailboxClosed, new_waiter, wait_for


def test_selective_receive_takes_the_oldest_match_and_leaves_the_rest_in_order():
    box = Mailbox()
    for m in ("a", 1, "b", 2):
        box.put(m)
    assert ("message", 1) == box.receive(lambda m: isinstance(m, int))
    assert ("a", "b", 2) == box.messages()



def test_take_held_takes_as_take_into_does():
    """`take_held` (the driver's `done`, run with the lock held) is `take_into` without taking the lock:
    the oldest match, appended to `found`, the rest left in order; False with nothing to take."""
    is_int = lambda m: isinstance(m, int)
    for take in ("take_into", "take_held"):
        box, found = Mailbox(), []
        assert not getattr(box, take)(is_int, found)
        for m in ("a", 1, "b", 2):
            box.put(m)
        with box._lock:
            assert getattr(box, take)(is_int, found) and getattr(box, take)(is_int, found)
            assert not getattr(box, take)(is_int, found)
        assert ([1, 2], ("a", "b")) == (found, box.messages()), take

def test_the_signal_lane_is_served_before_any_message():
    box = Mailbox()
    box.put("msg")
    box.put_signal("sig")
    assert ("signal", "sig") == box.receive(ANY)
    assert ("message", "msg") == box.receive(ANY)


def test_receive_times_out_when_nothing_matches():
    box = Mailbox()
    box.put("other")
    assert ("timeout", None) == box.receive(lambda m: m == "wanted", timeout=0.01)
    assert ("other",) == box.messages()


def test_a_blocked_receiver_wakes_for_a_matching_message_from_another_thread():
    box = Mailbox()
    got = []
    t = threading.Thread(target=lambda: got.append(box.receive(lambda m: m == "yes")))
    t.start()
    box.put("no")
    box.put("yes")
    t.join(10)
    assert [("message", "yes")] == got
    assert ("no",) == box.messages()


def test_close_wakes_a_waiter_and_drops_later_messages():
    box = Mailbox()
    errors = []

    def wait():
        try:
            box.next_signal()
        except MailboxClosed:
            errors.append("closed")
    t = threading.Thread(target=wait)
    t.start()
    box.close()
    t.join(10)
    assert ["closed"] == errors
    box.put("late")
    assert () == box.messages()
    with pytest.raises(MailboxClosed):
        box.receive(ANY, timeout=0)


@pytest.mark.spec("MON-5")
def test_remove_flushes_only_matching_messages():
    box = Mailbox()
    for m in ("down1", "keep", "down2"):
        box.put(m)
    assert 2 == box.remove(lambda m: m.startswith("down"))
    assert ("keep",) == box.messages()


# -- waiters and hand-offs -----------------------------------------------------------------

def _waiters_of_a_new_thread() -> list:
    got: list = []
    thread = threading.Thread(target=lambda: got.extend(new_waiter() for _ in range(2)))
    thread.start()
    thread.join(10)
    return got


@pytest.mark.skipif(not hasattr(os, "eventfd"), reason="eventfd is Linux's")
def test_a_thread_waits_on_an_eventfd_of_its_own():
    first, second = _waiters_of_a_new_thread()
    assert isinstance(first, EventWaiter) and first is second


def test_past_event_fds_threads_a_thread_waits_on_a_new_raw_lock_each_time(monkeypatch):
    """Also what every thread does where there is no eventfd."""
    monkeypatch.setattr(mailbox, "_event_fds", [])
    first, second = _waiters_of_a_new_thread()
    assert first is not second and first.locked() and second.locked()   # held raw locks


@pytest.mark.skipif(not hasattr(os, "eventfd"), reason="eventfd is Linux's")
def test_an_event_waiter_woken_after_its_wait_timed_out_returns_at_once_from_the_next():
    """A late wake stays in the counter: the next wait returns (each wait here is in a loop that looks
    again); the fd goes back when the waiter goes."""
    before = len(mailbox._event_fds)
    waiter = mailbox._event_waiter()
    assert before - 1 == len(mailbox._event_fds)
    assert not wait_for(waiter, 0.01)
    waiter.release()
    assert wait_for(waiter, 10)
    waiter.release()
    waiter.acquire()
    del waiter
    assert before == len(mailbox._event_fds)


def _held() -> object:
    lock = allocate_lock()
    lock.acquire()
    return lock


def test_await_signal_wakes_its_handoffs_whether_it_waits_or_not():
    box = Mailbox()
    # An item is there: no wait, the hand-off is woken all the same.
    box.put_signal("go")
    handoff = _held()
    with box._lock:
        assert "go" == box.await_signal([handoff])
    assert handoff.acquire(False)
    # It waits: the hand-off is woken once the lock is let go, so the thread woken can take it.
    handoff, got = _held(), []

    def wait():
        with box._lock:
            got.append(box.await_signal([handoff]))
    thread = threading.Thread(target=wait)
    thread.start()
    assert handoff.acquire(True, 10)
    assert box._lock.acquire(False)   # free: the waiting thread let it go before it woke us
    box.hand("turn")
    box._lock.release()
    thread.join(10)
    assert ["turn"] == got
    # Closed: MailboxClosed, and the hand-off woken.
    box.close()
    handoff = _held()
    with box._lock, pytest.raises(MailboxClosed):
        box.await_signal([handoff])
    assert handoff.acquire(False)


def test_a_hand_with_later_leaves_the_waiter_for_the_caller_to_wake():
    box, later, got, waiting = Mailbox(), [], [], _held()

    def wait():
        with box._lock:
            got.append(box.await_signal([waiting]))
    thread = threading.Thread(target=wait)
    thread.start()
    assert waiting.acquire(True, 10)   # it waits now
    with box._lock:
        box.hand("turn", later)
    assert 1 == len(later) and thread.is_alive()
    later.pop().release()
    thread.join(10)
    assert ["turn"] == got


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="no pthread_kill on this platform")
def test_a_wait_interrupted_by_a_signal_waits_on():
    """A signal delivered to a thread blocked for its next item (an eventfd read, which CPython does not
    retry after EINTR) leaves it waiting: it gets the item, not an InterruptedError."""
    box, got, errors, handled = Mailbox(), [], [], []
    handoff = _held()

    def wait():
        try:
            with box._lock:
                got.append(box.await_signal([handoff]))
        except BaseException as exc:   # noqa: BLE001 - what the test looks for
            errors.append(exc)
    previous = signal.signal(signal.SIGUSR1, lambda *_: handled.append(1))
    try:
        thread = threading.Thread(target=wait)
        thread.start()
        assert handoff.acquire(True, 10)   # it lets the lock go just before it waits
        while len(handled) < 20 and thread.is_alive():
            signal.pthread_kill(thread.ident, signal.SIGUSR1)
        with box._lock:
            box.hand("turn")
        thread.join(10)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert ([], ["turn"]) == (errors, got)
