"""Elixir's DynamicSupervisor (1.14) in the threaded runtime: children kept by pid.

Implements: DSUP-1, DSUP-2, DSUP-3, DSUP-4, DSUP-5

The same functions as `regspec.model.dynamic_supervisor`, run by the
supervisor's own thread; the state records (`DynState`, `DynChild`) are
shared with the model (`regspec.common.supervision`).
"""

from __future__ import annotations

import attrs

from regspec.common.childspec import ChildSpec
from regspec.common.protocol import GEN_CALL, AnyDownOf, DownOf, ExitFrom
from regspec.common.records import FrozenMap, SystemStop
from regspec.common.results import ErlangError, exit_reason
from regspec.common.supervision import DynChild, DynState, add_restart, counts
from regspec.terms import Atom, ErlList, Pid

from . import kind_table, supervisor
from .process import TIMEOUT, Context

__all__ = ["init", "loop", "handle"]

OK = Atom("ok")
ERROR = Atom("error")
SHUTDOWN = Atom("shutdown")
NORMAL = Atom("normal")
KILL = Atom("kill")
EXIT = Atom("EXIT")
GEN_RESTART = Atom("$gen_restart")


def init(ctx: Context, starter: Pid, intensity: int, period: int, template) -> DynState:
    ctx.trap_exit(True)
    return DynState(intensity, period, parent=starter, template=template)


def loop(ctx: Context, state: DynState) -> None:
    supervisor.loop(ctx, state, handle)


def handle(ctx: Context, state: DynState, msg: object) -> DynState:
    if isinstance(msg, SystemStop):
        terminate_children(ctx, state.children)
        ctx.exit(msg.reason)
    if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
        (caller, tag), request = msg[1], msg[2]
        reply, state = handle_call(ctx, request, state)
        ctx.send(caller, (tag, reply))
        return state
    if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == EXIT:
        if msg[1] == state.parent:
            terminate_children(ctx, state.children)
            ctx.exit(msg[2])
        outcome, state = maybe_restart_child(ctx, msg[1], msg[2], state)
        return _after(ctx, outcome, state)
    if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == GEN_RESTART:
        child = state.children.get(msg[1])
        if child is not None and child.restarting:
            outcome, state = restart_child(ctx, msg[1], child, state)
            return _after(ctx, outcome, state)
    return state


def _after(ctx: Context, outcome: str, state: DynState) -> DynState:
    if outcome == "shutdown":
        terminate_children(ctx, state.children)
        ctx.exit(SHUTDOWN)
    return state


def handle_call(ctx: Context, request: object, state: DynState) -> tuple:
    op = request[0] if isinstance(request, tuple) else request
    if op == Atom("start_child"):
        spec, args = (request[1], ()) if isinstance(request[1], ChildSpec) else (state.template, tuple(request[1]))
        result = start_child(ctx, spec, args)
        if result[0] == OK:
            return result, attrs.evolve(state, children=state.children.set(result[1], DynChild(spec, args)))
        return result, state
    if op == Atom("terminate_child"):
        pid = request[1]
        if pid not in state.children:
            return (ERROR, Atom("not_found")), state   # DSUP-4
        terminate_children(ctx, FrozenMap({pid: state.children[pid]}))
        return OK, attrs.evolve(state, children=state.children.delete(pid))
    if op == Atom("which_children"):
        return ErlList(tuple((Atom("undefined"), Atom("restarting") if c.restarting else pid, c.spec.type)
                             for pid, c in _by_pid(state.children))), state
    if op == Atom("count_children"):
        children = _by_pid(state.children)
        active = sum(1 for _, c in children if not c.restarting)
        sups = sum(1 for _, c in children if c.spec.type == Atom("supervisor"))
        return counts(len(children), active, sups, len(children) - sups), state
    raise ErlangError("error", Atom("function_clause"))


def start_child(ctx: Context, spec, args: tuple) -> tuple:
    """DynamicSupervisor.start_child/3: an exception in the start is `{error, Reason}`."""
    try:
        return kind_table.start_kind(ctx, spec, args)
    except ErlangError as e:
        return (ERROR, exit_reason(e))


def _by_pid(children: FrozenMap) -> list:
    return [(pid, children[pid]) for pid in sorted(children, key=lambda p: p.n)]


def maybe_restart_child(ctx: Context, pid: Pid, reason: object, state: DynState) -> tuple:
    child = state.children.get(pid)
    if child is None:
        return "ok", state
    if child.spec.restart == "permanent":
        return restart_child(ctx, pid, child, state)
    if reason in (NORMAL, SHUTDOWN) or (isinstance(reason, tuple) and len(reason) == 2 and reason[0] == SHUTDOWN):
        return "ok", _delete(pid, state)
    if child.spec.restart == "transient":
        return restart_child(ctx, pid, child, state)
    return "ok", _delete(pid, state)


def restart_child(ctx: Context, pid: Pid, child: DynChild, state: DynState) -> tuple:
    ok, state = add_restart(state, ctx.now() // 1000)
    if not ok:
        return "shutdown", _delete(pid, state)
    result = start_child(ctx, child.spec, child.args)
    if result[0] == OK:
        state = _delete(pid, state)
        return "ok", attrs.evolve(state, children=state.children.set(result[1], DynChild(child.spec, child.args)))
    state = attrs.evolve(state, children=state.children.set(pid, attrs.evolve(child, restarting=True)))
    ctx.send(ctx.pid, (GEN_RESTART, pid))   # DSUP-5: a plain message, not a cast
    return "ok", state


def _delete(pid: Pid, state: DynState) -> DynState:
    return attrs.evolve(state, children=state.children.delete(pid))


def terminate_children(ctx: Context, children: FrozenMap) -> None:
    """Monitor and unlink each child in pid order, signal it, then wait for them all (DSUP-2)."""
    waiting: dict = {}
    timers: dict = {}
    for pid, child in _by_pid(children):
        if child.restarting:
            continue
        mon = ctx.monitor(pid)
        ctx.unlink(pid)
        if ctx.receive(ExitFrom(pid).matches, timeout=0) is not TIMEOUT:
            ctx.receive(DownOf(mon).matches)   # already gone: wait for its DOWN, do not signal it
            continue
        how = child.spec.shutdown
        if how == "brutal_kill":
            ctx.exit_signal(pid, KILL)
        else:
            ctx.exit_signal(pid, SHUTDOWN)
            if isinstance(how, int):
                timers.setdefault(how, []).append(pid)
        waiting[pid] = mon
    now = ctx.now()
    deadlines = {now + t: pids for t, pids in timers.items()}
    while waiting:
        first = min(deadlines) if deadlines else None
        msg = ctx.receive(AnyDownOf(tuple(sorted(waiting.values(), key=lambda r: r.n))).matches, deadline=first)
        if msg is TIMEOUT:
            for pid in deadlines.pop(first):
                ctx.exit_signal(pid, KILL)
            continue
        waiting = {p: m for p, m in waiting.items() if m != msg[1]}
