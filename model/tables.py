"""The world's tables: persistent maps whose update and hash do not grow with the world.

Implements: PROC-1, SCN-3 (the world's process and name tables; no rule of their own)

`PMap` is the map every field of `World` holds: an immutable, hashable
mapping that reads as `regspec.common.records.FrozenMap` does (iteration
sorted by key in Erlang's term order, `set`, `delete`), built on a HAMT
(`immutables.Map`), so an update shares all but O(log n) of the old map
instead of copying it.

Its hash is the sum of `hash((key, value))` over its items (mod 2**64):
independent of insertion history, so equal maps hash equal whichever way
they were built. It is computed once, on the first `hash()`, and from then
on carried along: a map `set` or `delete` derives from a map whose hash is
known knows its own hash at the cost of hashing the one item that changed.
A run that never hashes a world pays nothing for it; an exploration that
hashes every state pays O(1) items per update.

Two tables keep an index beside their items, updated with them, so the
scheduler and the name table never walk the whole world:

- `ProcessTable` (pid -> Process): the pids computing (`busy`) and the
  pending receive deadlines (`timers`), what `scheduler.enabled` asks for
  when nothing can run;
- `NameTable` (name -> pid): the name each pid holds (`name_of`); a pid holds
  at most one name (REG-LOCAL-2, `invariants.one_name_per_pid`).

This module is part of the erts ground floor beside `world`: it imports no
other module of the model. A process's `code` is None or a `code.Running`
(its `busy` and `deadline`), read here by attribute.

>>> m = PMap({2: "b", 1: "a"})
>>> list(m), m.set(3, "c") == m, m.delete(2), m.delete(2).set(2, "b") == m
([1, 2], False, PMap({1: 'a'}), True)
>>> hash(m.set(3, "c").delete(3)) == hash(m)
True
"""

from __future__ import annotations

from typing import Iterator, Mapping

import immutables

from regspec.terms import Pid, term_order

__all__ = ["PMap", "ProcessTable", "NameTable", "pmap", "process_table", "name_table"]

_MASK = (1 << 64) - 1
_MISSING = object()


class PMap(Mapping):
    """An immutable, hashable mapping on a HAMT; iteration sorted by key (term order); hash carried along."""

    __slots__ = ("_m", "_h", "_keys")

    def __init__(self, items=()):
        self._m = items._m if isinstance(items, PMap) else immutables.Map(items)
        self._h = None      # the hash, once known
        self._keys = None   # the sorted keys, once asked for

    @classmethod
    def _derived(cls, parent: "PMap", m: immutables.Map, h) -> "PMap":
        new = cls.__new__(cls)
        new._m, new._h, new._keys = m, h, None
        return new

    # -- reading --------------------------------------------------------------
    def __getitem__(self, key):
        return self._m[key]

    def get(self, key, default=None):
        return self._m.get(key, default)

    def __contains__(self, key) -> bool:
        return key in self._m

    def __len__(self) -> int:
        return len(self._m)

    def __iter__(self) -> Iterator:
        return iter(self.sorted_keys())

    def unordered_items(self):
        """The items in no particular order, without sorting: for a walk whose result does not
        depend on order (the invariants' checks, run after every step)."""
        return self._m.items()

    def unordered_values(self):
        """The values in no particular order, without sorting (a process knows its own pid)."""
        return self._m.values()

    def sorted_keys(self) -> tuple:
        """The keys in term order (sorted on the first walk of this map, then kept)."""
        if self._keys is None:
            self._keys = tuple(sorted(self._m.keys(), key=term_order))
        return self._keys

    # -- value semantics --------------------------------------------------------
    def __hash__(self) -> int:
        if self._h is None:
            h = 0
            for item in self._m.items():
                h += hash(item)
            self._h = h & _MASK
        return self._h

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if not isinstance(other, PMap):
            return NotImplemented
        if self._h is not None and other._h is not None and self._h != other._h:
            return False
        return self._m == other._m

    def __ne__(self, other) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __repr__(self) -> str:
        return f"{type(self).__name__}({{" + ", ".join(f"{k!r}: {self._m[k]!r}" for k in self) + "})"

    def __reduce__(self):
        return (type(self), (dict(self._m.items()),))

    # -- updates (new maps) -----------------------------------------------------
    def set(self, key, value) -> "PMap":
        old = self._m.get(key, _MISSING)
        if old is value:
            return self
        h = self._h
        if h is not None:
            if old is not _MISSING:
                h -= hash((key, old))
            h = (h + hash((key, value))) & _MASK
        new = self._derived(self, self._m.set(key, value), h)
        if old is not _MISSING:
            new._keys = self._keys   # same keys: their order holds
        return new

    def delete(self, key) -> "PMap":
        old = self._m.get(key, _MISSING)
        if old is _MISSING:
            return self
        h = self._h
        if h is not None:
            h = (h - hash((key, old))) & _MASK
        return self._derived(self, self._m.delete(key), h)


