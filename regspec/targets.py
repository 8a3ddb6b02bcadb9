"""The targets a scenario runs on: `model`, `impl` and `beam`, behind one function.

>>> from regspec.scenario import parse
>>> run(parse({"steps": [{"op": "whereis", "name": {"local": "nobody"}}]}), "model")
[{'step': 0, 'result': 'undefined'}]
"""

from __future__ import annotations

import sys

from .beam import BeamError
from .common import backends
from .runner import RunFailed
from .scenario import Scenario, backends_named

__all__ = ["TARGETS", "TargetUnavailable", "TargetFailed", "run", "available", "check_backends"]

TARGETS = ("model", "impl", "beam")


class TargetUnavailable(RuntimeError):
    """The target cannot run here (for example `erl` is not installed)."""


class TargetFailed(RuntimeError):
    """The run failed in the target (a beam run that broke off, an internal error); the
    message is one line naming the step when one is known."""


def available(target: str) -> bool:
    if target == "beam":
        from . import beam
        return beam.available()
    if target == "impl":
        try:
            from regspec import impl  # noqa: F401
        except ImportError:
            return False
    return target in TARGETS


def run(scenario: Scenario, target: str) -> list[dict]:
    """Canonical results of `scenario` on `target`.

    Raises:
        TargetUnavailable: the target cannot run on this machine.
        TargetFailed: the run broke off; the message names the step.
    """
    check_backends(scenario, target)
    try:
        return _run(scenario, target)
    except (BeamError, RunFailed) as e:
        raise TargetFailed(str(e)) from e


def check_backends(scenario: Scenario, target: str) -> None:
    """Refuse, before anything runs, a scenario naming a via backend that `target` has no leg for
    (or whose leg cannot be loaded): `TargetFailed` naming the first step that names it."""
    for i, op, name in backends_named(scenario):
        try:
            record = backends.get(name)
            if target == "model":
                backends.model_leg(name)
            elif target == "impl":
                backends.impl_leg(name)
            elif target == "beam" and record.beam is None:
                raise backends.BackendError(f"via backend {name!r} has no beam leg")
        except backends.BackendError as e:
            raise TargetFailed(f"step {i} ({op}): {e}") from None


def _run(scenario: Scenario, target: str) -> list[dict]:
    if target == "model":
        from .sessions import run_model
        return run_model(scenario)
    if target == "impl":
        if not available("impl"):
            raise TargetUnavailable("the impl target is not built yet")
        from .sessions import run_impl
        try:
            return run_impl(scenario)
        except Exception as e:   # every step finished, closing failed: report it, keep the results
            if getattr(e, "results", None) is None:
                raise
            print(f"warning: {type(e).__name__}: {e}", file=sys.stderr)
            return e.results
    if target == "beam":
        from . import beam
        if not beam.available():
            raise TargetUnavailable("the beam target needs erl and erlc on PATH (Debian: apt-get install erlang-base erlang-dev elixir)")
        return beam.run_scenario(scenario.to_json())
    raise ValueError(f"unknown target {target!r} (expected one of {', '.join(TARGETS)})")
