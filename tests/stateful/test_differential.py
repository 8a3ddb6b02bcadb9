"""The model and the threaded runtime, side by side under random steps and kills (SCN-2).

CI runs the `ci` Hypothesis profile; REGSPEC_PROFILE=thorough runs 100x more
examples. A failure prints the steps as a scenario file to replay.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from support import PROFILE
from machine import supervision_machine, system_machine
from regspec.sessions import ImplSession

SystemMachine = system_machine(lambda: ImplSession("a"))

TestModelAgreesWithRuntime = pytest.mark.spec("SCN-2", "SIG-1", "REG-LOCAL-7", "MON-1")(SystemMachine.TestCase)
TestModelAgreesWithRuntime.settings = settings(
    max_examples=30000 if PROFILE == "thorough" else 300, stateful_step_count=40, deadline=None,
    database=None)

SupervisionMachine = supervision_machine(lambda: ImplSession("a"))

TestSupervisionAgrees = pytest.mark.spec("SUP-1", "SUP-2", "SUP-5", "DSUP-1", "VIA-2", "VIA-5", "REG-GLOBAL-4")(
    SupervisionMachine.TestCase)
TestSupervisionAgrees.settings = settings(
    max_examples=3000 if PROFILE == "thorough" else 60, stateful_step_count=25, deadline=None, database=None)
