"""supervisor in the threaded runtime: static supervisors and simple_one_for_one (OTP `supervisor.erl`).

Implements: SUP-1, SUP-2, SUP-3, SUP-4, SUP-5, SUP-6, SUP-7, SUP-9, SUP-10, SUP-11, DSUP-1, DSUP-2, DSUP-3

The same functions as `regspec.model.supervisor`, run by the supervisor's
own thread: each signal it sends and each wait is a BIF of its `Context`.
The children's bookkeeping (`SupState`, `Child`, restart counting, finding
and deleting children) is pure data shared with the model
(`regspec.common.supervision`); what the process does with it (start, stop
and wait for children) is the runtime's own, here.
"""

from __future__ import annotations

import attrs

from regspec.common.childspec import ChildSpec
from regspec.common.protocol import GEN_CALL, GEN_CAST, AnyDownOf, DownOf, ExitFrom
from regspec.common.records import FrozenMap, SystemStop
from regspec.common.results import ErlangError, exit_reason
from regspec.common.supervision import (Child, Restarting, SupState, add_restart, child_record, counts, del_child,
                                        find_child_and_args, set_pid, split_child)
from regspec.terms import Atom, ErlList, Pid

from . import gen, kind_table
from .process import TIMEOUT, Context

__all__ = ["init", "init_dynamic", "loop", "handle", "shutdown", "unlink_flush"]

UNDEFINED = Atom("undefined")
SHUTDOWN = Atom("shutdown")
NORMAL = Atom("normal")
KILL = Atom("kill")
OK = Atom("ok")
ERROR = Atom("error")
EXIT = Atom("EXIT")
SOFO = Atom("simple_one_for_one")


# -- init ----------------------------------------------------------------------

def init(ctx: Context, starter: Pid, strategy: Atom, intensity: int, period: int, specs: tuple) -> SupState:
    """`supervisor:init/1` for a static supervisor: start every child in spec order."""
    ctx.trap_exit(True)
    state = SupState(strategy, intensity, period, parent=starter)
    ids = tuple(s.id for s in specs)
    seen: set = set()
    for i in ids:
        if i in seen:
            raise gen.Stop((Atom("start_spec"), (Atom("duplicate_child_name"), i)))
        seen.add(i)
    db = FrozenMap({s.id: Child(s.id, UNDEFINED, s) for s in specs})
    ok, children, reason = start_children(ctx, (ids, db))
    if not ok:
        terminate_children(ctx, children)
        raise gen.Stop((SHUTDOWN, reason))
    return attrs.evolve(state, ids=children[0], db=children[1])


def init_dynamic(ctx: Context, starter: Pid, intensity: int, period: int, template) -> SupState:
    """simple_one_for_one: one child spec, the template; no child starts yet."""
    ctx.trap_exit(True)
    db = FrozenMap({template.id: Child(template.id, UNDEFINED, template)})
    return SupState(SOFO, intensity, period, parent=starter, ids=(template.id,), db=db)


def start_children(ctx: Context, children) -> tuple:
    """Start `(ids in start order, db)`; returns `(ok, (ids in termination order, db), reason)`."""
    ids, db = children
    acc: tuple = ()
    for n, cid in enumerate(ids):
        child = db[cid]
        result = do_start_child(ctx, child)
        if result[0] == OK:
            db = db.set(cid, attrs.evolve(child, pid=result[1]))
            acc = (cid,) + acc
        else:
            rest = tuple(reversed(ids[n + 1:]))
            return False, (rest + (cid,) + acc, db), (Atom("failed_to_start_child"), cid, result[1])
    return True, (acc, db), None


def do_start_child(ctx: Context, child: Child) -> tuple:
    return catch_start(ctx, child.spec, child.args)


def catch_start(ctx: Context, spec, args: tuple) -> tuple:
    """`catch apply(M, F, A)` around a child's start: an exception is `{error, {'EXIT', Reason}}`."""
    try:
        return kind_table.start_kind(ctx, spec, args)
    except ErlangError as e:
        return (ERROR, (EXIT, exit_reason(e)))


# -- the server loop -------------------------------------------------------------

