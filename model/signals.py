"""Exit signals, links and monitors (erts "Processes" chapter: Receiving Exit Signals, Links, Monitors).

Implements: SIG-1, SIG-2, SIG-3, SIG-4, SIG-5, LINK-1, LINK-2, LINK-3, LINK-4,
LINK-5, MON-1, MON-2, MON-3, MON-4, MON-5, MON-6, REG-LOCAL-7, PROC-5

Invariants:
- A dead process holds no links and no name; signals reaching it later are
  answered as OTP answers them (a link gets `noproc`, a monitor a `noproc`
  DOWN, anything else is dropped).
- A dying process releases its name first, then sends its link exit signals
  (newest peer first, as erts walks its link tree), then its DOWN signals (in monitor creation order).
  Each goes in flight behind every signal it sent earlier (MON-6).
"""

from __future__ import annotations


from regspec.terms import Atom, Pid, Ref

from regspec.common.records import (AliveRequest, DemonitorRequest, Down, ExitSignal, FrozenMap, LinkRequest, Message,
                                    MonitorRequest, UnlinkRequest)

from .registry_local import release_name
from .world import World

__all__ = ["exit_process", "receive_exit", "link", "unlink", "monitor", "demonitor", "deliver_message",
           "receive_down", "answer_dead", "answer_alive"]

KILL = Atom("kill")
KILLED = Atom("killed")
NORMAL = Atom("normal")
NOPROC = Atom("noproc")


def deliver_message(world: World, pid: Pid, term: object) -> World:
    """Signal handling puts a message at the end of the receiver's mailbox.

    The process's code takes it later, when it runs (see scheduler.run);
    exit, link and monitor signals, by contrast, act at once.
    """
    proc = world.processes[pid]
    return world.update(pid, mailbox=proc.mailbox + (term,))


def exit_process(world: World, pid: Pid, reason: object) -> World:
    """`pid` dies with `reason`: name first, then links, then monitors (REG-LOCAL-7, LINK-1, MON-1)."""
    proc = world.processes[pid]
    if not proc.alive:
        return world
    # REG-LOCAL-7: the name goes before any exit or DOWN signal is sent,
    # so whoever receives one already sees the name free.
    world = release_name(world, pid)
    # A dead process runs no more code: a supervisor killed while it waits for a child's ack,
    # a room killed while it computes in its init (SUP-12), leaves its code behind.
    # (Its monitors go too: the DOWNs below are sent from `proc`, the process as it was.)
    world = world.update(pid, alive=False, exit_reason=reason, links=frozenset(), mailbox=(),
                         monitors=FrozenMap(), code=None, monitored_by=FrozenMap())
    for peer in sorted(proc.links, reverse=True):
        world = world.send(pid, peer, ExitSignal(reason, link=True))
    for ref in proc.monitored_by:  # FrozenMap iterates refs in creation order
        watcher, obj = proc.monitored_by[ref]
        world = world.send(pid, watcher, Down(ref, obj, reason))
    return world


def receive_exit(world: World, pid: Pid, sender: Pid, reason: object, via_link: bool) -> World:
    """The receiving side of an exit signal (the decision table of SIG-1..3, SIG-5, LINK-2)."""
    proc = world.processes[pid]
    if via_link:
        if sender not in proc.links:
            return world  # LINK-3: the link was removed; its signal has no effect
        world = world.update(pid, links=proc.links - {sender})
    if not via_link and reason == KILL:
        # SIG-1: exit(P, kill) cannot be trapped and is reported as killed.
        return exit_process(world, pid, KILLED)
    if proc.trap_exit:
        # SIG-2, SIG-3, SIG-5: a trapping process gets every other exit signal
        # as a message, even normal, even kill over a link.
        return deliver_message(world, pid, (Atom("EXIT"), sender, reason))
    if reason == NORMAL:
        return world  # SIG-2, LINK-2: normal is ignored unless trapping
    # SIG-3, SIG-5: any other reason, `kill` over a link included, kills with that reason.
    return exit_process(world, pid, reason)


def link(world: World, pid: Pid, other: object) -> tuple[World, object]:
    """`link(Other)` called by `pid`; returns the world and the call's result.

    A result of `("error", reason)` means the call raised that error.
    """
    proc = world.processes[pid]
    if not isinstance(other, Pid):
        return world, ("error", Atom("badarg"))
    if other == pid or other in proc.links:
        return world, Atom("true")  # LINK-1: at most one link per pair
    if not world.is_alive(other):
        # LINK-4: the caller learns at once that the other side is gone.
        if proc.trap_exit:
            return deliver_message(world, pid, (Atom("EXIT"), other, NOPROC)), Atom("true")
        return world, ("error", NOPROC)
    world = world.update(pid, links=proc.links | {other})
    return world.send(pid, other, LinkRequest()), Atom("true")


