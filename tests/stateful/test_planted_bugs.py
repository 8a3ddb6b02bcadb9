"""Tests of the tests: each planted bug, patched into the runtime here (never a flag in impl/),
must be found by the differential state machine within the CI budget.

Each test prints how long the search took and how many steps the shrunk
counterexample has (run with `-s` to see them).
"""

from __future__ import annotations

import time

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from machine import system_machine
from regspec.impl import ImplSession
from regspec.impl import signals as impl_signals
from regspec.impl.registry_local import NameTable
from regspec.terms import Atom

KILL, KILLED = Atom("kill"), Atom("killed")


def name_never_released(mp):
    """REG-LOCAL-7 broken: a dead process keeps its name."""
    mp.setattr(NameTable, "release", lambda self, pid: None)


def name_released_after_down(mp):
    """REG-LOCAL-7 broken: the name goes only once a watcher has handled the DOWN."""
    original_exit, original_down = impl_signals.exit_process, impl_signals.receive_down
    pending: list = []

    def exit_process(rt, proc, reason):
        if proc.alive and proc.monitored_by:
            release = rt.names.release
            mp.setattr(rt.names, "release", lambda pid: pending.append((rt.names, release, pid)))
            try:
                original_exit(rt, proc, reason)
            finally:
                mp.setattr(rt.names, "release", release)
        else:
            original_exit(rt, proc, reason)

    def receive_down(proc, down):
        while pending:
            _, release, pid = pending.pop()
            release(pid)
        return original_down(proc, down)

    mp.setattr(impl_signals, "exit_process", exit_process)
    mp.setattr(impl_signals, "receive_down", receive_down)


def kill_trappable(mp):
    """SIG-1 broken: a trapping process turns exit(P, kill) into a message."""
    original = impl_signals.receive_exit

    def receive_exit(rt, proc, sender, reason, via_link):
        if not via_link and reason == KILL and proc.trap_exit:
            impl_signals.deliver_message(proc, (Atom("EXIT"), sender, reason))
            return
        original(rt, proc, sender, reason, via_link)

    mp.setattr(impl_signals, "receive_exit", receive_exit)


def down_says_kill(mp):
    """MON-1 broken: a killed process is reported DOWN with `kill` instead of `killed`."""
    original = impl_signals.exit_process

    def exit_process(rt, proc, reason):
        send = rt.send

        def wrong_send(sender, receiver, payload):
            if isinstance(payload, impl_signals.Down) and payload.reason == KILLED:
                payload = impl_signals.Down(payload.ref, payload.object, KILL)
            send(sender, receiver, payload)

        mp.setattr(rt, "send", wrong_send)
        try:
            original(rt, proc, reason)
        finally:
            mp.setattr(rt, "send", send)

    mp.setattr(impl_signals, "exit_process", exit_process)


def call_to_dead_hangs(mp):
    """GS-3 broken: a monitor of a dead process gets no DOWN, so a call to it waits for ever."""
    original = impl_signals.answer_dead

    def answer_dead(rt, dead, sig):
        if isinstance(sig.payload, impl_signals.MonitorRequest):
            return
        original(rt, dead, sig)

    mp.setattr(impl_signals, "answer_dead", answer_dead)


BUGS = [
    pytest.param(name_never_released, marks=pytest.mark.spec("REG-LOCAL-7"), id="name-not-removed-at-death"),
    pytest.param(name_released_after_down, marks=pytest.mark.spec("REG-LOCAL-7"), id="name-removed-after-down"),
    pytest.param(kill_trappable, marks=pytest.mark.spec("SIG-1"), id="kill-trappable"),
    pytest.param(down_says_kill, marks=pytest.mark.spec("MON-1"), id="down-wrong-reason"),
    pytest.param(call_to_dead_hangs, marks=pytest.mark.spec("GS-3"), id="call-to-dead-hangs"),
]

BUDGET = settings(max_examples=300, stateful_step_count=40, deadline=None, database=None, derandomize=True)


@pytest.mark.parametrize("plant", BUGS)
def test_the_state_machine_finds_the_planted_bug(plant, monkeypatch, capsys):
    plant(monkeypatch)
    last: dict = {}

    class Machine(system_machine(lambda: ImplSession("a"))):
        def teardown(self):
            last["steps"] = list(self.steps)
            super().teardown()

    start = time.perf_counter()
    with pytest.raises(AssertionError):
        run_state_machine_as_test(Machine, settings=BUDGET)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n  planted bug {plant.__name__}: found and shrunk in {elapsed:.2f} s; "
              f"counterexample of {len(last['steps'])} steps")
    assert last["steps"], "the failing example ran no step"