def loop(ctx: Context, state: SupState, handle_message=None) -> None:
    """gen_server:loop over a supervisor's callbacks (`handle` unless given); ends only by exiting.

    Each time it waits for a message it publishes its state (`Process.state`),
    which `invariants.children_are_live` reads.
    """
    handle_message = handle_message or handle
    while True:
        ctx.atomic(_publish, state)
        msg = ctx.receive()
        ctx.atomic(_publish, None)   # while it handles the message, its state is its own
        state = handle_message(ctx, state, msg)


def handle(ctx: Context, state: SupState, msg: object) -> SupState:
    """One message through the supervisor's gen_server loop; returns the new state."""
    if isinstance(msg, SystemStop):
        terminate(ctx, state)
        ctx.exit(msg.reason)
    try:
        if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
            (caller, tag), request = msg[1], msg[2]
            reply, state = handle_call(ctx, request, state)
            ctx.send(caller, (tag, reply))
            return state
        if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == GEN_CAST:
            return handle_cast(ctx, msg[1], state)
    except ErlangError as e:
        # SUP-4: a callback that crashes makes gen_server run terminate/2 (the children stop).
        terminate(ctx, state)
        ctx.exit(exit_reason(e))
    if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == EXIT:
        if msg[1] == state.parent:
            terminate(ctx, state)   # SUP-7: only the parent's exit signal stops the supervisor
            ctx.exit(msg[2])
        outcome, state = restart_child(ctx, msg[1], msg[2], state)
        if outcome == "shutdown":
            terminate(ctx, state)
            ctx.exit(SHUTDOWN)
        return state
    return state  # "Supervisor received unexpected message": logged and dropped


def handle_call(ctx: Context, request: object, state: SupState) -> tuple:
    op = request[0] if isinstance(request, tuple) else request
    if op == Atom("start_child"):
        if state.is_simple:
            return _start_dynamic_child(ctx, request[1], state)
        return handle_start_child(ctx, request[1], state)
    if op == Atom("terminate_child"):
        target = request[1]
        if state.is_simple and not isinstance(target, Pid):
            return (ERROR, SOFO), state
        child = ctx.atomic(_find_child, target, state)
        if child is None:
            return (ERROR, Atom("not_found")), state
        do_terminate(ctx, child)
        return OK, del_child(child, state)
    if op == Atom("which_children"):
        return ErlList(_which_children(state)), state
    if op == Atom("count_children"):
        return ctx.atomic(_count_children, state), state
    raise ErlangError("error", Atom("function_clause"))


def _start_dynamic_child(ctx: Context, extra_args: tuple, state: SupState) -> tuple:
    if not isinstance(extra_args, tuple):
        # A whole child spec: `A ++ Spec` is an improper list, which apply/3 refuses.
        return (ERROR, (Atom("EXIT"), (Atom("badarg"), ErlList(())))), state
    template = state.db[state.ids[0]]
    args = template.args + tuple(extra_args)
    result = catch_start(ctx, template.spec, args)
    if result[0] == OK:
        return (OK, result[1]), attrs.evolve(state, dyn=state.dyn.set(result[1], args))
    return result, state


def handle_start_child(ctx: Context, spec, state: SupState) -> tuple:
    if not isinstance(spec, ChildSpec):
        return (ERROR, (Atom("invalid_child_spec"), ErlList(spec))), state  # an args array: no child spec
    existing = state.db.get(spec.id)
    if existing is None:
        result = do_start_child(ctx, Child(spec.id, UNDEFINED, spec))
        if result[0] == OK:
            child = Child(spec.id, result[1], spec)
            return (OK, result[1]), attrs.evolve(state, ids=(spec.id,) + state.ids, db=state.db.set(spec.id, child))
        return (ERROR, (result[1], child_record(spec.id))), state
    if isinstance(existing.pid, Pid):
        return (ERROR, (Atom("already_started"), existing.pid)), state
    return (ERROR, Atom("already_present")), state


def handle_cast(ctx: Context, msg: object, state: SupState) -> SupState:
    if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == Atom("try_again_restart"):
        child = find_child_and_args(msg[1], state)
        if child is not None and isinstance(child.pid, Restarting):
            outcome, state = restart(ctx, child, state)
            if outcome == "shutdown":
                terminate(ctx, state)
                ctx.exit(SHUTDOWN)
        return state
    raise ErlangError("error", Atom("function_clause"))  # supervisor.erl has no other handle_cast clause