class ProcessTable(PMap):
    """pid -> Process, with the pids computing and the pending receive deadlines kept beside.

    Its HAMT is keyed by the pid's number: an int hashes in C where a `Pid`
    hashes in Python, and the table is read several times in every step.
    Its keys are pids all the same (a lookup by anything else finds nothing).

    >>> from regspec.terms import Pid
    >>> class P:   # a stand-in for world.Process
    ...     def __init__(self, pid, code=None): self.pid, self.alive, self.code = pid, True, code
    >>> class R:   # a stand-in for code.Running
    ...     def __init__(self, busy=False, deadline=None): self.busy, self.deadline = busy, deadline
    >>> t = ProcessTable({Pid(1): P(Pid(1))}).set(Pid(2), P(Pid(2), R(busy=True))).set(Pid(3), P(Pid(3), R(deadline=7)))
    >>> t.first_busy(), t.first_timer(), list(t), Pid(2) in t, 2 in t
    (P2, (7, P3), [P1, P2, P3], True, False)
    >>> t.set(Pid(2), P(Pid(2))).first_busy() is None
    True
    """

    __slots__ = ("_busy", "_timers")

    def __init__(self, items=()):
        pairs = items.items() if isinstance(items, Mapping) else items
        m = immutables.Map()
        for pid, proc in pairs:
            if type(pid) is not Pid:
                raise TypeError(f"a process table is keyed by pids, not {pid!r}")
            m = m.set(pid.n, proc)
        self._m, self._h, self._keys = m, None, None
        busy, timers = immutables.Map(), immutables.Map()
        for n, proc in m.items():
            busy, timers = _index(busy, timers, Pid(n), proc)
        self._busy, self._timers = busy, timers

    # -- reading: by the pid's number ---------------------------------------------
    def __getitem__(self, pid):
        if type(pid) is Pid:
            return self._m[pid.n]
        raise KeyError(pid)

    def get(self, pid, default=None):
        return self._m.get(pid.n, default) if type(pid) is Pid else default

    def __contains__(self, pid) -> bool:
        return type(pid) is Pid and pid.n in self._m

    def unordered_items(self):
        return ((Pid(n), proc) for n, proc in self._m.items())

    def sorted_keys(self) -> tuple:
        if self._keys is None:
            self._keys = tuple(Pid(n) for n in sorted(self._m.keys()))   # term order of pids: by number
        return self._keys

    def __repr__(self) -> str:
        return f"{type(self).__name__}({{" + ", ".join(f"{k!r}: {self[k]!r}" for k in self) + "})"

    def __reduce__(self):
        return (type(self), (dict(self.unordered_items()),))

    # -- updates ---------------------------------------------------------------------
    def set(self, pid, value) -> "ProcessTable":
        # The world's most frequent update: the item as any PMap's (by the pid's number), then the index.
        if type(pid) is not Pid:
            raise TypeError(f"a process table is keyed by pids, not {pid!r}")
        old = self._m.get(pid.n)
        new = PMap.set(self, pid.n, value)
        if new is not self:
            if value.code is None and (old is None or old.code is None):
                new._busy, new._timers = self._busy, self._timers   # code-less before and after: no index entry
            else:
                new._busy, new._timers = _index(self._busy, self._timers, pid, value)
        return new

    def delete(self, pid) -> "ProcessTable":
        if type(pid) is not Pid:
            return self
        new = PMap.delete(self, pid.n)
        if new is not self:
            new._busy, new._timers = _index(self._busy, self._timers, pid, None)
        return new

    def first_busy(self):
        """The lowest pid whose process is computing (alive, its code in a `Compute`), or None."""
        return self._busy[min(self._busy.keys())] if self._busy else None

    def first_timer(self):
        """`(deadline, pid)` of the earliest pending receive deadline (lowest pid first on a tie), or None."""
        if not self._timers:
            return None
        return min(self._timers.values(), key=_deadline_then_pid)


def _deadline_then_pid(entry) -> tuple:
    return entry[0], entry[1].n


def _index(busy: immutables.Map, timers: immutables.Map, pid, proc):
    """The two indexes with `pid`'s entries as its process `proc` (None: gone) makes them.

    Both are keyed by the pid's number, as the table is: `busy` maps it to the pid,
    `timers` to `(deadline, pid)`.
    """
    n = pid.n
    code = proc.code if proc is not None and proc.alive else None
    if code is not None and code.busy:
        if n not in busy:
            busy = busy.set(n, pid)
    elif n in busy:
        busy = busy.delete(n)
    deadline = code.deadline if code is not None else None
    if deadline is not None:
        entry = timers.get(n)
        if entry is None or entry[0] != deadline:
            timers = timers.set(n, (deadline, pid))
    elif n in timers:
        timers = timers.delete(n)
    return busy, timers


class NameTable(PMap):
    """name -> pid, with each pid's name kept beside (a pid holds at most one name, REG-LOCAL-2).

    >>> t = NameTable({"a": 1}).set("b", 2)
    >>> t.name_of(2), t.delete("b").name_of(2), t.set("a", 3).name_of(1)
    ('b', None, None)
    """

    __slots__ = ("_by_value",)

    def __init__(self, items=()):
        super().__init__(items)
        self._by_value = immutables.Map((v, k) for k, v in self._m.items())

    @classmethod
    def _derived(cls, parent, m, h):
        new = super()._derived(parent, m, h)
        new._by_value = parent._by_value
        return new

    def set(self, key, value) -> "NameTable":
        new = super().set(key, value)
        if new is not self:
            by_value = self._by_value
            old = self._m.get(key, _MISSING)
            if old is not _MISSING and by_value.get(old) == key:
                by_value = by_value.delete(old)
            new._by_value = by_value.set(value, key)
        return new

    def delete(self, key) -> "NameTable":
        new = super().delete(key)
        if new is not self:
            old = self._m[key]
            if self._by_value.get(old) == key:
                new._by_value = self._by_value.delete(old)
        return new

    def name_of(self, value):
        """The key whose value is `value`, or None."""
        return self._by_value.get(value)


def pmap(value) -> PMap:
    """`value` as a `PMap` (the converter of the world's map fields)."""
    return value if type(value) is PMap else PMap(value.items() if isinstance(value, Mapping) else value)


def process_table(value) -> ProcessTable:
    return value if type(value) is ProcessTable else ProcessTable(
        value.items() if isinstance(value, Mapping) else value)


def name_table(value) -> NameTable:
    return value if type(value) is NameTable else NameTable(value.items() if isinstance(value, Mapping) else value)
