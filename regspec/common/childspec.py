"""Child specs: the record, OTP's defaults, template substitution, and a spec from a decoded step.

Shared because a child spec is pure data that both implementations pass to
their supervisors: what a spec means (its type, its default id and shutdown,
how a dynamic supervisor's template takes its start arguments) must be the
same on both sides. Starting a child from a spec is OTP code and stays in
each implementation's `kinds.py`.

>>> spec = with_defaults(child_spec({"kind": "chat_room", "restart": "transient"}))
>>> spec.id, spec.shutdown, spec.type
(chat_room, 5000, worker)
"""

from __future__ import annotations

import attrs

from regspec.terms import Atom, ErlList, GlobalName, LocalName, TemplateArg, ViaName

from . import backends
from .records import FrozenMap

__all__ = ["ChildSpec", "WORKER", "SUPERVISOR", "KINDS", "SUPERVISOR_KINDS", "DEFAULT_BACKEND", "default_shutdown", "with_defaults", "substitute",
           "substitute_spec", "child_spec"]

WORKER = Atom("worker")
SUPERVISOR = Atom("supervisor")
# The kinds a scenario may start (docs/scenario-format.md, section 9): the one list the validator
# and the generator read. Each program keeps its own table of how each starts (model/kinds.py,
# impl/kinds.py, regspec/beam/regspec_kinds.erl); tests/test_registries.py checks each covers this.
KINDS = ("collector", "chat_room", "supervisor", "dynamic_supervisor", "registry_server")
SUPERVISOR_KINDS = ("supervisor", "dynamic_supervisor")
DEFAULT_BACKEND = "map_registry"   # a registry_server's backend when the step names none
_SPEC_FIELDS = ("kind", "id", "name", "restart", "shutdown", "as")


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
        if self.kind == "registry_server" \
                and backends.get(self.options.get("backend", DEFAULT_BACKEND)).server_type == "supervisor":
            return SUPERVISOR
        return WORKER

    def opt(self, key: str, default=None):
        return self.options.get(key, default)


def default_shutdown(spec: ChildSpec) -> object:
    return "infinity" if spec.type == SUPERVISOR else 5000


def with_defaults(spec: ChildSpec) -> ChildSpec:
    """A child spec with OTP's defaults: id from the kind, shutdown by type."""
    cid = spec.id if spec.id is not None else Atom(spec.kind)
    shutdown = spec.shutdown if spec.shutdown is not None else default_shutdown(spec)
    return attrs.evolve(spec, id=cid, shutdown=shutdown)


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


def child_spec(a: dict) -> ChildSpec:
    """A decoded child spec (or start step) as a `ChildSpec`."""
    options = {k: v for k, v in a.items() if k not in _SPEC_FIELDS}
    if "children" in options:
        options["children"] = tuple(child_spec(c) for c in options["children"])
    if "child" in options:
        options["child"] = child_spec(options["child"])
    shutdown = a.get("shutdown")
    return ChildSpec(kind=a["kind"], id=a.get("id"), name=a.get("name"), restart=a.get("restart", "permanent"),
                     shutdown=shutdown, label=a.get("as"),
                     options=FrozenMap(options))
