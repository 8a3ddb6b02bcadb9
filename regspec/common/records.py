"""Frozen records that cross between processes, and the well-known pids.

Shared because a signal must mean exactly the same in the model and in the
runtime: the model keeps these records in its world, the runtime hands
them from thread to thread unchanged. `FrozenMap` is the immutable,
hashable mapping every shared record holds.
"""

from __future__ import annotations

from typing import Iterator, Mapping

import attrs

from regspec.terms import Pid, Ref, term_order

__all__ = [
    "FrozenMap", "Signal", "Message", "ExitSignal", "LinkRequest", "UnlinkRequest", "MonitorRequest",
    "DemonitorRequest", "Down", "AliveRequest", "SystemStop", "Init", "DRIVER", "UNIQUE_PARTITION",
    "GLOBAL_SERVER",
]

DRIVER = Pid(0)
# Processes running before step 0; they get no scenario number (SCN-3). The registry servers of
# the via backends are at `backends.server_pid(name)` (-1, -2, -3 for the built-in ones).
UNIQUE_PARTITION = Pid(-4)
GLOBAL_SERVER = Pid(-5)


class FrozenMap(Mapping):
    """An immutable, hashable mapping whose iteration order is sorted by key.

    Sorted order keeps every walk over the world independent of insertion
    history and of PYTHONHASHSEED.

    >>> m = FrozenMap({2: "b", 1: "a"})
    >>> list(m), m.set(3, "c") == m, m.delete(2)
    ([1, 2], False, FrozenMap({1: 'a'}))
    """

    __slots__ = ("_d", "_hash")

    def __init__(self, items=()):
        self._d = dict(items)
        self._hash = None

    def __getitem__(self, key):
        return self._d[key]

    def __iter__(self) -> Iterator:
        return iter(sorted(self._d, key=term_order))

    def __len__(self) -> int:
        return len(self._d)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._d.items()))
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, FrozenMap) and self._d == other._d

    def __repr__(self) -> str:
        return "FrozenMap({" + ", ".join(f"{k!r}: {self._d[k]!r}" for k in self) + "})"

    def set(self, key, value) -> "FrozenMap":
        d = dict(self._d)
        d[key] = value
        return FrozenMap(d)

    def delete(self, key) -> "FrozenMap":
        d = dict(self._d)
        d.pop(key, None)
        return FrozenMap(d)


# -- signal payloads -------------------------------------------------------

@attrs.frozen
class Message:
    """An ordinary message."""

    term: object


@attrs.frozen
class ExitSignal:
    """An exit signal; `link` is True when it travels over a link (not `exit/2`)."""

    reason: object
    link: bool


@attrs.frozen
class LinkRequest:
    """The link signal `link/1` sends to the other side."""


@attrs.frozen
class UnlinkRequest:
    """The unlink signal `unlink/1` sends to the other side."""


@attrs.frozen
class MonitorRequest:
    """Asks the receiver to report its death to the sender as `ref`, naming itself `object`."""

    ref: Ref
    object: object


@attrs.frozen
class DemonitorRequest:
    ref: Ref


@attrs.frozen
class Down:
    """A monitor's down signal; it becomes a DOWN message if the monitor is still active."""

    ref: Ref
    object: object
    reason: object


@attrs.frozen
class AliveRequest:
    """`is_process_alive/1` from the driver, a signal ordered after its earlier signals (PROC-5)."""

    tag: Ref


@attrs.frozen
class SystemStop:
    """The system message `sys:terminate/2` sends for `gen_server:stop/2`: exit with `reason`."""

    reason: object


@attrs.frozen
class Init:
    """The signal a newly spawned process finds first: it puts the process in the run queue."""


@attrs.frozen
class Signal:
    """One signal in flight from `sender` to `receiver`; `seq` is its global send order."""

    seq: int
    sender: Pid
    receiver: Pid
    payload: object
