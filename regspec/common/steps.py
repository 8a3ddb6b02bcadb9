"""Scenario steps as typed records: what the model and the runtime are asked to do.

Shared because both implementations perform the same steps and must refuse
the same ones the same way (SCN-7). A scenario is parsed once
(`regspec.scenario.parse`) into these frozen records, their values already
terms; the only thing left open is which pid or ref an `as` label stands
for, known only as the run goes (`ProcLabel`, `RefLabel`). The runner fills
those in (`bind`) and hands the step to a target, which performs it with
its own program: one dispatch per target, on the record's type.

Field names are the contract's (docs/scenario-format.md), except `as`,
which is `label`. Every record keeps the JSON it was parsed from in
`source` (not part of equality), which the beam target runs.

>>> step = Call(to=LocalName(Atom("room1")), msg=(Atom("get"), ProcLabel("c")))
>>> step.op, step.timeout
('call', 5000)
>>> bind(step, lambda label: Pid(3), lambda label: None).msg
(get, P3)
"""

from __future__ import annotations

from typing import Callable, ClassVar

import attrs

from regspec.terms import Atom, Binary, ErlList, GlobalName, LocalName, Pid, Ref, ViaName

from .childspec import ChildSpec
from .records import FrozenMap

__all__ = [
    "Step", "ProcLabel", "RefLabel", "STEP_TYPES", "bind", "values", "PLAIN", "Unsupported",
    "Spawn", "Start", "Stop", "Register", "Unregister", "Whereis", "Registered", "Send", "Call", "Cast", "Kill",
    "Monitor", "Demonitor", "Link", "Unlink", "TrapExit", "Messages", "Alive", "StartChild", "TerminateChild",
    "WhichChildren", "CountChildren", "GlobalRegister", "GlobalUnregister", "GlobalSend", "RegistryKeys",
    "Partition", "Heal",
]


class Unsupported(Exception):
    """A well-formed step this release does not cover (SCN-7): `partition` and `heal`, one node only."""


@attrs.frozen
class ProcLabel:
    """`{"proc": label}`: the pid an earlier step's `as` bound (`undefined` if that step failed)."""

    label: str

@attrs.frozen
class RefLabel:
    """`{"ref": label}`: a ref bound by `monitor ... as`, or one printed as `R<n>` earlier."""

    label: str

@attrs.frozen(kw_only=True)
class Step:
    """One step of a scenario. `label` is its `as`; `nowait` skips the quiescence wait (SCN-2)."""

    op: ClassVar[str] = ""
    label: str | None = None
    nowait: bool = False
    source: dict | None = attrs.field(default=None, eq=False, repr=False)

def _step(op: str):
    def register(cls):
        cls.op = op
        STEP_TYPES[op] = cls
        return cls
    return register

STEP_TYPES: dict[str, type] = {}

@_step("spawn")
@attrs.frozen(kw_only=True)
class Spawn(Step):
    """A collector: `spawn` (or `spawn_link`), trapping exits or not, eager or selective."""

    kind: str = "collector"
    trap_exit: bool = False
    link: bool = False
    mode: str = "eager"

@_step("start")
@attrs.frozen(kw_only=True)
class Start(Step):
    """Start a process of a kind the way its module's `start_link` does; `spec` holds the step's fields."""

    spec: ChildSpec

    @property
    def link(self) -> bool:
        return self.spec.opt("link", True)

@_step("stop")
@attrs.frozen(kw_only=True)
class Stop(Step):
    target: object
    reason: object = Atom("normal")

@_step("register")
@attrs.frozen(kw_only=True)
class Register(Step):
    name: object
    target: object

@_step("unregister")
@attrs.frozen(kw_only=True)
class Unregister(Step):
    name: object
    target: object = None

@_step("whereis")
@attrs.frozen(kw_only=True)
class Whereis(Step):
    name: object

@_step("registered")
@attrs.frozen(kw_only=True)
class Registered(Step):
    pass

@_step("send")
@attrs.frozen(kw_only=True)
class Send(Step):
    to: object
    msg: object

@_step("call")
@attrs.frozen(kw_only=True)
class Call(Step):
    """`gen_server:call`. `exit_during` is no contract field: the state machine sets it to kill
    the server while the call is pending (an exit signal right behind the request)."""

    to: object
    msg: object
    timeout: object = 5000
    exit_during: object = None

@_step("cast")
@attrs.frozen(kw_only=True)
class Cast(Step):
    to: object
    msg: object

@_step("kill")
@attrs.frozen(kw_only=True)
class Kill(Step):
    target: object
    reason: object = Atom("kill")

@_step("monitor")
@attrs.frozen(kw_only=True)
class Monitor(Step):
    watcher: object
    target: object

@_step("demonitor")
@attrs.frozen(kw_only=True)
class Demonitor(Step):
    watcher: object
    ref: object
    flush: bool = False

@_step("link")
@attrs.frozen(kw_only=True)
class Link(Step):
    a: object
    b: object

@_step("unlink")
@attrs.frozen(kw_only=True)
class Unlink(Step):
    a: object
    b: object

