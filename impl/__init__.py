"""regspec.impl: the threaded runtime, a thread per process, that must print what the model prints.

Implements: SCN-2, SCN-6, SCN-7 (the entry points: a runtime, its driver, the driver's steps)

A `Runtime` runs one thread per process; its `Driver` is P0, the scenario's
shell; `to_command(step)` turns a scenario step into a driver action;
`regspec.impl.observe` reads a runtime (who holds a name, `process_info`).
Sessions that run whole scenarios are `regspec.sessions.ImplSession`.

>>> from regspec.common import steps
>>> from regspec.terms import Atom, LocalName
>>> rt = Runtime("a"); d = Driver(rt); prestart(rt)
>>> to_command(steps.Whereis(name=LocalName(Atom("room1"))))(d)
undefined
>>> rt.shutdown()
"""

from __future__ import annotations

# The entry points sit on top of both layers: the process layer (runtime, driver) and the
# OTP library (driver_names, and through it kinds and behaviours, which fill the kind and body tables).
from . import invariants
from .driver import Driver
from .driver_names import to_command
from .registry_via import prestart
from .runtime import DRIVER, LeakedThreads, Runtime, Statistics

__all__ = ["Runtime", "Driver", "to_command", "prestart", "invariants", "LeakedThreads", "Statistics", "DRIVER"]
