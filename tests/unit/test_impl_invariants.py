"""The runtime's invariants (impl/invariants.py) catch each broken state, as the model's do.

A runtime is broken here by hand (its name table written behind the BIFs'
back, a dead process given a link); `check` must name what is wrong, in the
same words as the model's, and nothing when all is sound.
"""

from __future__ import annotations

import pytest

from regspec.impl import Driver, Runtime
from regspec.impl import invariants
from regspec.terms import Atom


@pytest.fixture
def three():
    with Runtime(wait_timeout=20.0) as rt:
        d = Driver(rt)
        pids = [d.spawn() for _ in range(3)]
        rt.wait_quiescent()
        yield rt, d, pids


def test_a_sound_runtime_has_no_violation(three):
    rt, _, (p1, _, _) = three
    with rt.atomic:
        assert rt.names.register(Atom("a"), p1, True) == Atom("true")
    assert invariants.check(rt) == ()
    assert invariants.threads_match_processes(rt) == ()


@pytest.mark.spec("REG-LOCAL-2")
def test_two_names_of_one_pid_are_reported(three):
    rt, _, (p1, p2, _) = three
    with rt.atomic:
        rt.names._names.update({Atom("a"): p2, Atom("b"): p2, Atom("c"): p1})   # what register refuses
    assert invariants.check(rt) == (f"{p2!r} holds several names",)


@pytest.mark.spec("REG-LOCAL-7")
def test_a_name_of_a_dead_process_is_reported(three):
    rt, d, (p1, _, _) = three
    d.kill(p1, Atom("kill"))
    rt.wait_quiescent()
    with rt.atomic:
        rt.names._names[Atom("a")] = p1   # the name its death should have freed
    assert invariants.check(rt) == (f"name a maps to dead {p1!r}",)


def test_a_dead_process_holding_a_link_is_reported(three):
    rt, d, (p1, p2, _) = three
    d.kill(p1, Atom("kill"))
    rt.wait_quiescent()
    with rt.atomic:
        rt.process(p1).links.add(p2)
    assert invariants.check(rt) == (f"dead {p1!r} still holds links, monitors or messages",)
