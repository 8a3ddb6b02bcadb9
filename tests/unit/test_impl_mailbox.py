"""The impl's mailbox: selective receive in arrival order, a signal lane served first, close, flush."""

from __future__ import annotations

import threading

import pytest

from regspec.impl.mailbox import ANY, Mailbox, MailboxClosed


def test_selective_receive_takes_the_oldest_match_and_leaves_the_rest_in_order():
    box = Mailbox()
    for m in ("a", 1, "b", 2):
        box.put(m)
    assert ("message", 1) == box.receive(lambda m: isinstance(m, int))
    assert ("a", "b", 2) == box.messages()


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
