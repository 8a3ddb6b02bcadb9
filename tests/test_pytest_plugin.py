"""The conformance kit as a pytest plugin (regspec/pytest_plugin.py, entry point `pytest11`): a
user's own test suite, run by pytester in a directory of its own, calls `regspec_conformance`.

A conforming backend's test passes; a broken one's fails with the kit's report (the rule id,
the shrunk scenario); the budget is the user's Hypothesis profile's; the shrunk example is
kept in the user's Hypothesis database and replayed first on the next run (with a budget of one
example, which alone finds nothing); the failure shows Hypothesis's notes (`note()`) of the
shrunk example.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import os

from hypothesis import settings
from regspec.common.backends import Backend
from regspec.impl.registry_via import MapBackend

# the parent is named: under CI Hypothesis makes its `ci` profile (no example database) the default
settings.register_profile("user", parent=settings.get_profile(os.environ.get("USER_PARENT", "default")),
                          max_examples=int(os.environ["USER_EXAMPLES"]), deadline=None)
settings.load_profile("user")

GOOD = Backend("user_good", impl=MapBackend("user_good", monitor=True), server=True, dead_holder="down")
# a map registry that never monitors: a dead holder keeps its name for ever (BACKEND-5)
FORGETFUL = Backend("user_forgetful", impl=MapBackend("user_forgetful", monitor=False), server=True,
                    dead_holder="down")


def test_good(regspec_conformance):
    verdict = regspec_conformance(GOOD)
    assert verdict.examples == int(os.environ["USER_EXAMPLES"])   # the profile's budget


def test_forgetful(regspec_conformance):
    regspec_conformance(FORGETFUL, rules=("BACKEND-5",))

'''



def _run(pytester, monkeypatch, examples: int, *args, parent: str = "default"):
    """Run the user's suite in a pytest of its own (the plugin is loaded from its entry point)."""
    monkeypatch.setenv("USER_EXAMPLES", str(examples))
    monkeypatch.setenv("USER_PARENT", parent)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.mark.spec("BACKEND-5")
def test_a_users_suite_passes_the_good_backend_and_fails_the_broken_one_with_the_report(pytester, monkeypatch):
    pytester.makepyfile(test_user=USER_TESTS)
    result = _run(pytester, monkeypatch, 30, "-q")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "BACKEND-5 fails" in out and "departs at step" in out and '{"steps": [' in out
    assert "does NOT conform" in out and "Traceback" not in out
    result.stdout.fnmatch_lines(["*test_forgetful*", "*BACKEND-5  fail*"])
    assert "Hypothesis example database" in out
    assert "Hypothesis's notes on the shrunk examples (note()):" in out and "Failing test case" in out


@pytest.mark.spec("BACKEND-5")
def test_the_shrunk_example_is_replayed_first_from_the_hypothesis_database(pytester, monkeypatch):
    pytester.makepyfile(test_user=USER_TESTS)
    fresh = _run(pytester, monkeypatch, 1, "-q", "-k", "forgetful")      # one example, the simplest: it finds nothing
    fresh.assert_outcomes(passed=1)
    found = _run(pytester, monkeypatch, 40, "-q", "-k", "forgetful")     # found, shrunk and saved
    found.assert_outcomes(failed=1)
    assert (pytester.path / ".hypothesis" / "examples").is_dir()
    again = _run(pytester, monkeypatch, 1, "-q", "-k", "forgetful")      # one example again: the saved one, replayed first
    again.assert_outcomes(failed=1)
    assert "BACKEND-5 fails" in again.stdout.str()


@pytest.mark.spec("BACKEND-5")
def test_under_the_ci_profile_the_failure_says_there_is_no_example_database(pytester, monkeypatch):
    """Hypothesis's `ci` profile keeps no example database and is derandomized: the report says so, and a
    second run finds the same shrunk scenario."""
    pytester.makepyfile(test_user=USER_TESTS)
    runs = [_run(pytester, monkeypatch, 40, "-q", "-k", "forgetful", parent="ci") for _ in range(2)]
    for run in runs:
        run.assert_outcomes(failed=1)
        out = run.stdout.str()
        assert "keeps no example database" in out and "the same run finds the same examples again" in out
        assert "Hypothesis example database: the next run" not in out
    assert not (pytester.path / ".hypothesis" / "examples").exists()
    scenario = [line for line in runs[0].stdout.lines if line.startswith('{"name": "conformance-backend-5"')]
    assert scenario and scenario == [line for line in runs[1].stdout.lines
                                     if line.startswith('{"name": "conformance-backend-5"')]
