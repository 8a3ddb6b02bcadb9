"""The conformance kit (`regspec conformance`, `regspec.conformance`): it passes the good backends in
their class, and fails each broken one on exactly its rule, with a short counterexample or a report.

The budget is small for CI and the seed fixed, so every verdict here is reproducible. The
Hypothesis profile `conformance-deep` registered here (`--hypothesis-profile=conformance-deep`)
sets the budget of the test that leaves it to the profile (`examples=None`); the others keep theirs.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import settings

import conformance_backends as planted
from regspec import cli, conformance
from regspec.common import backends
from regspec.impl.runtime import live_threads

settings.register_profile("conformance-deep", max_examples=300, deadline=None)
SEED = 1
EXAMPLES = 15


def no_runtime_threads() -> list[str]:
    return [t.name for t in live_threads() if t.name.startswith("regspec-") and t.is_alive()]


@pytest.mark.spec("BACKEND-1", "BACKEND-2", "BACKEND-3", "BACKEND-4", "BACKEND-5", "BACKEND-6")
@pytest.mark.parametrize("name, window", [("map_registry", "down"), ("unique_registry", "none")])
def test_the_good_backends_conform_in_their_class(name, window):
    verdict = conformance.check(name, examples=EXAMPLES, seed=SEED)
    assert verdict.profile.window == window
    assert verdict.conforms, conformance.render(verdict)
    assert [r.verdict for r in verdict.rules] == ["pass"] * 6
    assert all(r.examples > 0 for r in verdict.rules)
    assert no_runtime_threads() == []


@pytest.mark.spec("BACKEND-5", "VIA-3")
def test_the_map_registry_without_monitors_fails_the_dead_holder_rule_in_at_most_6_steps():
    verdict = conformance.check("map_registry_nomonitor", examples=EXAMPLES, seed=SEED)
    assert verdict.failed() == {"BACKEND-5"}
    (failure,) = verdict.failures
    assert failure.size <= 6
    assert failure.step is not None and failure.subject != failure.model
    text = conformance.render(verdict)
    assert "BACKEND-5 fails" in text and f"departs at step {failure.step}" in text


@pytest.mark.spec("BACKEND-5")
def test_the_class_is_a_parameter_not_a_failure():
    # The map registry returns a dead holder until it handles the DOWN: fine in class down, not in none.
    verdict = conformance.check("map_registry", window="none", examples=30, seed=SEED, rules=("BACKEND-5",))
    assert verdict.failed() == {"BACKEND-5"}


@pytest.mark.spec("BACKEND-3", "BACKEND-4", "BACKEND-6")
@pytest.mark.parametrize("record", list(planted.PLANTED), ids=lambda r: r.name)
def test_each_planted_bug_fails_exactly_its_rule(record):
    verdict = conformance.check(record, examples=40, seed=SEED, deadline=2.0)
    assert verdict.failed() == {planted.PLANTED[record]}, conformance.render(verdict)
    assert record.name not in backends.names()   # the record was registered only while it ran
    assert no_runtime_threads() == []


@pytest.mark.spec("BACKEND-1", "BACKEND-2", "BACKEND-3")
@pytest.mark.parametrize("record, function, did, rule", [
    (planted.TRUE_FOR_YES, "register_name", "returned True (a Python value, not an atom)", "BACKEND-2"),
    (planted.NONE_FOR_UNDEFINED, "whereis_name", "returned None (a Python value, not an atom)", "BACKEND-3"),
    (planted.RAISING, "whereis_name", "raised KeyError", "BACKEND-1"),
    (planted.MISSING, "send", "is missing", "BACKEND-1"),
    (planted.BLOCKING, "whereis_name", "did not answer within 0.3 s", "BACKEND-1"),
], ids=["true-for-yes", "none-for-undefined", "raising", "missing", "blocking"])
def test_a_bad_backend_gets_a_report_naming_function_value_and_rule(record, function, did, rule):
    verdict = conformance.check(record, examples=EXAMPLES, seed=SEED, deadline=0.3)
    assert rule in verdict.failed()
    violation = verdict.failures[0].violation
    assert (violation.function, violation.rule) == (function, rule)
    assert violation.did.startswith(did)
    text = conformance.render(verdict)
    assert f"{function} {did}" in text and f"breaks {rule}" in text and "Traceback" not in text
    assert no_runtime_threads() == []


# -- the command ---------------------------------------------------------------------------

def run_cli(capsys, *args):
    code = cli.main(["conformance", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.spec("BACKEND-5")
def test_cli_exit_codes(capsys):
    assert run_cli(capsys, "unique_registry", "--examples", "5", "--seed", "1")[0] == 0
    code, out, _ = run_cli(capsys, "map_registry_nomonitor", "--examples", "10", "--seed", "1")
    assert code == 1 and "BACKEND-5  fail" in out and "does NOT conform" in out
    for bad in (["no_such_backend"], ["--beam", "x.erl"], [],
                ["nomodule_xyz:THING"], ["map_registry", "--examples", "0"]):
        code, out, err = run_cli(capsys, *bad)
        assert code == 2 and err.startswith("regspec conformance: ") and "Traceback" not in err, bad


@pytest.mark.spec("BACKEND-6")
def test_cli_checks_a_record_given_as_module_attr(capsys):
    code, out, _ = run_cli(capsys, "conformance_backends:RACY", "--examples", "10", "--seed", "1", "--json")
    verdict = json.loads(out)
    assert code == 1 and [r["id"] for r in verdict["rules"] if r["verdict"] == "fail"] == ["BACKEND-6"]
    assert "planted_racy" not in backends.names()


@pytest.mark.spec("BACKEND-5")
def test_json_shape_and_seed_replays_the_same_verdict(capsys):
    args = ("map_registry_nomonitor", "--examples", "10", "--seed", "7", "--json")
    code, out, _ = run_cli(capsys, *args)
    first = json.loads(out)
    assert code == 1
    assert set(first) == {"subject", "class", "seed", "examples", "conforms", "rules", "failures"}
    assert first["class"] == {"window": "down", "self_register": False, "global_window": "down",
                              "differs_from_global": False} and first["seed"] == 7
    assert [r["id"] for r in first["rules"]] == [f"BACKEND-{n}" for n in range(1, 7)]
    (failure,) = first["failures"]
    assert failure["rule"] == "BACKEND-5" and failure["steps"] == len(failure["scenario"]["steps"]) <= 6
    assert {"step", "op", "subject", "model"} <= set(failure)
    assert json.loads(run_cli(capsys, *args)[1]) == first


@pytest.mark.spec("BACKEND-2")
def test_assert_conforms_uses_the_hypothesis_profile_when_no_budget_is_given():
    verdict = conformance.assert_conforms("map_registry", examples=None, seed=SEED, rules=("BACKEND-2",))
    assert verdict.examples == settings.default.max_examples
    with pytest.raises(AssertionError, match="BACKEND-5 fails"):
        conformance.assert_conforms("map_registry_nomonitor", examples=EXAMPLES, seed=SEED, rules=("BACKEND-5",))
