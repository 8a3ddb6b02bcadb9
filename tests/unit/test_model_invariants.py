"""The model's invariants (model/invariants.py) catch each broken world, and `replace_world` /
`replace_process` (model/world.py) equal `attrs.evolve`, hash included.

The invariants walk the tables unordered (no sort of the world per step) and
report what they find in key order; a world built wrong in one way breaks
exactly one of them.
"""

from __future__ import annotations

import attrs
import pytest

from regspec.common.records import FrozenMap
from regspec.model import invariants
from regspec.model.world import Process, new_world, replace_process, replace_world
from regspec.terms import Atom, Pid, Ref


def _world_of_three():
    world = new_world()
    for _ in range(3):
        world, _pid = world.spawn("collector")
    return world


def test_a_sound_world_has_no_violation():
    world = _world_of_three()
    world = replace_world(world, names=world.names.set(Atom("a"), Pid(1)))
    assert invariants.check(world) == ()


@pytest.mark.spec("REG-LOCAL-7")
def test_a_name_of_a_dead_process_is_reported():
    world = _world_of_three()
    world = replace_world(world, names=world.names.set(Atom("b"), Pid(2)).set(Atom("a"), Pid(1)))
    world = world.update(Pid(2), alive=False).update(Pid(1), alive=False)
    assert invariants.check(world) == ("name a maps to dead P1", "name b maps to dead P2")   # in name order


@pytest.mark.spec("REG-LOCAL-2")
def test_two_names_of_one_pid_are_reported():
    world = _world_of_three()
    world = replace_world(world, names=world.names.set(Atom("a"), Pid(1)).set(Atom("b"), Pid(1)))
    assert len(invariants.one_name_per_pid(world)) == 1
    assert invariants.check(world) == invariants.one_name_per_pid(world)


@pytest.mark.spec("PROC-1")
@pytest.mark.parametrize("next_pid", [3, 5])
def test_a_gap_or_a_missing_pid_is_reported(next_pid):
    world = replace_world(_world_of_three(), next_pid=next_pid)   # 4 numbered pids (P0..P3)
    assert invariants.check(world) == (f"pids [0, 1, 2, 3] are not 0..{next_pid - 1}",)


def test_a_dead_process_holding_a_link_or_a_monitor_is_reported():
    world = _world_of_three()
    world = world.update(Pid(3), alive=False, links=frozenset({Pid(1)}))
    world = world.update(Pid(2), alive=False, monitors=FrozenMap({Ref(1): Pid(1)}))
    found = invariants.check(world)
    assert [v.split()[1] for v in found] == [repr(Pid(2)), repr(Pid(3))]   # in pid order


def test_replace_is_evolve_without_its_field_walk():
    world = _world_of_three()
    assert replace_world(world, next_ref=7) == attrs.evolve(world, next_ref=7)
    assert hash(replace_world(world, next_ref=7)) == hash(attrs.evolve(world, next_ref=7))
    proc = world.process(Pid(1))
    assert replace_process(proc, trap_exit=True) == attrs.evolve(proc, trap_exit=True)
    assert hash(replace_process(proc, trap_exit=True)) == hash(attrs.evolve(proc, trap_exit=True))
    hash(world)   # a cached hash is not carried into the new world
    assert hash(replace_world(world, next_ref=99)) != hash(world)
    with pytest.raises(TypeError, match="World has no field 'nxt'"):
        replace_world(world, nxt=1)
    with pytest.raises(TypeError, match="Process has no field 'alvie'"):
        replace_process(proc, alvie=False)
    assert isinstance(replace_process(proc), Process)
