"""supervisor: static supervisors and simple_one_for_one (OTP `supervisor.erl`, 25.2).

Implements: SUP-1, SUP-2, SUP-3, SUP-4, SUP-5, SUP-6, SUP-7, SUP-8, SUP-9, SUP-10, SUP-11, DSUP-1, DSUP-2, DSUP-3

The code follows supervisor.erl function by function, as generators of
effects (see `code.py`), so it can be read beside the OTP source:

- children start in spec order and are kept in reverse, so every stop goes
  last started first (SUP-3, SUP-4);
- a child's exit is handled by its restart type (SUP-2) and the strategy
  (SUP-1); each restart counts against `intensity` within `period` seconds
  of logical time, and one too many stops the supervisor with `shutdown`
  after stopping the other children (SUP-5);
- `shutdown/1` monitors the child, sends `shutdown` (or `kill` for
  `brutal_kill`), waits up to the child's shutdown time, then kills it
  (SUP-6);
- a supervisor traps exits and obeys an exit signal from its parent only
  (SUP-7);
- a restart that fails leaves the child `restarting` and tries again from a
  cast to itself, each try counting as a restart (SUP-9);
- simple_one_for_one keeps its children by pid, stops them all at once and
  waits for them together (DSUP-1, DSUP-2).

The children's bookkeeping (`SupState`, `Child`, restart counting, finding
and deleting children) is pure data shared with the runtime
(`regspec.common.supervision`); the code that starts, stops and waits for
children is the model's own.
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

from . import gen, starters
from .code import TIMEOUT, Atomic, Die, ExitTo, Monitor, Now, Receive, Self, Send, TrapExit, Unlink
from .world import World

__all__ = ["init", "init_dynamic", "handle", "shutdown", "unlink_flush"]

UNDEFINED = Atom("undefined")
SHUTDOWN = Atom("shutdown")
NORMAL = Atom("normal")
KILL = Atom("kill")
KILLED = Atom("killed")
OK = Atom("ok")
ERROR = Atom("error")
EXIT = Atom("EXIT")
SOFO = Atom("simple_one_for_one")


# -- init ----------------------------------------------------------------------

def init(me: Pid, starter: Pid, strategy: Atom, intensity: int, period: int, specs: tuple):
    """`supervisor:init/1` for a static supervisor: start every child in spec order."""
    yield TrapExit(True)
    state = SupState(strategy, intensity, period, parent=starter)
    ids = tuple(s.id for s in specs)
    if len(set(ids)) != len(ids):
        raise gen.Stop((Atom("start_spec"), (Atom("duplicate_child_name"), _first_duplicate(ids))))
    db = FrozenMap({s.id: Child(s.id, UNDEFINED, s) for s in specs})
    ok, children, reason = yield from start_children((ids, db))
    if not ok:
        yield from terminate_children(children)
        raise gen.Stop((SHUTDOWN, reason))
    return attrs.evolve(state, ids=children[0], db=children[1])


def _first_duplicate(ids):
    seen = set()
    for i in ids:
        if i in seen:
            return i
        seen.add(i)


def init_dynamic(me: Pid, starter: Pid, intensity: int, period: int, template):
    """simple_one_for_one: one child spec, the template; no child starts yet."""
    yield TrapExit(True)
    db = FrozenMap({template.id: Child(template.id, UNDEFINED, template)})
    return SupState(SOFO, intensity, period, parent=starter, ids=(template.id,), db=db)


def start_children(children):
    """Start `(ids in start order, db)`; returns `(ok, (ids in termination order, db), reason)`."""
    ids, db = children
    acc = ()
    for n, cid in enumerate(ids):
        child = db[cid]
        result = yield from do_start_child(child)
        if result[0] == OK:
            db = db.set(cid, attrs.evolve(child, pid=result[1]))
            acc = (cid,) + acc
        else:
            rest = tuple(reversed(ids[n + 1:]))
            return False, (rest + (cid,) + acc, db), (Atom("failed_to_start_child"), cid, result[1])
    return True, (acc, db), None


def do_start_child(child: Child):
    return (yield from catch_start(child.spec, child.args))


def catch_start(spec, args):
    """`catch apply(M, F, A)` around a child's start: an exception is `{error, {'EXIT', Reason}}`."""
    try:
        return (yield from starters.start_kind(spec, args))
    except ErlangError as e:
        return (ERROR, (Atom("EXIT"), exit_reason(e)))


