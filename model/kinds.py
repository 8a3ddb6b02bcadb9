"""The scenario kinds as OTP starts them: child specs, and `start_kind` for the driver and supervisors.

Implements: SCN-4, SCN-5, SCN-9, SUP-11, DSUP-3, DSUP-6, DSUP-7, VIA-6

Every kind starts with a `*_link` call from the calling process (the driver
or a supervisor), which becomes its parent. A `ChildSpec` is a child spec
of the contract with names decoded; in a dynamic supervisor's template a
name may hold `TemplateArg(n)`, replaced by the n-th start argument.

A child spec's `as` label binds the first pid the child ever had
(`world.bindings`), so a scenario can name a supervised child; when the
supervisor itself fails to start, the runner binds none of its children
(SCN-9).
"""

from __future__ import annotations

import attrs

from regspec.terms import Atom, ErlList, GlobalName, LocalName, Pid, TemplateArg, ViaName

from . import gen
from .code import Atomic, Self, TrapExit
from .world import FrozenMap, World

__all__ = ["ChildSpec", "start_kind", "substitute", "substitute_spec", "SUPERVISOR_KINDS", "chat_room_init", "collector_init"]

OK = Atom("ok")
WORKER = Atom("worker")
SUPERVISOR = Atom("supervisor")
SUPERVISOR_KINDS = ("supervisor", "dynamic_supervisor")


@attrs.frozen
class ChildSpec:
    """A child spec (or a `start` step): `options` holds the kind's own fields as a FrozenMap."""

    kind: str
    id: object = None
    name: object = None
    restart: str = "permanent"
    shutdown: object = None      # ms, "brutal_kill" or "infinity"; None for the default
    label: object = None         # the spec's "as"
    options: FrozenMap = FrozenMap()

    @property
    def type(self) -> Atom:
        if self.kind in SUPERVISOR_KINDS:
            return SUPERVISOR
        if self.kind == "registry_server" and self.options.get("backend") == "unique_registry":
            return SUPERVISOR
        return WORKER

    def opt(self, key: str, default=None):
        return self.options.get(key, default)


def default_shutdown(spec: ChildSpec) -> object:
    return "infinity" if spec.type == SUPERVISOR else 5000


def substitute(term: object, args: tuple) -> object:
    """A template's term with every `TemplateArg(n)` replaced by `args[n]` (`undefined` past the end)."""
    if isinstance(term, TemplateArg):
        return args[term.n] if term.n < len(args) else Atom("undefined")
    if isinstance(term, tuple):
        return tuple(substitute(t, args) for t in term)
    if isinstance(term, ErlList):
        return ErlList(tuple(substitute(t, args) for t in term.items), substitute(term.tail, args))
    if isinstance(term, LocalName):
        return LocalName(substitute(term.name, args))
    if isinstance(term, GlobalName):
        return GlobalName(substitute(term.name, args))
    if isinstance(term, ViaName):
        return ViaName(term.backend, substitute(term.name, args))
    return term


def substitute_spec(spec: ChildSpec, args: tuple) -> ChildSpec:
    """A template child spec with its start arguments in place (DSUP-7): its id, its name, and those of
    nested children. A nested dynamic supervisor's own template keeps its args (they are its own)."""
    options = spec.options
    if "children" in options:
        options = options.set("children", tuple(substitute_spec(c, args) for c in options["children"]))
    return attrs.evolve(spec, id=substitute(spec.id, args), name=substitute(spec.name, args), options=options)


def start_kind(spec: ChildSpec, args: tuple = ()):
    """Start one process of `spec.kind` from the running process: `{ok, Pid}` or `{error, Reason}`."""
    from . import dynamic_supervisor, registry_via, supervisor

    spec = substitute_spec(spec, args)
    name = spec.name
    kind = spec.kind
    if kind == "collector":
        result = yield from gen.start("collector", name, collector_init, (bool(spec.opt("trap_exit", False)),),
                                      fields=(("mode", spec.opt("mode", "eager")),))
    elif kind == "chat_room":
        result = yield from gen.start("chat_room", name, chat_room_init)
    elif kind == "supervisor":
        children = tuple(with_defaults(c) for c in spec.opt("children", ()))
        result = yield from gen.start(
            "supervisor", name, supervisor.init,
            (Atom(spec.opt("strategy", "one_for_one")), spec.opt("max_restarts", 3), spec.opt("max_seconds", 5),
             children))
    elif kind == "dynamic_supervisor":
        template = spec.opt("child")
        template = with_defaults(template) if template is not None else None  # DSUP-6: Elixir's usual, no template
        intensity, period = spec.opt("max_restarts", 3), spec.opt("max_seconds", 5)
        if spec.opt("impl", "DynamicSupervisor") == "simple_one_for_one":
            result = yield from gen.start("supervisor", name, supervisor.init_dynamic, (intensity, period, template))
        else:
            result = yield from gen.start("dynamic_supervisor", name, dynamic_supervisor.init,
                                          (intensity, period, template))
    elif kind == "registry_server":
        result = yield from registry_via.start_server(spec.opt("backend", "map_registry"), name)
    elif kind == "registry_partition":
        result = yield from registry_via.start_partition(spec.opt("registry"), name)
    else:  # pragma: no cover - the validator allows only the kinds above
        raise ValueError(f"unknown kind {kind!r}")
    if result[0] == OK and spec.label is not None:
        yield Atomic(_bind, (spec.label, result[1]))
    return result


def with_defaults(spec: ChildSpec) -> ChildSpec:
    """A child spec with OTP's defaults: id from the kind, shutdown by type."""
    cid = spec.id if spec.id is not None else Atom(spec.kind)
    shutdown = spec.shutdown if spec.shutdown is not None else default_shutdown(spec)
    return attrs.evolve(spec, id=cid, shutdown=shutdown)


def _bind(world: World, me: Pid, label: str, pid: Pid):
    if label in world.bindings:
        return world, OK
    return attrs.evolve(world, bindings=world.bindings.set(label, pid)), OK


def chat_room_init(me: Pid, starter: Pid):
    """The article's Chat.Server init: no messages yet."""
    return ()
    yield  # pragma: no cover - makes this a generator


def collector_init(me: Pid, starter: Pid, trap_exit: bool):
    """A collector started gen-style: it traps exits if asked (its name was taken before)."""
    if trap_exit:
        yield TrapExit(True)
    yield Self()
    return ()