@_step("trap_exit")
@attrs.frozen(kw_only=True)
class TrapExit(Step):
    target: object
    value: bool

@_step("messages")
@attrs.frozen(kw_only=True)
class Messages(Step):
    target: object

@_step("alive")
@attrs.frozen(kw_only=True)
class Alive(Step):
    target: object

@_step("start_child")
@attrs.frozen(kw_only=True)
class StartChild(Step):
    """`spec` is a `ChildSpec`, or the tuple of arguments for a dynamic supervisor's template."""

    sup: object
    spec: object

@_step("terminate_child")
@attrs.frozen(kw_only=True)
class TerminateChild(Step):
    """Exactly one of `id` and `pid` is given."""

    sup: object
    id: object = None
    pid: object = None

@_step("which_children")
@attrs.frozen(kw_only=True)
class WhichChildren(Step):
    sup: object

@_step("count_children")
@attrs.frozen(kw_only=True)
class CountChildren(Step):
    sup: object

@_step("global_register")
@attrs.frozen(kw_only=True)
class GlobalRegister(Step):
    """`name` is the bare term `:global` takes (REG-GLOBAL-6)."""

    name: object
    target: object

@_step("global_unregister")
@attrs.frozen(kw_only=True)
class GlobalUnregister(Step):
    name: object

@_step("global_send")
@attrs.frozen(kw_only=True)
class GlobalSend(Step):
    name: object
    msg: object

@_step("registry_keys")
@attrs.frozen(kw_only=True)
class RegistryKeys(Step):
    """`registry` is a backend's name (an atom: its current server) or a registry server's target."""

    registry: object
    target: object

@_step("partition")
@attrs.frozen(kw_only=True)
class Partition(Step):
    nodes: tuple

@_step("heal")
@attrs.frozen(kw_only=True)
class Heal(Step):
    nodes: tuple

_FIXED = frozenset({"label", "nowait", "source"})

# Values that are terms through and through, no label inside: most of a step's fields.
PLAIN = frozenset({int, bool, str, type(None), Atom, Binary, Pid, Ref})

_OWN_FIELDS: dict = {}   # step type -> the names of its own fields (attrs' field walk, once per type)


def _own_fields(cls: type) -> tuple:
    names = _OWN_FIELDS.get(cls)
    if names is None:
        names = _OWN_FIELDS[cls] = tuple(f.name for f in attrs.fields(cls) if f.name not in _FIXED)
    return names


def values(step: Step):
    """The step's own fields (`as`, `nowait`, `source` aside) as `(name, value)` pairs."""
    return [(name, getattr(step, name)) for name in _own_fields(type(step))]


def bind(step: Step, proc: Callable[[str], object], ref: Callable[[str], object]) -> Step:
    """`step` with every `ProcLabel` replaced by `proc(label)` and every `RefLabel` by `ref(label)`."""
    changes = None
    for name in _own_fields(type(step)):
        v = getattr(step, name)
        kind = v.__class__
        if kind in PLAIN:
            continue
        if kind is ProcLabel:
            bound = proc(v.label)
        elif kind is RefLabel:
            bound = ref(v.label)
        else:
            bound = _bound(v, proc, ref)
            if bound == v:   # no label inside (a label never equals what it stands for)
                continue
        if changes is None:
            changes = {}
        changes[name] = bound
    return _evolve(step, changes) if changes else step   # most steps hold no label


def _bound(t, proc: Callable[[str], object], ref: Callable[[str], object]):
    """The term `t` with its labels filled in (`bind`)."""
    if t.__class__ in PLAIN:
        return t
    if isinstance(t, ProcLabel):
        return proc(t.label)
    if isinstance(t, RefLabel):
        return ref(t.label)
    if isinstance(t, tuple):
        return tuple(_bound(x, proc, ref) for x in t)
    if isinstance(t, ErlList):
        return ErlList(tuple(_bound(x, proc, ref) for x in t.items), _bound(t.tail, proc, ref))
    if isinstance(t, LocalName):
        return LocalName(_bound(t.name, proc, ref))
    if isinstance(t, GlobalName):
        return GlobalName(_bound(t.name, proc, ref))
    if isinstance(t, ViaName):
        return ViaName(t.backend, _bound(t.name, proc, ref))
    if isinstance(t, ChildSpec):
        return attrs.evolve(t, id=_bound(t.id, proc, ref), name=_bound(t.name, proc, ref),
                            options=FrozenMap({k: _bound(v, proc, ref) for k, v in t.options.items()}))
    return t


_ALL_FIELDS: dict = {}   # step type -> the names of all its fields


def _evolve(step: Step, changes: dict) -> Step:
    """`attrs.evolve(step, **changes)` without its per-call field walk: a step record has no
    converter, validator or hash cache to run (`bind` is on every step's path)."""
    cls = type(step)
    names = _ALL_FIELDS.get(cls)
    if names is None:
        names = _ALL_FIELDS[cls] = tuple(f.name for f in attrs.fields(cls))
    new = object.__new__(cls)
    for name in names:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(step, name))
    return new
