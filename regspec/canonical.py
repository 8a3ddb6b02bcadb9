"""Canonical JSON form of terms (contract v1, "Values" and "Canonical numbering").

Input values of a scenario become terms with `decode` (once, when the
scenario is parsed; `as` labels stay `ProcLabel`/`RefLabel` until the run
binds them); terms in results
become JSON with an `Encoder`, which gives references their printed numbers
R1, R2, ... in order of first appearance (SCN-3). Pids print by creation
number, which the model and the runtime both hand out in creation order.

>>> enc = Encoder(node="a")
>>> enc.encode((Atom("DOWN"), Ref(7), Atom("process"), Pid(2), Atom("killed")))
['DOWN', {'ref': 'R1'}, 'process', {'pid': 'P2'}, 'killed']
>>> enc.encode(ErlList((Atom("alias"),), tail=Ref(9)))
{'improper': ['alias', {'ref': 'R2'}]}
"""

from __future__ import annotations

from typing import Callable

from .common.steps import ProcLabel, RefLabel

from .terms import Atom, Binary, ElixirException, ErlList, Outcome, Pid, PlainObject, Ref, RemotePid, TemplateArg

__all__ = ["Encoder", "decode", "UNBOUND"]


class Encoder:
    """Turns terms into canonical JSON; remembers the printed number of each ref."""

    def __init__(self, node: str = "a", pid_label: Callable[[Pid], str | None] | None = None):
        self.node = node
        self._ref_numbers: dict[Ref, int] = {}
        self._pid_label = pid_label

    def ref_number(self, ref: Ref) -> int:
        if ref not in self._ref_numbers:
            self._ref_numbers[ref] = len(self._ref_numbers) + 1
        return self._ref_numbers[ref]

    def ref_by_number(self, number: int) -> Ref | None:
        """The ref printed as R<number>, or None when no such ref was printed."""
        for ref, n in self._ref_numbers.items():
            if n == number:
                return ref
        return None

    def encode(self, term: object) -> object:
        if isinstance(term, Atom):
            if term.name == "true":
                return True
            if term.name == "false":
                return False
            return term.name
        if isinstance(term, bool):  # pragma: no cover - terms never hold bools
            raise TypeError("bool is not a term; use Atom('true')")
        if isinstance(term, int):
            return term
        if isinstance(term, Binary):
            return {"str": term.value}
        if isinstance(term, Pid):
            label = self._pid_label(term) if self._pid_label else None
            return {"pid": label if label is not None else f"P{term.n}"}
        if isinstance(term, RemotePid):
            return {"pid": f"P{term.n}@{term.node}"}   # another runtime's process (a shared registry's answer)
        if isinstance(term, Ref):
            return {"ref": f"R{self.ref_number(term)}"}
        if isinstance(term, PlainObject):
            return {k: self.encode(v) for k, v in term.items}
        if isinstance(term, ElixirException):
            return {"exception": term.name}
        if isinstance(term, tuple):
            if len(term) == 2 and isinstance(term[0], ElixirException):
                return {"exception": term[0].name}  # {Exception, Stack}: the stack is dropped
            return [self.encode(t) for t in term]
        if isinstance(term, Outcome):
            return {term.tag: self.encode(term.value)}
        if isinstance(term, ErlList):
            items = [self.encode(t) for t in term.items]
            if term.tail is None:
                return items
            return {"improper": items + [self.encode(term.tail)]}
        raise TypeError(f"not a term: {term!r}")


class _Unbound:
    """The value of an `as` label whose creating step failed: prints as `undefined`."""

    def __repr__(self) -> str:
        return "UNBOUND"


UNBOUND = _Unbound()


def decode(value: object) -> object:
    """A scenario input value as a term; `{"proc": l}` and `{"ref": l}` stay labels until the run binds them.

    >>> decode(["get", {"proc": "c"}, {"str": "hi"}, {"pid": "P2"}])
    (get, ProcLabel(label='c'), Binary(value='hi'), P2)
    """
    if isinstance(value, bool):
        return Atom("true" if value else "false")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return Atom(value)
    if isinstance(value, list):
        return tuple(decode(v) for v in value)
    if isinstance(value, dict):
        ((key, inner),) = value.items()
        if key == "str":
            return Binary(inner)
        if key == "atom":
            return Atom(inner)
        if key == "list":
            return ErlList(tuple(decode(v) for v in inner))
        if key == "proc":
            return ProcLabel(inner)
        if key == "pid":
            return Pid(int(inner[1:]))
        if key == "ref":
            return RefLabel(inner)
        if key == "arg":
            return TemplateArg(inner)
    raise ValueError(f"cannot decode {value!r}")