# -- the server loop -------------------------------------------------------------

def handle(me: Pid, state: SupState, msg: object):
    """One message through the supervisor's gen_server loop; returns the new state."""
    if isinstance(msg, SystemStop):
        yield from terminate(state)
        yield Die(msg.reason)
    try:
        if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
            (caller, tag), request = msg[1], msg[2]
            reply, state = yield from handle_call(me, request, state)
            yield Send(caller, (tag, reply))
            return state
        if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == GEN_CAST:
            return (yield from handle_cast(msg[1], state))
    except ErlangError as e:
        # SUP-4: a callback that crashes (a request it has no clause for) makes gen_server
        # run terminate/2, which stops the children, and exit with the crash.
        yield from terminate(state)
        yield Die(exit_reason(e))
    if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == EXIT:
        if msg[1] == state.parent:
            # SUP-7: an exit signal from the parent stops the supervisor with that reason.
            yield from terminate(state)
            yield Die(msg[2])
        outcome, state = yield from restart_child(msg[1], msg[2], state)
        if outcome == "shutdown":
            yield from terminate(state)
            yield Die(SHUTDOWN)
        return state
    return state  # "Supervisor received unexpected message": logged and dropped


def handle_call(me: Pid, request: object, state: SupState):
    op = request[0] if isinstance(request, tuple) else request
    if op == Atom("start_child"):
        if state.is_simple:
            return (yield from _start_dynamic_child(request[1], state))
        return (yield from handle_start_child(request[1], state))
    if op == Atom("terminate_child"):
        target = request[1]
        if state.is_simple and not isinstance(target, Pid):
            return (ERROR, SOFO), state
        child = yield Atomic(_find_child, (target, state))
        if child is None:
            return (ERROR, Atom("not_found")), state
        yield from do_terminate(child)
        return OK, del_child(child, state)
    if op == Atom("which_children"):
        return ErlList(tuple((yield Atomic(_which_children, (state,))))), state
    if op == Atom("count_children"):
        return (yield Atomic(_count_children, (state,))), state
    raise_function_clause()


def raise_function_clause():
    raise ErlangError("error", Atom("function_clause"))


def _start_dynamic_child(extra_args: tuple, state: SupState):
    if not isinstance(extra_args, tuple):
        # A whole child spec: `A ++ Spec` is an improper list, which apply/3 refuses.
        return (ERROR, (Atom("EXIT"), (Atom("badarg"), ErlList(())))), state
    template = state.db[state.ids[0]]
    args = template.args + tuple(extra_args)
    result = yield from catch_start(template.spec, args)
    if result[0] == OK:
        return (OK, result[1]), attrs.evolve(state, dyn=state.dyn.set(result[1], args))
    return result, state


def handle_start_child(spec, state: SupState):
    if not isinstance(spec, ChildSpec):
        return (ERROR, (Atom("invalid_child_spec"), ErlList(spec))), state  # an args array: no child spec
    existing = state.db.get(spec.id)
    if existing is None:
        result = yield from do_start_child(Child(spec.id, UNDEFINED, spec))
        if result[0] == OK:
            child = Child(spec.id, result[1], spec)
            return (OK, result[1]), attrs.evolve(state, ids=(spec.id,) + state.ids,
                                                   db=state.db.set(spec.id, child))
        return (ERROR, (result[1], child_record(spec.id))), state
    if isinstance(existing.pid, Pid):
        return (ERROR, (Atom("already_started"), existing.pid)), state
    return (ERROR, Atom("already_present")), state


def handle_cast(msg: object, state: SupState):
    if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == Atom("try_again_restart"):
        child = find_child_and_args(msg[1], state)
        if child is not None and isinstance(child.pid, Restarting):
            outcome, state = yield from restart(child, state)
            if outcome == "shutdown":
                yield from terminate(state)
                yield Die(SHUTDOWN)
        return state
    raise_function_clause()  # supervisor.erl has no other handle_cast clause


