"""Starting a process of a kind, the kind looked up by name: `start_kind`, for the driver and supervisors.

Implements: SCN-9, DSUP-7

A supervisor starts its children from their child specs, as OTP's
supervisor applies the `{M, F, A}` a child spec names: it does not know
the kinds. `STARTERS` is that table, kind name -> `starter(spec)`, a
generator of `code` effects run by the starting process that returns
`{ok, Pid}` or `{error, Reason}`; the library's catalogue of kinds
(`kinds.py`) fills it. This module sits low in the library: supervisors
import it, it imports no behaviour, and so `kinds -> supervisor` is the
only direction between kinds and supervisors.

A child spec's `as` label binds the first pid the child ever had
(`world.bindings`), so a scenario can name a supervised child; when the
supervisor itself fails to start, the runner binds none of its children
(SCN-9).
"""

from __future__ import annotations

from typing import Callable

from regspec.common.childspec import ChildSpec, substitute_spec
from regspec.terms import Atom, Pid

from .code import Atomic
from .world import World, replace_world

__all__ = ["STARTERS", "register_starter", "start_kind"]

OK = Atom("ok")

STARTERS: dict[str, Callable] = {}


def register_starter(kind: str, starter: Callable) -> None:
    """Enter how a process of `kind` starts: `starter(spec)`, a generator returning `{ok, Pid}` / `{error, R}`."""
    STARTERS[kind] = starter


def start_kind(spec: ChildSpec, args: tuple = ()):
    """Start one process of `spec.kind` from the running process: `{ok, Pid}` or `{error, Reason}`.

    In a dynamic supervisor's template a name may hold `TemplateArg(n)`,
    replaced by the n-th start argument first (DSUP-7).
    """
    spec = substitute_spec(spec, args)
    starter = STARTERS.get(spec.kind)
    if starter is None:  # pragma: no cover - the validator allows only the kinds in the table
        raise ValueError(f"unknown kind {spec.kind!r}")
    result = yield from starter(spec)
    if result[0] == OK and spec.label is not None:
        yield Atomic(_bind, (spec.label, result[1]))
    return result


def _bind(world: World, me: Pid, label: str, pid: Pid):
    if label in world.bindings:
        return world, OK
    return replace_world(world, bindings=world.bindings.set(label, pid)), OK
