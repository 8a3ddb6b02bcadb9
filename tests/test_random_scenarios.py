"""Random well-formed scenarios: the model agrees with the BEAM on them.

CI runs a few dozen seeds; REGSPEC_PROFILE=thorough runs ten times more,
and longer ones. They are `otp=True` scenarios, and the CI seeds must
between them exercise supervisors, dynamic supervisors, registry servers,
:global and every name form, so agreement is not about local names only.
"""

from __future__ import annotations

from collections import Counter

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

# What the beam seeds must exercise between them, so that the agreement test
# covers supervisors, :global and via names, not only local ones.
NEW_OPS = ("start_child", "terminate_child", "which_children", "count_children", "global_register",
           "global_unregister", "global_send", "registry_keys")
START_KINDS = ("chat_room", "supervisor", "dynamic_supervisor:DynamicSupervisor",
               "dynamic_supervisor:simple_one_for_one", "registry_server")
NAME_FORMS = ("local", "global", "via:map_registry", "via:map_registry_nomonitor", "via:unique_registry")
NAMED_OPS = ("start", "call", "cast", "whereis", "kill", "monitor", "send", "register", "unregister", "stop",
             "alive")


class CheckedSession(ModelSession):
    """A model session that checks the world's invariants after every step."""

    def perform(self, op, args, nowait):
        result = super().perform(op, args, nowait)
        assert check(self.world) == ()
        return result


@pytest.mark.spec("REG-LOCAL-2", "REG-LOCAL-7", "PROC-1")
@pytest.mark.parametrize("seed", range(3000 if THOROUGH else 300))
def test_model_invariants_hold_on_random_scenarios(seed):
    scenario = parse(generate(seed, length=LENGTH, otp=True))
    run(scenario, CheckedSession(scenario.node))


@needs_erl
@pytest.mark.parametrize("seed", BEAM_SEEDS)
def test_model_agrees_with_beam_on_random_scenarios(seed):
    doc = generate(seed, length=LENGTH, otp=True)
    expected = beam.run_scenario(doc)
    assert expected == run_scenario(parse(doc)), f"replay: regspec diff <(python -c 'import json; from regspec.generate import generate; print(json.dumps(generate({seed}, length={LENGTH}, otp=True)))')"


def _name_form(value):
    """"local", "global", "via:<backend>" for a name; None for a proc."""
    if isinstance(value, dict) and len(value) == 1:
        ((form, inner),) = value.items()
        if form == "via":
            return f"via:{inner[0]}"
        if form in ("local", "global"):
            return form
    return None


def _shapes(steps):
    """What each step exercises: its op, start kind, strategy, (op, name form), ..."""
    for step in steps:
        op = step["op"]
        yield op
        if op == "start":
            yield "kind:" + step["kind"] + (":" + step["impl"] if "impl" in step else "")
        if step.get("strategy"):
            yield "strategy:" + step["strategy"]
        if step.get("nowait"):
            yield "nowait"
        if op == "start_child":
            yield "start_child:" + ("args" if isinstance(step["spec"], list) else "spec")
        if op == "terminate_child":
            yield "terminate_child:" + ("pid" if "pid" in step else "id")
        for field in ("name", "to", "target"):
            form = _name_form(step.get(field))
            if form:
                yield (op, form.partition(":")[0])
                yield form


def test_beam_seeds_exercise_every_generated_operation():
    counts = Counter(s for seed in BEAM_SEEDS for s in _shapes(generate(seed, length=LENGTH, otp=True)["steps"]))
    wanted = [*NEW_OPS, *(f"kind:{k}" for k in START_KINDS), *NAME_FORMS, "nowait",
              "start_child:args", "start_child:spec", "terminate_child:id", "terminate_child:pid",
              *(f"strategy:{s}" for s in ("one_for_one", "one_for_all", "rest_for_one")),
              # alive takes no local name (a model gap, see regspec/generate.py)
              *((op, form) for op in NAMED_OPS for form in ("local", "global", "via")
                if (op, form) != ("alive", "local"))]
    missing = [w for w in wanted if not counts[w]]
    assert not missing, f"no beam seed exercises: {missing}"
