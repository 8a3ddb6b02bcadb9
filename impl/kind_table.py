"""The table of kinds: each kind names the function that starts it, as an OTP child spec names `{M, F, A}`.

Implements: SCN-5, SUP-11, DSUP-3

The bottom of the starting half of the OTP library layer. A supervisor
starts a child by looking its kind up here (`start_kind`), never by
importing the modules that define kinds: `kinds` (above the supervisors)
fills the table when it is imported, so the only import between them is
kinds -> supervisor. A test may add a kind of its own.

A start function is `start(ctx, spec) -> {ok, Pid} | {error, Reason}`, run
by the calling process (the driver or a supervisor, which becomes the
parent); `spec` is a `ChildSpec` whose `{"arg": n}` placeholders are
already replaced by the start's arguments.
"""

from __future__ import annotations

from typing import Callable

from regspec.common.childspec import ChildSpec, substitute_spec
from regspec.terms import Atom, Pid

from .process import Context

__all__ = ["START", "add_kind", "start_kind"]

OK = Atom("ok")

START: dict[str, Callable[[Context, ChildSpec], tuple]] = {}


def add_kind(kind: str, start: Callable[[Context, ChildSpec], tuple]) -> None:
    """Make `start` the start function of `kind`."""
    START[kind] = start


def start_kind(ctx: Context, spec: ChildSpec, args: tuple = ()) -> tuple:
    """Start one process of `spec.kind` with `args`: `{ok, Pid}` or `{error, Reason}`."""
    spec = substitute_spec(spec, args)
    start = START.get(spec.kind)
    if start is None:  # pragma: no cover - the validator allows only the kinds `kinds` adds
        raise ValueError(f"unknown kind {spec.kind!r}")
    result = start(ctx, spec)
    if result[0] == OK and spec.label is not None:
        ctx.atomic(_bind, spec.label, result[1])
    return result


def _bind(rt, me: Pid, label: str, pid: Pid) -> None:
    rt.bindings.setdefault(label, pid)