# -- restarts -------------------------------------------------------------------

def restart_child(ctx: Context, pid: Pid, reason: object, state: SupState) -> tuple:
    child = find_child_and_args(pid, state)
    if child is None:
        return "ok", state  # an exit from a process that is not a child
    return do_restart(ctx, reason, child, state)


def do_restart(ctx: Context, reason: object, child: Child, state: SupState) -> tuple:
    """SUP-2: permanent always restarts; transient unless normal/shutdown; temporary never."""
    if child.restart == "permanent":
        return restart(ctx, child, state)
    if reason in (NORMAL, SHUTDOWN) or (isinstance(reason, tuple) and len(reason) == 2 and reason[0] == SHUTDOWN):
        return "ok", del_child(child, state)
    if child.restart == "transient":
        return restart(ctx, child, state)
    return "ok", del_child(child, state)


def restart(ctx: Context, child: Child, state: SupState) -> tuple:
    ok, state = add_restart(state, ctx.now() // 1000)
    if not ok:
        # SUP-5: one restart too many; the caller stops the other children and exits shutdown.
        return "shutdown", del_child(child, state)
    outcome, state, try_again = _restart_by_strategy(ctx, child, state)
    if try_again is not None:
        # SUP-9: give the loop a chance to see other messages before trying again.
        ctx.send(ctx.pid, (GEN_CAST, (Atom("try_again_restart"), try_again)))
    return outcome, state


def _restart_by_strategy(ctx: Context, child: Child, state: SupState) -> tuple:
    strategy = state.strategy.name
    if strategy == "simple_one_for_one":
        old = child.pid
        dyn_restarts = state.dynamic_restarts - 1 if isinstance(old, Restarting) else state.dynamic_restarts
        dyn = state.dyn.delete(old)
        result = catch_start(ctx, child.spec, child.args)
        if result[0] == OK:
            return "ok", attrs.evolve(state, dyn=dyn.set(result[1], child.args), dynamic_restarts=dyn_restarts), None
        key = old if isinstance(old, Restarting) else Restarting(old)
        return "ok", attrs.evolve(state, dyn=dyn.set(key, child.args), dynamic_restarts=dyn_restarts + 1), key
    if strategy == "one_for_one":
        result = do_start_child(ctx, child)
        if result[0] == OK:
            return "ok", set_pid(state, child.id, result[1]), None
        old = child.pid if isinstance(child.pid, Restarting) else Restarting(child.pid)
        return "ok", set_pid(state, child.id, old), child.id
    if strategy == "rest_for_one":
        after, before = split_child(child.id, state)
        outcome, after2, try_again = _restart_multiple(ctx, child, after)
        state = attrs.evolve(state, ids=after2[0] + before[0], db=FrozenMap({**dict(before[1]), **dict(after2[1])}))
        return outcome, state, try_again
    # one_for_all
    db = state.db.set(child.id, attrs.evolve(state.db[child.id], pid=UNDEFINED))
    outcome, children, try_again = _restart_multiple(ctx, child, (state.ids, db))
    return outcome, attrs.evolve(state, ids=children[0], db=children[1]), try_again


def _restart_multiple(ctx: Context, child: Child, children) -> tuple:
    """Stop `children` (termination order), then start them again in start order (SUP-1)."""
    children = terminate_children(ctx, children)
    ok, started, reason = start_children(ctx, children)
    if ok:
        return "ok", started, None
    failed = reason[1]
    new_pid = (child.pid if isinstance(child.pid, Restarting) else Restarting(child.pid)) \
        if failed == child.id else Restarting(UNDEFINED)
    ids, db = started
    return "ok", (ids, db.set(failed, attrs.evolve(db[failed], pid=new_pid))), failed


# -- stopping children ------------------------------------------------------------

def terminate(ctx: Context, state: SupState) -> None:
    """gen_server terminate: stop every child (SUP-4), dynamic ones all at once (DSUP-2)."""
    if state.is_simple:
        terminate_dynamic_children(ctx, state)
    else:
        terminate_children(ctx, (state.ids, state.db))


def terminate_children(ctx: Context, children) -> tuple:
    """Stop children in the order given (last started first); returns them in start order."""
    ids, db = children
    acc: tuple = ()
    for cid in ids:
        child = db[cid]
        do_terminate(ctx, child)
        if child.restart == "temporary":
            db = db.delete(cid)
        else:
            db = db.set(cid, attrs.evolve(child, pid=UNDEFINED))
            acc = (cid,) + acc
    return acc, db


def do_terminate(ctx: Context, child: Child) -> None:
    if isinstance(child.pid, Pid):
        shutdown(ctx, child.pid, child.shutdown)


def shutdown(ctx: Context, pid: Pid, how: object) -> object:
    """`supervisor:shutdown/1` (SUP-6): returns the child's exit reason."""
    mon = ctx.monitor(pid)
    if how == "brutal_kill":
        ctx.exit_signal(pid, KILL)
        msg = ctx.receive(DownOf(mon).matches)
    else:
        ctx.exit_signal(pid, SHUTDOWN)
        msg = ctx.receive(DownOf(mon).matches, timeout=None if how == "infinity" else how)
        if msg is TIMEOUT:
            ctx.exit_signal(pid, KILL)
            msg = ctx.receive(DownOf(mon).matches)
    return unlink_flush(ctx, pid, msg[4])


def unlink_flush(ctx: Context, pid: Pid, default: object) -> object:
    """Unlink, and take the child's EXIT if it is already here; its reason wins."""
    ctx.unlink(pid)
    msg = ctx.receive(ExitFrom(pid).matches, timeout=0)
    return default if msg is TIMEOUT else msg[2]


def terminate_dynamic_children(ctx: Context, state: SupState) -> None:
    """simple_one_for_one: signal every child in pid order, then wait for all DOWNs under one timer."""
    template = state.db[state.ids[0]]
    waiting = {}
    for key in sorted(state.dyn, key=_dyn_key):
        if isinstance(key, Pid):
            mon = ctx.monitor(key)
            ctx.exit_signal(key, KILL if template.shutdown == "brutal_kill" else SHUTDOWN)
            waiting[mon] = key
    deadline = ctx.now() + template.shutdown if isinstance(template.shutdown, int) else None
    while waiting:
        msg = ctx.receive(AnyDownOf(tuple(sorted(waiting))).matches, deadline=deadline)
        if msg is TIMEOUT:
            for mon in sorted(waiting):
                ctx.exit_signal(waiting[mon], KILL)
            deadline = None
            continue
        pid = waiting.pop(msg[1])
        unlink_flush(ctx, pid, msg[4])


def _dyn_key(key) -> tuple:
    return (0, key.n) if isinstance(key, Pid) else (1, key.pid.n if isinstance(key.pid, Pid) else -1)


# -- children bookkeeping that reads the runtime -------------------------------------

def _find_child(rt, me: Pid, target, state: SupState):
    """find_child: by id, or for simple_one_for_one by pid (a dead pid is found: ok, SUP-8)."""
    if state.is_simple:
        child = find_child_and_args(target, state) or find_child_and_args(Restarting(target), state)
        if child is not None:
            return child
        if rt.is_alive(target):
            return None
        template = state.db[state.ids[0]]
        return Child(template.id, UNDEFINED, template.spec)
    return state.db.get(target)


def _which_children(state: SupState) -> tuple:
    if state.is_simple:
        template = state.db[state.ids[0]]
        return tuple((UNDEFINED, Atom("restarting") if isinstance(key, Restarting) else key, template.type)
                     for key in sorted(state.dyn, key=_dyn_key))
    out = []
    for cid in state.ids:  # SUP-10: last started first
        child = state.db[cid]
        out.append((cid, Atom("restarting") if isinstance(child.pid, Restarting) else child.pid, child.type))
    return tuple(out)


def _count_children(rt, me: Pid, state: SupState) -> ErlList:
    if state.is_simple:
        template = state.db[state.ids[0]]
        size = len(state.dyn)
        sups = size if template.type == Atom("supervisor") else 0
        return counts(1, size - state.dynamic_restarts, sups, size - sups)
    active = sups = 0
    for cid in state.ids:
        child = state.db[cid]
        active += isinstance(child.pid, Pid) and rt.is_alive(child.pid)
        sups += child.type == Atom("supervisor")
    return counts(len(state.ids), active, sups, len(state.ids) - sups)


def _publish(rt, me: Pid, state) -> None:
    rt.process(me).state = state   # read by invariants.children_are_live
