"""Invariants every world satisfies, one function per rule; `check` lists the violations.

Implements: REG-LOCAL-2, REG-LOCAL-7, PROC-1, SUP-2, SUP-5

>>> from regspec.model.world import new_world
>>> check(new_world())
()
"""

from __future__ import annotations

from regspec.common.childspec import SUPERVISOR_KINDS
from regspec.common.supervision import supervised
from regspec.terms import term_order

from .world import World

__all__ = ["check", "names_are_live", "one_name_per_pid", "pids_in_creation_order", "dead_hold_nothing",
           "children_are_live"]


def names_are_live(world: World) -> tuple[str, ...]:
    """REG-LOCAL-7: every registered name maps to a live process."""
    bad = [(n, p) for n, p in world.names.unordered_items() if not world.is_alive(p)]
    return tuple(f"name {n!r} maps to dead {p!r}" for n, p in in_order(bad))


def one_name_per_pid(world: World) -> tuple[str, ...]:
    """REG-LOCAL-2: no pid holds two names (and so no name two pids)."""
    holders = [p for _, p in world.names.unordered_items()]
    if len(set(holders)) == len(holders):
        return ()
    return tuple(f"{p!r} holds several names" for p in sorted(set(holders)) if holders.count(p) > 1)


def pids_in_creation_order(world: World) -> tuple[str, ...]:
    """PROC-1: scenario pids are P0..P(n-1), each used once (processes from before step 0 have no number)."""
    # the keys are distinct: n of them, each in 0..n-1, are exactly 0..n-1 (no sort per step)
    numbered = [n for n in (proc.pid.n for proc in world.processes.unordered_values()) if n >= 0]
    if len(numbered) == world.next_pid and all(n < world.next_pid for n in numbered):
        return ()
    return (f"pids {sorted(numbered)} are not 0..{world.next_pid - 1}",)


def dead_hold_nothing(world: World) -> tuple[str, ...]:
    """A dead process holds no links, no monitors and no messages."""
    bad = [(proc.pid, proc) for proc in world.processes.unordered_values()
           if not proc.alive and (proc.links or proc.monitors or proc.monitored_by or proc.mailbox or proc.code)]
    return tuple(f"dead {pid!r} still holds links, monitors or messages" for pid, _ in in_order(bad))


def in_order(items: list) -> list:
    """Violations in key order: the walks are unordered (no sort of the world per step), their few finds are sorted."""
    return sorted(items, key=lambda item: term_order(item[0]))


def check(world: World) -> tuple[str, ...]:
    """Every violation in `world`; an empty tuple when it is sound."""
    return (names_are_live(world) + one_name_per_pid(world) + pids_in_creation_order(world)
            + dead_hold_nothing(world))


def children_are_live(world: World) -> tuple[str, ...]:
    """SUP-2, SUP-5, once the world is quiescent: a live supervisor's children are alive and none
    waits for a retried restart (a supervisor that could not restart them has given up and is gone)."""
    out = []
    sups = [(proc.pid, proc) for proc in world.processes.unordered_values()
            if proc.alive and proc.kind in SUPERVISOR_KINDS and proc.code is None]
    for pid, proc in in_order(sups):
        live, restarting = supervised(proc.state)
        out += [f"supervisor {pid!r} holds dead child {c!r}" for c in live if not world.is_alive(c)]
        if restarting:
            out.append(f"supervisor {pid!r} is quiescent with {restarting} child(ren) still restarting")
    return tuple(out)
