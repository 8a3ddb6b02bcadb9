"""Signals, exit signals, links and monitors (erts "Processes" chapter), for the threaded runtime.

Implements: PROC-3, SIG-1, SIG-2, SIG-3, SIG-5, LINK-1, LINK-2, LINK-3,
LINK-4, LINK-5, MON-1, MON-2, MON-3, MON-4, MON-5, MON-6, REG-LOCAL-7

The same decision table as the model's `signals.py` and `scheduler.deliver`,
over the runtime's mutable `Process` records; the signals themselves are the
shared records of `regspec.common.records`. Every function here runs with
the runtime lock held, in whichever thread handles the signal: the
receiver's own thread when it is blocked in receive, the scheduler when the
receiver is busy in its own code or dead. The result does not depend on
which, because the lock makes each handling atomic.

Invariants:
- A dying process releases its name first, then sends its link exit signals
  (peers in pid order), then its DOWN signals (in monitor creation order);
  each is queued behind every signal it sent earlier (MON-6).
- A dead process holds no links, no monitors and no name; signals reaching
  it are answered as OTP answers them (`answer_dead`).
"""

from __future__ import annotations

# The signal payloads are the shared frozen records: they cross threads
# unchanged, and a signal means exactly what it means in the model.
from regspec.common.records import (AliveRequest, DemonitorRequest, Down, ExitSignal, Init, LinkRequest,
                                    MonitorRequest, Signal, UnlinkRequest)
from regspec.common.results import ErlangError
from regspec.terms import Atom, Pid, Ref

from .pcb import Process

__all__ = [
    "handle", "exit_process", "receive_exit", "link", "unlink", "monitor", "demonitor", "answer_dead",
    "deliver_message", "send", "exit_signal", "trap_exit", "monitor_send", "is_down", "HANDLERS", "MESSAGE",
]

KILL = Atom("kill")
KILLED = Atom("killed")
NORMAL = Atom("normal")
NOPROC = Atom("noproc")
TRUE = Atom("true")
FALSE = Atom("false")
EXIT = Atom("EXIT")
DOWN = Atom("DOWN")
PROCESS = Atom("process")


# The hot paths make their frozen records as attrs' generated `__init__` does (a new instance, each field
# set once with `object.__setattr__`), without its Python frame: `_new(Cls)`, then `_set_field` per field.
_new = object.__new__
_set_field = object.__setattr__


class _MessageMark:
    def __repr__(self) -> str:
        return "MESSAGE"


MESSAGE = _MessageMark()
"""The payload of a message signal, whose term the signal carries beside it (`Runtime.send`)."""


# -- the receiving side --------------------------------------------------------

def handle(rt, proc: Process, sig: Signal) -> None:
    """A live process handles one signal (the model's `scheduler.deliver`, live branch)."""
    payload = sig.payload
    if payload is MESSAGE:
        deliver_message(proc, sig.term)
        return
    try:
        handler = HANDLERS[payload.__class__]   # one lookup: the payloads are final records
    except KeyError:  # pragma: no cover - the runtime sends only the payloads below
        raise TypeError(f"unknown signal payload {payload!r}") from None
    handler(rt, proc, sig.sender, payload)


# What a live process does with each kind of signal but a message: `handler(rt, proc, sender, payload)`.
HANDLERS = {
    ExitSignal: lambda rt, proc, sender, p: receive_exit(rt, proc, sender, p.reason, p.link),
    LinkRequest: lambda rt, proc, sender, p: proc.links.add(sender),
    UnlinkRequest: lambda rt, proc, sender, p: proc.links.discard(sender),
    MonitorRequest: lambda rt, proc, sender, p: proc.monitored_by.__setitem__(p.ref.n, (sender, p.object, p.ref)),
    DemonitorRequest: lambda rt, proc, sender, p: proc.monitored_by.pop(p.ref.n, None),
    Down: lambda rt, proc, sender, p: receive_down(proc, p),
    AliveRequest: lambda rt, proc, sender, p: rt.send(proc.pid, sender, MESSAGE, (p.tag, TRUE)),
    Init: lambda rt, proc, sender, p: None,
}


def deliver_message(proc: Process, term: object) -> None:
    """Put `term` at the end of the mailbox; the process's code takes it when it runs."""
    proc.mailbox.deliver(term)   # (the runtime lock is held)


def answer_dead(rt, dead: Pid, sig: Signal) -> None:
    """A signal reaches a process that has exited (or never existed)."""
    payload = sig.payload
    if isinstance(payload, LinkRequest):
        # LINK-4: a link to a process that turns out to be dead is answered noproc.
        rt.send(dead, sig.sender, ExitSignal(NOPROC, link=True))
    elif isinstance(payload, MonitorRequest):
        # MON-2: monitoring a process that is gone gives an immediate noproc DOWN.
        rt.send(dead, sig.sender, Down(payload.ref, payload.object, NOPROC))
    elif isinstance(payload, AliveRequest):
        rt.send(dead, sig.sender, MESSAGE, (payload.tag, FALSE))
    # PROC-3: messages and everything else are dropped.


def exit_process(rt, proc: Process, reason: object) -> None:
    """`proc` dies with `reason`: name first, then links, then monitors (REG-LOCAL-7, LINK-1, MON-1)."""
    if not proc.alive:
        return
    # REG-LOCAL-7: the name goes before any exit or DOWN signal is sent, so
    # whoever handles one already sees the name free.
    rt.names.release(proc.pid)
    proc.alive = False
    proc.exit_reason = reason
    peers, proc.links = sorted(proc.links, reverse=True), set()
    proc.monitors.clear()
    for peer in peers:
        rt.send(proc.pid, peer, ExitSignal(reason, link=True))
    for n in sorted(proc.monitored_by):  # ref numbers: creation order
        watcher, obj, ref = proc.monitored_by[n]
        rt.send(proc.pid, watcher, Down(ref, obj, reason))
    proc.monitored_by.clear()
    rt.process_exited(proc)


