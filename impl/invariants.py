"""Invariants the runtime's state satisfies between steps, as in `model/invariants.py`.

Implements: REG-LOCAL-2, REG-LOCAL-7, PROC-1, SUP-2, SUP-5

Checked with the runtime lock held, so the state cannot move meanwhile;
`check` lists the violations.

>>> from regspec.impl.runtime import Runtime
>>> with Runtime() as rt:
...     check(rt)
()
"""

from __future__ import annotations

from regspec.common.childspec import SUPERVISOR_KINDS
from regspec.common.supervision import supervised

from .runtime import live_threads

__all__ = ["check", "threads_match_processes", "children_are_live"]


def check(rt) -> tuple[str, ...]:
    """Every violation in `rt`'s current state; an empty tuple when it is sound."""
    with rt.atomic:
        procs = rt.processes()
        names = rt.names.items()
        out = [f"name {n!r} maps to dead {p!r}" for n, p in names if not rt.is_alive(p)]   # REG-LOCAL-7
        holders = [p for _, p in names]
        if len(set(holders)) != len(holders):   # sorting pids is most of a check's cost: only when one repeats
            out += [f"{p!r} holds several names" for p in sorted(set(holders)) if holders.count(p) > 1]  # REG-LOCAL-2
        numbered = [p.pid.n for p in procs if p.pid.n >= 0]   # processes from before step 0 have no number
        if numbered != list(range(len(numbered))):                                       # PROC-1
            out.append(f"pids {numbered} are not 0..{len(numbered) - 1}")
        out += [f"dead {p.pid!r} still holds links, monitors or messages" for p in procs
                if not p.alive and (p.links or p.monitors or p.monitored_by or len(p.mailbox))]
        return tuple(out)


def threads_match_processes(rt, join_timeout: float = 5.0) -> tuple[str, ...]:
    """The runtime runs one thread per live process that has had a turn (its thread starts at its first
    turn), and none for a dead one.

    A dead process's thread may still be unwinding when its step ends, so it
    is joined first (a real barrier, with a deadline); call this without
    holding the runtime lock.
    """
    procs = [p for p in rt.processes() if p.thread is not None and p.started]
    for p in procs:
        if not p.alive and p.thread.is_alive():
            p.thread.join(join_timeout)
    running = set(live_threads())
    mine = {p.thread for p in procs}
    live = [p for p in procs if p.alive]
    out = [f"live {p.pid!r} has no running thread" for p in live if not p.thread.is_alive()]
    out += [f"dead {p.pid!r} still has a running thread" for p in procs if not p.alive and p.thread.is_alive()]
    if len(running & mine) != len(live):
        out.append(f"{len(running & mine)} threads run for {len(live)} live processes")
    return tuple(out)


def children_are_live(rt) -> tuple[str, ...]:
    """As the model's: once quiescent, a live supervisor's children are alive and none is restarting.

    A supervisor publishes its state each time it waits for its next message (`Process.state`).
    """
    out = []
    with rt.atomic:
        for proc in rt.processes():
            if proc.alive and proc.kind in SUPERVISOR_KINDS and proc.state is not None:
                live, restarting = supervised(proc.state)
                out += [f"supervisor {proc.pid!r} holds dead child {c!r}" for c in live if not rt.is_alive(c)]
                if restarting:
                    out.append(f"supervisor {proc.pid!r} is quiescent with {restarting} child(ren) still restarting")
    return tuple(out)
