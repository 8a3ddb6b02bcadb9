"""Invariants every world satisfies, one function per rule; `check` lists the violations.

Implements: REG-LOCAL-2, REG-LOCAL-7, PROC-1, SUP-2, SUP-5

>>> from regspec.model.world import new_world
>>> check(new_world())
()
"""

from __future__ import annotations

from regspec.common.childspec import SUPERVISOR_KINDS
from regspec.common.supervision import supervised

from .world import World

__all__ = ["check", "names_are_live", "one_name_per_pid", "pids_in_creation_order", "dead_hold_nothing",
           "children_are_live"]


def names_are_live(world: World) -> tuple[str, ...]:
    """REG-LOCAL-7: every registered name maps to a live process."""
    return tuple(f"name {n!r} maps to dead {p!r}" for n, p in world.names.items() if not world.is_alive(p))


def one_name_per_pid(world: World) -> tuple[str, ...]:
    """REG-LOCAL-2: no pid holds two names (and so no name two pids)."""
    holders = list(world.names.values())
    return tuple(f"{p!r} holds several names" for p in sorted(set(holders)) if holders.count(p) > 1)


def pids_in_creation_order(world: World) -> tuple[str, ...]:
    """PROC-1: scenario pids are P0..P(n-1), each used once (processes from before step 0 have no number)."""
    expected = list(range(world.next_pid))
    got = sorted(p.n for p in world.processes if p.n >= 0)
    return () if got == expected else (f"pids {got} are not 0..{world.next_pid - 1}",)


def dead_hold_nothing(world: World) -> tuple[str, ...]:
    """A dead process holds no links, no monitors and no messages."""
    out = []
    for pid, proc in world.processes.items():
        if not proc.alive and (proc.links or proc.monitors or proc.monitored_by or proc.mailbox or proc.code):
            out.append(f"dead {pid!r} still holds links, monitors or messages")
    return tuple(out)


def check(world: World) -> tuple[str, ...]:
    """Every violation in `world`; an empty tuple when it is sound."""
    return (names_are_live(world) + one_name_per_pid(world) + pids_in_creation_order(world)
            + dead_hold_nothing(world))


def children_are_live(world: World) -> tuple[str, ...]:
    """SUP-2, SUP-5, once the world is quiescent: a live supervisor's children are alive and none
    waits for a retried restart (a supervisor that could not restart them has given up and is gone)."""
    out = []
    for pid, proc in world.processes.items():
        if proc.alive and proc.kind in SUPERVISOR_KINDS and proc.code is None:
            live, restarting = supervised(proc.state)
            out += [f"supervisor {pid!r} holds dead child {c!r}" for c in live if not world.is_alive(c)]
            if restarting:
                out.append(f"supervisor {pid!r} is quiescent with {restarting} child(ren) still restarting")
    return tuple(out)