def receive_exit(rt, proc: Process, sender: Pid, reason: object, via_link: bool) -> None:
    """The decision table of SIG-1..3, SIG-5, LINK-2."""
    if via_link:
        if sender not in proc.links:
            return  # LINK-3: the link was removed; its signal has no effect
        proc.links.discard(sender)
    if not via_link and reason == KILL:
        exit_process(rt, proc, KILLED)  # SIG-1: exit(P, kill) cannot be trapped
    elif proc.trap_exit:
        # SIG-2, SIG-3, SIG-5: a trapping process gets every other exit signal
        # as a message, even normal, even kill over a link.
        deliver_message(proc, (EXIT, sender, reason))
    elif reason != NORMAL:
        exit_process(rt, proc, reason)  # SIG-3, SIG-5; normal is ignored (SIG-2, LINK-2)


def receive_down(proc: Process, down: Down) -> bool:
    """A DOWN signal reaches its watcher; returns whether the monitor was still active (MON-5)."""
    if down.ref.n not in proc.monitors:
        return False
    del proc.monitors[down.ref.n]
    deliver_message(proc, (DOWN, down.ref, PROCESS, down.object, down.reason))
    return True


# -- BIFs a process calls on itself (through `Runtime.bif`) --------------------------

def send(rt, proc: Process, to: object, msg: object) -> None:
    """`To ! Msg`: a pid or a registered name; a free name raises badarg (PROC-4)."""
    pid = to if isinstance(to, Pid) else rt.names.whereis(to)
    if not isinstance(pid, Pid):
        raise ErlangError("error", Atom("badarg"))
    rt.send(proc.pid, pid, MESSAGE, msg)


def exit_signal(rt, proc: Process, to: Pid, reason: object) -> None:
    """`exit(To, Reason)`: only sends the signal (SIG-4)."""
    rt.send(proc.pid, to, ExitSignal(reason, link=False))


def trap_exit(rt, proc: Process, value: bool) -> bool:
    """`process_flag(trap_exit, Value)`: returns the previous value (LINK-5)."""
    old, proc.trap_exit = proc.trap_exit, value
    return old


def link(rt, proc: Process, other: object) -> Atom:
    """`link(Other)` by `proc`; raises `ErlangError` as the BIF does."""
    if not isinstance(other, Pid):
        raise ErlangError("error", Atom("badarg"))
    if other == proc.pid or other in proc.links:
        return TRUE  # LINK-1: at most one link per pair
    if not rt.is_alive(other):
        # LINK-4: the caller learns at once that the other side is gone.
        if proc.trap_exit:
            deliver_message(proc, (EXIT, other, NOPROC))
            return TRUE
        raise ErlangError("error", NOPROC)
    proc.links.add(other)
    rt.send(proc.pid, other, LinkRequest())
    return TRUE


def unlink(rt, proc: Process, other: object) -> Atom:
    """`unlink(Other)` (LINK-3): no exit signal over the link has effect from now on."""
    if not isinstance(other, Pid):
        raise ErlangError("error", Atom("badarg"))
    if other in proc.links:
        proc.links.discard(other)
        rt.send(proc.pid, other, UnlinkRequest())
    return TRUE


def monitor(rt, proc: Process, target: object) -> Ref:
    """`monitor(process, Target)`: a pid, or a local name resolved now (MON-1, MON-3, MON-4)."""
    ref = rt.new_ref()
    if isinstance(target, Pid):
        proc.monitors[ref.n] = target
        # MON-2: a dead target answers with a noproc DOWN that still queues
        # behind the signals already on their way to the watcher.
        rt.send(proc.pid, target, MonitorRequest(ref, target))
        return ref
    obj = (target, rt.node)
    holder = rt.names.whereis(target)
    if not isinstance(holder, Pid):
        proc.monitors[ref.n] = None  # MON-3: a free name gives an immediate noproc DOWN
        rt.send(proc.pid, proc.pid, Down(ref, obj, NOPROC))
        return ref
    proc.monitors[ref.n] = holder
    rt.send(proc.pid, holder, MonitorRequest(ref, obj))
    return ref


def demonitor(rt, proc: Process, ref: Ref, flush: bool) -> Atom:
    """`demonitor(Ref[, [flush]])` (MON-5): a DOWN still in flight is dropped when it arrives;
    `flush` also removes one already in the mailbox, but not one the process took out of it."""
    # None too for a monitor of a free name (nobody to tell), or for what is no ref at all:
    target = proc.monitors.pop(ref.n, None) if ref.__class__ is Ref else None
    if target is not None:
        request = _new(DemonitorRequest)
        _set_field(request, "ref", ref)   # DemonitorRequest(ref)
        rt.send(proc.pid, target, request)
    if flush and proc.mailbox._messages:   # (an empty mailbox has nothing to flush)
        proc.mailbox.remove(lambda m: is_down(m, ref))
    return TRUE


def monitor_send(rt, proc: Process, target: object, make, *args) -> tuple:
    """`Mref = monitor(process, Target), Target ! make(self(), Mref, *args)`: a request under a monitor
    (gen:do_call's first two steps); returns (Mref, the message)."""
    mref = monitor(rt, proc, target)
    msg = make(proc.pid, mref, *args)
    send(rt, proc, target, msg)
    return mref, msg


def is_down(term: object, ref: Ref) -> bool:
    """Whether `term` is `{'DOWN', Ref, process, _, _}`."""
    return isinstance(term, tuple) and len(term) == 5 and term[0] == DOWN and term[1] == ref
