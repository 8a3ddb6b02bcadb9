"""The model and the threaded runtime, side by side under random steps and kills (SCN-2).

CI runs the `ci` Hypothesis profile; REGSPEC_PROFILE=thorough runs 100x more
examples. A failure prints the steps as a scenario file to replay.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from support import PROFILE
from machine import supervision_machine, system_machine
from regspec.impl import runtime
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



@pytest.mark.spec("SCN-5", "SIG-1")
@pytest.mark.parametrize("machine, runs", [(SystemMachine, 100), (SupervisionMachine, 120)], ids=["system", "supervision"])
def test_the_machines_deliver_kills_asynchronously(machine, runs):
    # Their busy-room rules (a ["work", n] cast, then a kill through a link or a tree) make
    # the runtime raise kills inside callbacks; the machine checks the model agrees.
    before = runtime.ASYNC_KILLS[0]
    run_state_machine_as_test(machine, settings=settings(max_examples=runs, stateful_step_count=30, deadline=None,
                                                         database=None, derandomize=True))
    delivered = runtime.ASYNC_KILLS[0] - before
    print(f"{delivered} asynchronous kills in {runs} runs of the {machine.__name__}")
    assert delivered > 0
