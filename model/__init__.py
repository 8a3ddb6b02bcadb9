"""regspec.model: the pure, deterministic reference model of BEAM processes and names.

Implements: SCN-2, SCN-6, SCN-7 (the entry points: a world, its transitions, the driver's steps)

A world is a frozen value (`World`); `step(world, event)` is its one
transition, an event being a driver command (`to_command` turns a scenario
step into one) or a scheduler choice (`enabled(world)` lists them).
`regspec.model.observe` reads a world (who holds a name, `process_info`).
Sessions that run whole scenarios are `regspec.sessions.ModelSession`.

>>> from regspec.common import steps
>>> from regspec.terms import Atom, LocalName
>>> w = new_world()
>>> w, out = step(w, to_command(steps.Whereis(name=LocalName(Atom("room1")))))
>>> out
(Result(value=undefined),)
"""

from __future__ import annotations

from regspec.common.records import DRIVER

from . import kinds, world as _world
from .driver import Result
from .driver_names import to_command
from .scheduler import (CanonicalChooser, Chooser, FireReceiveTimeout, Run, FunctionChooser, SeededChooser, Stuck,
                        enabled, run_until_quiescent, run_until_result, step)
from .world import World

__all__ = [
    "World", "new_world", "step", "enabled", "run_until_quiescent", "run_until_result", "Run", "Stuck",
    "FireReceiveTimeout", "Result", "Chooser", "CanonicalChooser", "SeededChooser", "FunctionChooser",
    "to_command", "DRIVER",
]


def new_world(node: str = "a") -> World:
    """The world before step 0 as a scenario starts from it: the erts layer's world (the driver
    alone, `world.new_world`) booted by the OTP library (`kinds.boot`: registries, global server)."""
    return kinds.boot(_world.new_world(node))