# -- restarts -------------------------------------------------------------------

def restart_child(pid: Pid, reason: object, state: SupState):
    child = find_child_and_args(pid, state)
    if child is None:
        return "ok", state  # an exit from a process that is not a child
    return (yield from do_restart(reason, child, state))


def do_restart(reason: object, child: Child, state: SupState):
    """SUP-2: permanent always restarts; transient unless normal/shutdown; temporary never."""
    if child.restart == "permanent":
        return (yield from restart(child, state))
    if reason in (NORMAL, SHUTDOWN) or (isinstance(reason, tuple) and len(reason) == 2 and reason[0] == SHUTDOWN):
        return "ok", del_child(child, state)
    if child.restart == "transient":
        return (yield from restart(child, state))
    return "ok", del_child(child, state)


def restart(child: Child, state: SupState):
    now = yield Now()
    ok, state = add_restart(state, now // 1000)
    if not ok:
        # SUP-5: one restart too many; the caller stops the other children and exits shutdown.
        return "shutdown", del_child(child, state)
    outcome, state, try_again = yield from _restart_by_strategy(child, state)
    if try_again is not None:
        # SUP-9: give the loop a chance to see other messages before trying again.
        me = yield Self()
        yield Send(me, (GEN_CAST, (Atom("try_again_restart"), try_again)))
    return outcome, state


def _restart_by_strategy(child: Child, state: SupState):
    strategy = state.strategy.name
    if strategy == "simple_one_for_one":
        old = child.pid
        dyn_restarts = state.dynamic_restarts - 1 if isinstance(old, Restarting) else state.dynamic_restarts
        dyn = state.dyn.delete(old)
        result = yield from catch_start(child.spec, child.args)
        if result[0] == OK:
            return "ok", attrs.evolve(state, dyn=dyn.set(result[1], child.args), dynamic_restarts=dyn_restarts), None
        key = old if isinstance(old, Restarting) else Restarting(old)
        state = attrs.evolve(state, dyn=dyn.set(key, child.args), dynamic_restarts=dyn_restarts + 1)
        return "ok", state, key
    if strategy == "one_for_one":
        result = yield from do_start_child(child)
        if result[0] == OK:
            return "ok", set_pid(state, child.id, result[1]), None
        old = child.pid if isinstance(child.pid, Restarting) else Restarting(child.pid)
        return "ok", set_pid(state, child.id, old), child.id
    if strategy == "rest_for_one":
        after, before = split_child(child.id, state)
        outcome, after2, try_again = yield from _restart_multiple(child, after)
        state = attrs.evolve(state, ids=after2[0] + before[0], db=FrozenMap({**dict(before[1]), **dict(after2[1])}))
        return outcome, state, try_again
    # one_for_all
    ids = state.ids
    db = state.db.set(child.id, attrs.evolve(state.db[child.id], pid=UNDEFINED))
    outcome, children, try_again = yield from _restart_multiple(child, (ids, db))
    return outcome, attrs.evolve(state, ids=children[0], db=children[1]), try_again


def _restart_multiple(child: Child, children):
    """Stop `children` (termination order), then start them again in start order (SUP-1)."""
    children = yield from terminate_children(children)
    ok, started, reason = yield from start_children(children)
    if ok:
        return "ok", started, None
    failed = reason[1]
    new_pid = (child.pid if isinstance(child.pid, Restarting) else Restarting(child.pid)) \
        if failed == child.id else Restarting(UNDEFINED)
    ids, db = started
    return "ok", (ids, db.set(failed, attrs.evolve(db[failed], pid=new_pid))), failed


# -- stopping children ------------------------------------------------------------

def terminate(state: SupState):
    """gen_server terminate: stop every child (SUP-4), dynamic ones all at once (DSUP-2)."""
    if state.is_simple:
        yield from terminate_dynamic_children(state)
    else:
        yield from terminate_children((state.ids, state.db))


def terminate_children(children):
    """Stop children in the order given (last started first); returns them in start order."""
    ids, db = children
    acc = ()
    for cid in ids:
        child = db[cid]
        yield from do_terminate(child)
        if child.restart == "temporary":
            db = db.delete(cid)
        else:
            db = db.set(cid, attrs.evolve(child, pid=UNDEFINED))
            acc = (cid,) + acc
    return acc, db


def do_terminate(child: Child):
    if isinstance(child.pid, Pid):
        yield from shutdown(child.pid, child.shutdown)


def shutdown(pid: Pid, how: object):
    """`supervisor:shutdown/1` (SUP-6): returns the child's exit reason."""
    mon = yield Monitor(pid)
    if how == "brutal_kill":
        yield ExitTo(pid, KILL)
        msg = yield Receive(DownOf(mon))
    else:
        yield ExitTo(pid, SHUTDOWN)
        msg = yield Receive(DownOf(mon), timeout=None if how == "infinity" else how)
        if msg == TIMEOUT:
            yield ExitTo(pid, KILL)
            msg = yield Receive(DownOf(mon))
    return (yield from unlink_flush(pid, msg[4]))


def unlink_flush(pid: Pid, default: object):
    """Unlink, and take the child's EXIT if it is already here; its reason wins."""
    yield Unlink(pid)
    msg = yield Receive(ExitFrom(pid), timeout=0)
    return default if msg == TIMEOUT else msg[2]


def terminate_dynamic_children(state: SupState):
    """simple_one_for_one: signal every child in pid order, then wait for all DOWNs under one timer."""
    template = state.db[state.ids[0]]
    waiting = {}
    for key in sorted(state.dyn, key=_dyn_key):
        if isinstance(key, Pid):
            mon = yield Monitor(key)
            yield ExitTo(key, KILL if template.shutdown == "brutal_kill" else SHUTDOWN)
            waiting[mon] = key
    deadline = None
    if isinstance(template.shutdown, int):
        deadline = (yield Now()) + template.shutdown
    while waiting:
        msg = yield Receive(AnyDownOf(tuple(sorted(waiting))), deadline=deadline)
        if msg == TIMEOUT:
            for mon in sorted(waiting):
                yield ExitTo(waiting[mon], KILL)
            deadline = None
            continue
        pid = waiting.pop(msg[1])
        yield from unlink_flush(pid, msg[4])


def _dyn_key(key):
    return (0, key.n) if isinstance(key, Pid) else (1, key.pid.n if isinstance(key.pid, Pid) else -1)


# -- children bookkeeping that reads the world ---------------------------------------

def _find_child(world: World, me: Pid, target, state: SupState):
    """find_child: by id, or for simple_one_for_one by pid (a dead pid is found: ok, SUP-8)."""
    if state.is_simple:
        child = find_child_and_args(target, state) or find_child_and_args(Restarting(target), state)
        if child is not None:
            return world, child
        if world.is_alive(target):
            return world, None
        template = state.db[state.ids[0]]
        return world, Child(template.id, UNDEFINED, template.spec)
    return world, state.db.get(target)


def _which_children(world: World, me: Pid, state: SupState):
    if state.is_simple:
        template = state.db[state.ids[0]]
        out = []
        for key in sorted(state.dyn, key=_dyn_key):
            out.append((UNDEFINED, Atom("restarting") if isinstance(key, Restarting) else key, template.type))
        return world, out
    out = []
    for cid in state.ids:  # SUP-10: last started first
        child = state.db[cid]
        pid = Atom("restarting") if isinstance(child.pid, Restarting) else child.pid
        out.append((cid, pid, child.type))
    return world, out


def _count_children(world: World, me: Pid, state: SupState):
    if state.is_simple:
        template = state.db[state.ids[0]]
        size = len(state.dyn)
        active = size - state.dynamic_restarts
        sups = size if template.type == Atom("supervisor") else 0
        return world, counts(1, active, sups, size - sups)
    specs = active = sups = workers = 0
    for cid in state.ids:
        child = state.db[cid]
        specs += 1
        if isinstance(child.pid, Pid) and world.is_alive(child.pid):
            active += 1
        if child.type == Atom("supervisor"):
            sups += 1
        else:
            workers += 1
    return world, counts(specs, active, sups, workers)
