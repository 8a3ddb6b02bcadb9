"""Erlang terms as frozen Python values, shared by the model and the threaded runtime.

A JSON string in a scenario is an atom, an array a tuple; the other term
types are explicit records. Every term is hashable, so worlds that hold them
can be compared and hashed.

>>> Atom("undefined") == Atom("undefined")
True
>>> ErlList((Atom("alias"),), tail=Ref(3)).is_proper
False
"""

from __future__ import annotations

import attrs

__all__ = ["Atom", "Binary", "Pid", "RemotePid", "Ref", "ErlList", "Term", "Outcome", "LocalName", "GlobalName", "ViaName", "Name",
           "TRUE", "FALSE", "UNDEFINED", "is_term", "TemplateArg", "ElixirException", "term_order", "PlainObject"]


@attrs.frozen(order=True)
class Atom:
    """An atom; `true` and `false` are atoms too, printed as JSON booleans."""

    name: str

    def __hash__(self) -> int:   # attrs' own builds a tuple per call: every name-table lookup pays it
        return hash(self.name) ^ 0x2F1B5A3D

    def __repr__(self) -> str:
        return self.name


@attrs.frozen
class Binary:
    """A binary holding UTF-8 text (Elixir's string)."""

    value: str


@attrs.frozen(order=True)
class Pid:
    """A process identifier. `n` is the creation number: P0 is the driver."""

    n: int

    def __hash__(self) -> int:   # as Atom's: the hottest key of both programs' tables
        return hash(self.n) ^ 0x5BD1E995

    def __repr__(self) -> str:
        return f"P{self.n}"


@attrs.frozen(order=True)
class RemotePid:
    """A process of another runtime (another OS process or machine), as a shared registry answers it.

    `node` is that runtime's id, unique among the runtimes sharing the
    registry; `n` its pid there. It is not a `Pid`: no BIF of this runtime
    reaches it (`!`, link and monitor answer as for a term that is no pid);
    only the registry that answered it may carry a message to it (the Redis
    backend's `send`, docs/backends.md). It prints as `{"pid": "P<n>@<node>"}`;
    a scenario cannot name one.
    """

    node: str
    n: int

    def __repr__(self) -> str:
        return f"P{self.n}@{self.node}"


@attrs.frozen(order=True)
class Ref:
    """A reference; `n` is its creation number inside one world or runtime.

    Printed numbers (R1, R2, ...) are given by first appearance in a result,
    not by creation (SCN-3).
    """

    n: int

    def __hash__(self) -> int:
        return hash(self.n) ^ 0x1B873593

    def __repr__(self) -> str:
        return f"#Ref<{self.n}>"


@attrs.frozen
class ErlList:
    """A list; `tail` is None for a proper list, else the improper tail."""

    items: tuple = ()
    tail: object = None

    @property
    def is_proper(self) -> bool:
        return self.tail is None


Term = object  # Atom | Binary | Pid | Ref | ErlList | int | tuple of Term


TRUE = Atom("true")
FALSE = Atom("false")
UNDEFINED = Atom("undefined")


def is_term(value: object) -> bool:
    """True when `value` is built only from term types (so it is hashable)."""
    if isinstance(value, (Atom, Binary, Pid, RemotePid, Ref)):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, tuple):
        return all(is_term(v) for v in value)
    if isinstance(value, ErlList):
        return all(is_term(v) for v in value.items) and (value.tail is None or is_term(value.tail))
    return False


@attrs.frozen
class Outcome:
    """A step result wrapped in one tag: `{"ok": v}`, `{"error": v}`, `{"exit": v}`, `{"unsupported": op}`."""

    tag: str
    value: object


@attrs.frozen
class LocalName:
    """`{local, Atom}`: a name in the node's local name table."""

    name: Atom


@attrs.frozen
class GlobalName:
    """`{global, Term}`."""

    name: object


@attrs.frozen
class ViaName:
    """`{via, Backend, Term}`."""

    backend: str
    name: object


Name = LocalName | GlobalName | ViaName


@attrs.frozen
class TemplateArg:
    """`{"arg": n}` in a dynamic supervisor's child template: the n-th start argument."""

    n: int


@attrs.frozen
class ElixirException:
    """An Elixir exception struct, known by its module name without `Elixir.`; prints `{"exception": name}`."""

    name: str


def term_order(term: object) -> tuple:
    """A sort key following Erlang's term order (number < atom < reference < pid < tuple < list < binary).

    Anything else sorts after the terms, by type name and repr, so any mix of
    keys sorts the same way every run.
    """
    if isinstance(term, bool):
        return (11, "bool", term)
    if isinstance(term, int):
        return (0, term)
    if isinstance(term, Atom):
        return (1, term.name)
    if isinstance(term, Ref):
        return (2, term.n)
    if isinstance(term, Pid):
        return (5, term.n)
    if isinstance(term, RemotePid):
        return (5, term.n, term.node)
    if isinstance(term, tuple):
        return (6, len(term), tuple(term_order(t) for t in term))
    if isinstance(term, ErlList):
        if not term.items and term.tail is None:
            return (8,)
        return (9, tuple(term_order(t) for t in term.items), term_order(term.tail) if term.tail is not None else ())
    if isinstance(term, Binary):
        return (10, term.value)
    if isinstance(term, str):
        return (11, "str", term)
    return (12, type(term).__name__, repr(term))


@attrs.frozen
class PlainObject:
    """A result printed as a plain JSON object (count_children): `items` are (key, term) pairs."""

    items: tuple
