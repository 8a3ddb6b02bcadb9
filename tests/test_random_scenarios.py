"""Random well-formed scenarios: the model agrees with the BEAM on them.

CI runs a few dozen seeds; REGSPEC_PROFILE=thorough runs ten times more,
and longer ones.
"""

from __future__ import annotations

import pytest

from support import PROFILE
from regspec import beam
from regspec.generate import generate
from regspec.model import ModelSession, run_scenario
from regspec.model.invariants import check
from regspec.runner import run
from regspec.scenario import parse
from support import needs_erl

THOROUGH = PROFILE == "thorough"
BEAM_SEEDS = range(1000, 1000 + (400 if THOROUGH else 36))
LENGTH = 40 if THOROUGH else 24


class CheckedSession(ModelSession):
    """A model session that checks the world's invariants after every step."""

    def perform(self, op, args, nowait):
        result = super().perform(op, args, nowait)
        assert check(self.world) == ()
        return result


@pytest.mark.spec("REG-LOCAL-2", "REG-LOCAL-7", "PROC-1")
@pytest.mark.parametrize("seed", range(3000 if THOROUGH else 300))
def test_model_invariants_hold_on_random_scenarios(seed):
    scenario = parse(generate(seed, length=LENGTH))
    run(scenario, CheckedSession(scenario.node))


@needs_erl
@pytest.mark.parametrize("seed", BEAM_SEEDS)
def test_model_agrees_with_beam_on_random_scenarios(seed):
    doc = generate(seed, length=LENGTH)
    expected = beam.run_scenario(doc)
    assert expected == run_scenario(parse(doc)), f"replay: regspec diff <(python -c 'import json; from regspec.generate import generate; print(json.dumps(generate({seed}, length={LENGTH})))')"