def receive_link(world: World, pid: Pid, sender: Pid) -> World:
    proc = world.processes[pid]
    if sender in proc.links:
        return world   # LINK-1: at most one link per pair
    return world.update(pid, links=proc.links | {sender})


def unlink(world: World, pid: Pid, other: object) -> tuple[World, object]:
    """`unlink(Other)` called by `pid` (LINK-3): no exit signal over it has effect from now on."""
    proc = world.processes[pid]
    if not isinstance(other, Pid):
        return world, ("error", Atom("badarg"))
    if other not in proc.links:
        return world, Atom("true")
    world = world.update(pid, links=proc.links - {other})
    return world.send(pid, other, UnlinkRequest()), Atom("true")


def receive_unlink(world: World, pid: Pid, sender: Pid) -> World:
    proc = world.processes[pid]
    if sender not in proc.links:
        return world
    return world.update(pid, links=proc.links - {sender})


def monitor(world: World, pid: Pid, target: Pid, obj: object) -> tuple[World, Ref]:
    """`monitor(process, Target)` called by `pid`; `obj` is what the DOWN will name (MON-1, MON-3, MON-4)."""
    world, ref = world.make_ref()
    proc = world.processes[pid]
    world = world.update(pid, monitors=proc.monitors.set(ref, target))
    # MON-2: a dead target answers with an immediate noproc DOWN; it still
    # queues behind signals already on their way to the watcher.
    return world.send(pid, target, MonitorRequest(ref, obj)), ref


def monitor_free_name(world: World, pid: Pid, obj: object) -> tuple[World, Ref]:
    """`monitor(process, Name)` for a free local name: an immediate noproc DOWN (MON-3)."""
    world, ref = world.make_ref()
    proc = world.processes[pid]
    world = world.update(pid, monitors=proc.monitors.set(ref, None))
    return world.send(pid, pid, Down(ref, obj, NOPROC)), ref


def receive_monitor(world: World, pid: Pid, watcher: Pid, ref: Ref, obj: object) -> World:
    proc = world.processes[pid]
    return world.update(pid, monitored_by=proc.monitored_by.set(ref, (watcher, obj)))


def demonitor(world: World, pid: Pid, ref: Ref, flush: bool) -> World:
    """`demonitor(Ref[, [flush]])` called by `pid` (MON-5).

    The monitor stops at once, so a DOWN still in flight is dropped when it
    arrives; `flush` also removes a DOWN already in the mailbox, but not one
    the process has already taken out of it.
    """
    proc = world.processes[pid]
    if ref in proc.monitors:
        target = proc.monitors[ref]
        world = world.update(pid, monitors=proc.monitors.delete(ref))
        if target is not None:
            world = world.send(pid, target, DemonitorRequest(ref))
    if flush:
        proc = world.processes[pid]
        kept = tuple(m for m in proc.mailbox if not _is_down(m, ref))
        if len(kept) != len(proc.mailbox):
            world = world.update(pid, mailbox=kept)
    return world


def _is_down(term: object, ref: Ref) -> bool:
    return isinstance(term, tuple) and len(term) == 5 and term[0] == Atom("DOWN") and term[1] == ref


def receive_demonitor(world: World, pid: Pid, ref: Ref) -> World:
    proc = world.processes[pid]
    if ref not in proc.monitored_by:
        return world   # the monitor is gone already
    return world.update(pid, monitored_by=proc.monitored_by.delete(ref))


def receive_down(world: World, pid: Pid, down: Down) -> tuple[World, bool]:
    """A DOWN signal reaches its watcher; returns whether the monitor was still active."""
    proc = world.processes[pid]
    if down.ref not in proc.monitors:
        return world, False  # MON-5: demonitored before the DOWN arrived
    world = world.update(pid, monitors=proc.monitors.delete(down.ref))
    msg = (Atom("DOWN"), down.ref, Atom("process"), down.object, down.reason)
    return deliver_message(world, pid, msg), True


def answer_dead(world: World, dead: Pid, sender: Pid, payload: object) -> World:
    """A signal reaches a process that has already exited."""
    if isinstance(payload, LinkRequest):
        # LINK-4: a link to a process that turns out to be dead is answered noproc.
        return world.send(dead, sender, ExitSignal(NOPROC, link=True))
    if isinstance(payload, MonitorRequest):
        # MON-2: monitoring a process that is gone gives an immediate noproc DOWN.
        return world.send(dead, sender, Down(payload.ref, payload.object, NOPROC))
    return world  # PROC-3: messages and everything else are dropped


def answer_alive(world: World, pid: Pid, sender: Pid, request: AliveRequest) -> World:
    """`pid`, alive or not, answers `is_process_alive` once the sender's earlier signals are handled (PROC-5)."""
    answer = Atom("true") if world.is_alive(pid) else Atom("false")
    return world.send(pid, sender, Message((request.tag, answer)))
