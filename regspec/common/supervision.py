"""The state of supervisors and DynamicSupervisors, and the pure bookkeeping over it.

Shared because it is data about children, not OTP code: which children a
supervisor holds and in which order, which of them wait for a retried
restart, how restarts count against the intensity, what `count_children`
answers. Each implementation's `supervisor.py` and `dynamic_supervisor.py`
keep the code that starts, stops and waits for children (the restart
loops), so a bug there is one implementation's own.

>>> state = SupState(Atom("one_for_one"), intensity=1, period=5, parent=None)
>>> ok, state = add_restart(state, 10)
>>> ok, add_restart(state, 12)[0], add_restart(state, 16)[0]
(True, False, True)
"""

from __future__ import annotations

import attrs

from regspec.terms import Atom, ErlList, Pid

from .childspec import ChildSpec, with_defaults
from .records import UNIQUE_PARTITION, FrozenMap

__all__ = ["Restarting", "Child", "SupState", "DynState", "DynChild", "child_record", "add_restart", "del_child",
           "set_pid", "split_child", "find_child_and_args", "counts", "supervised", "unique_registry_sup_state"]

UNDEFINED = Atom("undefined")
SOFO = Atom("simple_one_for_one")


# -- supervisor (static and simple_one_for_one) ----------------------------------

@attrs.frozen(order=True)
class Restarting:
    """A child pid of `{restarting, OldPid}` (`pid` may be undefined)."""

    pid: object


def child_record(cid: object) -> tuple:
    """OTP's `#child{}` record as it appears in `{error, {Reason, Child}}`, reduced to what prints: `["child", Id]`."""
    return (Atom("child"), cid)


@attrs.frozen
class Child:
    """One child: `pid` is a Pid, `undefined` or `Restarting(...)`; `spec` is a `ChildSpec`."""

    id: object
    pid: object
    spec: object
    args: tuple = ()

    @property
    def restart(self) -> str:
        return self.spec.restart

    @property
    def shutdown(self) -> object:
        return self.spec.shutdown

    @property
    def type(self) -> Atom:
        return self.spec.type


@attrs.frozen
class SupState:
    strategy: Atom
    intensity: int
    period: int
    parent: Pid
    ids: tuple = ()                 # termination order: last started first
    db: FrozenMap = FrozenMap()     # id -> Child
    restarts: tuple = ()            # restart times in seconds, newest first
    dyn: FrozenMap = FrozenMap()    # simple_one_for_one: Pid or Restarting -> args
    dynamic_restarts: int = 0

    @property
    def is_simple(self) -> bool:
        return self.strategy == SOFO


def add_restart(state, now: int) -> tuple[bool, object]:
    """Count a restart at `now` (seconds) against the intensity within the period (SUP-5).

    Works on any state with `intensity`, `period` and `restarts` (a `SupState` or a `DynState`).
    """
    threshold = now - state.period
    kept = []
    for r in state.restarts:
        if r < threshold:
            break
        kept.append(r)
    restarts = (now,) + tuple(kept)
    return len(restarts) <= state.intensity, attrs.evolve(state, restarts=restarts)


def del_child(child: Child, state: SupState) -> SupState:
    if state.is_simple:
        return attrs.evolve(state, dyn=state.dyn.delete(child.pid))
    current = state.db.get(child.id)
    if current is None:
        return state
    if current.restart == "temporary":
        return attrs.evolve(state, ids=tuple(i for i in state.ids if i != child.id), db=state.db.delete(child.id))
    return set_pid(state, child.id, UNDEFINED)


def set_pid(state: SupState, cid, pid) -> SupState:
    return attrs.evolve(state, db=state.db.set(cid, attrs.evolve(state.db[cid], pid=pid)))


def split_child(cid, state: SupState):
    """rest_for_one: the failed child and those started after it, and the ones before."""
    i = state.ids.index(cid)
    after_ids, before_ids = state.ids[:i + 1], state.ids[i + 1:]
    after_db = FrozenMap({k: state.db[k] for k in after_ids})
    after_db = after_db.set(cid, attrs.evolve(after_db[cid], pid=UNDEFINED))
    before_db = FrozenMap({k: state.db[k] for k in before_ids})
    # terminate_children walks them last started first; start_children wants start order back
    return (after_ids, after_db), (before_ids, before_db)


def find_child_and_args(pid_or_id, state: SupState) -> Child | None:
    if state.is_simple:
        if pid_or_id in state.dyn:
            template = state.db[state.ids[0]]
            return Child(template.id, pid_or_id, template.spec, state.dyn[pid_or_id])
        return None
    if isinstance(pid_or_id, (Pid, Restarting)):
        for cid in state.db:
            if state.db[cid].pid == pid_or_id:
                return state.db[cid]
        return None
    return state.db.get(pid_or_id)


def counts(specs: int, active: int, supervisors: int, workers: int) -> ErlList:
    """count_children's proplist `[{specs, N}, {active, N}, {supervisors, N}, {workers, N}]`."""
    return ErlList(((Atom("specs"), specs), (Atom("active"), active), (Atom("supervisors"), supervisors),
                    (Atom("workers"), workers)))


# -- Elixir's DynamicSupervisor ----------------------------------------------------

@attrs.frozen
class DynState:
    """`children`: pid -> (spec, args, restarting?)."""

    intensity: int
    period: int
    parent: Pid
    template: object
    children: FrozenMap = FrozenMap()
    restarts: tuple = ()            # restart times in seconds, newest first (as SupState)


@attrs.frozen
class DynChild:
    spec: object
    args: tuple
    restarting: bool = False


# -- both ----------------------------------------------------------------------------

def supervised(state: object) -> tuple[tuple, int]:
    """The child pids a supervisor's state holds, and how many children wait for a retried restart.

    Works for a static or simple_one_for_one `SupState` and a DynamicSupervisor `DynState`.
    """
    if isinstance(state, DynState):
        kids = [(pid, c.restarting) for pid, c in state.children.items()]
    elif isinstance(state, SupState) and state.is_simple:
        kids = [(k if isinstance(k, Pid) else None, isinstance(k, Restarting)) for k in state.dyn]
    elif isinstance(state, SupState):
        kids = [(c.pid if isinstance(c.pid, Pid) else None, isinstance(c.pid, Restarting)) for c in state.db.values()]
    else:
        return (), 0
    return tuple(p for p, restarting in kids if p is not None and not restarting), sum(r for _, r in kids)


def unique_registry_sup_state() -> SupState:
    """The state of the Registry supervisor started before step 0: one_for_all over its one partition."""
    partition_name = Atom("Elixir.regspec.unique_registry.PIDPartition0")
    spec = with_defaults(ChildSpec("registry_partition", id=partition_name, options=FrozenMap(
        {"registry": Atom("regspec.unique_registry")})))
    return SupState(Atom("one_for_all"), 3, 5, parent=Pid(-6), ids=(partition_name,),
                    db=FrozenMap({partition_name: Child(partition_name, UNIQUE_PARTITION, spec)}))
