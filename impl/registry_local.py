"""Local names: `register/2`, `unregister/1`, `whereis/1`, `registered/0` (erts BIFs), thread-safe.

Implements: REG-LOCAL-1, REG-LOCAL-2, REG-LOCAL-3, REG-LOCAL-4, REG-LOCAL-5,
REG-LOCAL-6, REG-LOCAL-7, REG-LOCAL-8

Invariants:
- every name maps to a process that was alive when it was registered, and
  no pid holds two names;
- a name is released exactly when its holder dies (REG-LOCAL-7, by
  `signals.exit_process`), not when an exit signal is sent (REG-LOCAL-8).

The table has its own lock. Lock order: the runtime lock, then this one;
code holding the table lock never calls out, so it can take no other lock.

>>> from regspec.terms import Pid
>>> t = NameTable()
>>> t.register(Atom("shell"), Pid(0), alive=True)
true
>>> t.register(Atom("other"), Pid(0), alive=True)
('error', badarg)
>>> t.whereis(Atom("shell")), t.whereis(Atom("nobody"))
(P0, undefined)
"""

from __future__ import annotations

import threading

from regspec.terms import Atom, ErlList, Pid

__all__ = ["NameTable", "BADARG", "UNDEFINED"]

BADARG = ("error", Atom("badarg"))
UNDEFINED = Atom("undefined")
TRUE = Atom("true")


class NameTable:
    """The node's local name table: name -> pid."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[Atom, Pid] = {}

    def register(self, name: object, pid: object, alive: bool) -> object:
        """`register(Name, Pid)`: true, or `("error", badarg)` for every case OTP refuses.

        `alive` is whether `pid` is alive; the caller holds the runtime lock,
        so the answer cannot change before the name is stored.
        """
        with self._lock:
            if not isinstance(name, Atom) or name == UNDEFINED:
                return BADARG  # REG-LOCAL-4: `undefined` can never be a name
            if name in self._names:
                return BADARG  # REG-LOCAL-1: the name is taken
            if not alive:
                return BADARG  # REG-LOCAL-3: a dead process can never get a name
            if pid in self._names.values():
                return BADARG  # REG-LOCAL-2: one name per process, even the same name again
            self._names[name] = pid
            return TRUE

    def unregister(self, name: object) -> object:
        """`unregister(Name)`: any process may free any name; a free name is badarg (REG-LOCAL-5)."""
        with self._lock:
            if not isinstance(name, Atom) or name not in self._names:
                return BADARG
            del self._names[name]
            return TRUE

    def whereis(self, name: object) -> object:
        """`whereis(Name)`: the holder's pid or `undefined` (REG-LOCAL-6).

        Thread safety: the pid returned may already be dead, or be killed by
        a signal it has not handled yet; the name stays until it dies
        (REG-LOCAL-8).
        """
        with self._lock:
            return self._names.get(name, UNDEFINED)  # type: ignore[arg-type]

    def registered(self) -> ErlList:
        """`registered()`, sorted by name so the output does not depend on table order."""
        with self._lock:
            return ErlList(tuple(sorted(self._names, key=lambda a: a.name)))

    def items(self) -> list[tuple[Atom, Pid]]:
        """Every `(name, holder)`, sorted by name: `registered()` and a `whereis` of each, at one instant."""
        with self._lock:
            return sorted(self._names.items(), key=lambda item: item[0].name)

    def release(self, pid: Pid) -> Atom | None:
        """Free the name of a process that is dying (REG-LOCAL-7); returns the name freed."""
        with self._lock:
            for name, holder in self._names.items():
                if holder == pid:
                    del self._names[name]
                    return name
            return None

    def name_of(self, pid: Pid) -> Atom | None:
        with self._lock:
            for name, holder in self._names.items():
                if holder == pid:
                    return name
            return None
