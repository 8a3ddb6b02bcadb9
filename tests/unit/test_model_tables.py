"""The world's persistent tables (`regspec.model.tables`) against a plain dict, and worlds as values.

Any sequence of `set`/`delete` leaves a table equal to the dict it
mirrors, iterating in term order, hashing as a table built from scratch
(whether its hash was known before the updates or not), and its indexes
(a name table's `name_of`, a process table's busy pids and deadlines) what
a walk over its items would find. Two worlds reached by different paths
but equal hash equal.
"""

from __future__ import annotations

import attrs
from hypothesis import given, settings, strategies as st

from regspec.common.records import DRIVER
from regspec.model import new_world, run_until_quiescent, step, to_command
from regspec.model.code import Running
from regspec.model.tables import NameTable, PMap, ProcessTable
from regspec.model.world import Process
from regspec.scenario import to_step
from regspec.terms import Atom, Pid, term_order

KEYS = st.one_of(st.integers(-3, 12), st.sampled_from([Atom(a) for a in "abcdef"]), st.sampled_from(["x", "y"]))
OPS = st.lists(st.tuples(st.booleans(), KEYS, st.integers(0, 5)), max_size=40)


def replay(table, ops, mirror: dict):
    for is_set, key, value in ops:
        if is_set:
            table, mirror[key] = table.set(key, value), value
        else:
            table = table.delete(key)
            mirror.pop(key, None)
    return table


@settings(max_examples=300, deadline=None)
@given(OPS, st.booleans())
def test_a_pmap_reads_and_hashes_as_the_dict_it_mirrors(ops, hashed_first):
    start = PMap({0: 0, Atom("a"): 1})
    if hashed_first:
        hash(start)   # from now on the hash is carried from map to map
    mirror = {0: 0, Atom("a"): 1}
    table = replay(start, ops, mirror)
    fresh = PMap(mirror)
    assert dict(table.items()) == mirror and len(table) == len(mirror)
    assert list(table) == sorted(mirror, key=term_order)
    assert table == fresh and hash(table) == hash(fresh)
    assert (table == PMap({**mirror, "other": 9})) is False


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([Atom(a) for a in "abcdef"]), st.integers(1, 9)),
                max_size=40))
def test_a_name_table_knows_each_holders_name(ops):
    table, mirror = NameTable(), {}
    for is_set, name, n in ops:
        pid = Pid(n)
        if is_set and name not in mirror and pid not in mirror.values():   # one name per pid, as register keeps
            table, mirror[name] = table.set(name, pid), pid
        elif not is_set:
            table = table.delete(name)
            mirror.pop(name, None)
    for n in range(1, 10):
        held = [name for name, holder in mirror.items() if holder == Pid(n)]
        assert table.name_of(Pid(n)) == (held[0] if held else None)
    assert table == NameTable(mirror) and hash(table) == hash(NameTable(mirror))


CODES = st.sampled_from([None, Running(print), Running(print, busy=True), Running(print, deadline=5),
                         Running(print, deadline=3)])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-2, 8), st.booleans(), CODES), max_size=40))
def test_a_process_table_indexes_busy_pids_and_deadlines(ops):
    table, mirror = ProcessTable({DRIVER: Process(pid=DRIVER, kind="driver")}), {}
    hash(table)
    mirror[DRIVER] = table[DRIVER]
    for n, alive, code in ops:
        proc = Process(pid=Pid(n), kind="collector", alive=alive, code=code)
        table, mirror[proc.pid] = table.set(proc.pid, proc), proc
    busy = [pid for pid, p in sorted(mirror.items()) if p.alive and p.code is not None and p.code.busy]
    timers = sorted((p.code.deadline, pid.n, pid) for pid, p in mirror.items()
                    if p.alive and p.code is not None and p.code.deadline is not None)
    assert table.first_busy() == (busy[0] if busy else None)
    assert table.first_timer() == ((timers[0][0], timers[0][2]) if timers else None)
    assert table == ProcessTable(mirror) and hash(table) == hash(ProcessTable(mirror))


def perform(world, op: dict):
    world, _ = step(world, to_command(to_step(op)))
    return run_until_quiescent(world)[0]


def test_equal_worlds_reached_by_different_paths_hash_equal():
    base = new_world()
    hash(base)   # one path carries its hashes from a hashed world, the other never hashed one
    a = perform(perform(base, {"op": "spawn", "kind": "collector"}), {"op": "register", "name": {"local": "x"},
                                                                       "target": {"pid": "P1"}})
    b = perform(base, {"op": "spawn", "kind": "collector"})
    b = perform(perform(b, {"op": "register", "name": {"local": "y"}, "target": {"pid": "P1"}}),
                {"op": "unregister", "name": {"local": "y"}})
    b = perform(b, {"op": "register", "name": {"local": "x"}, "target": {"pid": "P1"}})
    # the two paths differ only in what they leave in the counters and the driver's mailbox
    b = attrs.evolve(b, next_seq=a.next_seq, next_ref=a.next_ref)
    assert a == b and hash(a) == hash(b)
    assert a.name_of(Pid(1)) == Atom("x") and list(a.names) == [Atom("x")]
    assert {a: 1}[b] == 1
