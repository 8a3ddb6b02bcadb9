"""Elixir's DynamicSupervisor (1.14): children kept by pid, started from full child specs.

Implements: DSUP-1, DSUP-2, DSUP-3, DSUP-4, DSUP-5

It differs from simple_one_for_one (`supervisor.py`) where a scenario can
see it:

- `terminate_child` of a pid that is not (or no longer) a child is
  `{error, not_found}`, so a second one fails (DSUP-4);
- stopping children first monitors and unlinks each, in pid order, then
  signals it; they are awaited together, one timer per shutdown time
  (DSUP-2);
- a failed restart is retried from a plain `{'$gen_restart', Pid}` message
  to itself, not a cast (DSUP-5);
- `which_children` lists children by pid, oldest first (DSUP-1).

Its state records (`DynState`, `DynChild`) are shared with the runtime
(`regspec.common.supervision`).
"""

from __future__ import annotations

import attrs

from regspec.common.childspec import ChildSpec
from regspec.common.protocol import GEN_CALL, AnyDownOf, DownOf, ExitFrom
from regspec.common.records import FrozenMap, SystemStop
from regspec.common.results import ErlangError, exit_reason
from regspec.common.supervision import DynChild, DynState, add_restart, counts
from regspec.terms import Atom, ErlList, Pid

from . import starters
from .code import TIMEOUT, Die, ExitTo, Monitor, Now, Receive, Self, Send, TrapExit, Unlink

__all__ = ["init", "handle"]

OK = Atom("ok")
ERROR = Atom("error")
SHUTDOWN = Atom("shutdown")
NORMAL = Atom("normal")
KILL = Atom("kill")
KILLED = Atom("killed")
EXIT = Atom("EXIT")
GEN_RESTART = Atom("$gen_restart")


def init(me: Pid, starter: Pid, intensity: int, period: int, template):
    yield TrapExit(True)
    return DynState(intensity, period, parent=starter, template=template)


def handle(me: Pid, state: DynState, msg: object):
    if isinstance(msg, SystemStop):
        yield from terminate_children(state.children)
        yield Die(msg.reason)
    if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
        (caller, tag), request = msg[1], msg[2]
        reply, state = yield from handle_call(request, state)
        yield Send(caller, (tag, reply))
        return state
    if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == EXIT:
        if msg[1] == state.parent:
            yield from terminate_children(state.children)
            yield Die(msg[2])
        outcome, state = yield from maybe_restart_child(msg[1], msg[2], state)
        return (yield from _after(outcome, state))
    if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == GEN_RESTART:
        child = state.children.get(msg[1])
        if child is not None and child.restarting:
            outcome, state = yield from restart_child(msg[1], child, state)
            return (yield from _after(outcome, state))
    return state


def _after(outcome: str, state: DynState):
    if outcome == "shutdown":
        yield from terminate_children(state.children)
        yield Die(SHUTDOWN)
    return state


def handle_call(request: object, state: DynState):
    op = request[0] if isinstance(request, tuple) else request
    if op == Atom("start_child"):
        spec, args = (request[1], ()) if isinstance(request[1], ChildSpec) else (state.template, tuple(request[1]))
        result = yield from start_child(spec, args)
        if result[0] == OK:
            child = DynChild(spec, args)
            return result, attrs.evolve(state, children=state.children.set(result[1], child))
        return result, state
    if op == Atom("terminate_child"):
        pid = request[1]
        if pid not in state.children:
            return (ERROR, Atom("not_found")), state
        yield from terminate_children(FrozenMap({pid: state.children[pid]}))
        return OK, attrs.evolve(state, children=state.children.delete(pid))
    if op == Atom("which_children"):
        out = tuple((Atom("undefined"), Atom("restarting") if c.restarting else pid, c.spec.type)
                    for pid, c in _by_pid(state.children))
        return ErlList(out), state
    if op == Atom("count_children"):
        specs = len(state.children)
        active = sum(1 for _, c in _by_pid(state.children) if not c.restarting)
        sups = sum(1 for _, c in _by_pid(state.children) if c.spec.type == Atom("supervisor"))
        return counts(specs, active, sups, specs - sups), state
    raise ErlangError("error", Atom("function_clause"))


def start_child(spec, args):
    """DynamicSupervisor.start_child/3: an exception in the start is `{error, Reason}`."""
    try:
        return (yield from starters.start_kind(spec, args))
    except ErlangError as e:
        return (ERROR, exit_reason(e))


def _by_pid(children: FrozenMap):
    return [(pid, children[pid]) for pid in sorted(children, key=lambda p: p.n)]


def maybe_restart_child(pid: Pid, reason: object, state: DynState):
    child = state.children.get(pid)
    if child is None:
        return "ok", state
    if child.spec.restart == "permanent":
        return (yield from restart_child(pid, child, state))
    if reason in (NORMAL, SHUTDOWN) or (isinstance(reason, tuple) and len(reason) == 2 and reason[0] == SHUTDOWN):
        return "ok", _delete(pid, state)
    if child.spec.restart == "transient":
        return (yield from restart_child(pid, child, state))
    return "ok", _delete(pid, state)


def restart_child(pid: Pid, child: DynChild, state: DynState):
    now = yield Now()
    ok, state = add_restart(state, now // 1000)
    if not ok:
        return "shutdown", _delete(pid, state)
    result = yield from start_child(child.spec, child.args)
    if result[0] == OK:
        state = _delete(pid, state)
        return "ok", attrs.evolve(state, children=state.children.set(result[1], DynChild(child.spec, child.args)))
    state = attrs.evolve(state, children=state.children.set(pid, attrs.evolve(child, restarting=True)))
    me = yield Self()
    yield Send(me, (GEN_RESTART, pid))
    return "ok", state


def _delete(pid: Pid, state: DynState) -> DynState:
    return attrs.evolve(state, children=state.children.delete(pid))


def terminate_children(children: FrozenMap):
    """Monitor and unlink each child in pid order, signal it, then wait for them all (DSUP-2)."""
    waiting = {}
    timers: dict = {}
    for pid, child in _by_pid(children):
        if child.restarting:
            continue
        mon = yield Monitor(pid)
        yield Unlink(pid)
        early = yield Receive(ExitFrom(pid), timeout=0)
        if early != TIMEOUT:
            # It was already gone: wait for its DOWN and do not signal it.
            yield Receive(DownOf(mon))
            continue
        how = child.spec.shutdown
        if how == "brutal_kill":
            yield ExitTo(pid, KILL)
        else:
            yield ExitTo(pid, SHUTDOWN)
            if isinstance(how, int):
                timers.setdefault(how, []).append(pid)
        waiting[pid] = mon
    now = yield Now()
    deadlines = {now + t: pids for t, pids in timers.items()}
    while waiting:
        first = min(deadlines) if deadlines else None
        msg = yield Receive(AnyDownOf(tuple(sorted(waiting.values(), key=lambda r: r.n))), deadline=first)
        if msg == TIMEOUT:
            for pid in deadlines.pop(first):
                yield ExitTo(pid, KILL)
            continue
        waiting = {p: m for p, m in waiting.items() if m != msg[1]}

