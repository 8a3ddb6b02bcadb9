"""The conformance kit as a pytest plugin: the `regspec_conformance` fixture (entry point `pytest11`).

Installed with regspec, it is loaded by every pytest run and provides one fixture and nothing
else (no hook, no option; the kit is imported only when the fixture is used). A test of one's
own calls it with a backend and fails with the kit's report when the backend does not conform:

    from my_backend import BACKEND

    def test_my_backend_conforms(regspec_conformance):
        regspec_conformance(BACKEND)                    # or "my_backend:BACKEND", or a registered name

It follows Hypothesis's conventions: without `examples` the budget per rule is the active
settings profile's `max_examples` (`settings.load_profile`, `--hypothesis-profile`); without
`seed` the profile's example database is used, each rule's hunt under a key of the test's own,
so a shrunk counterexample is saved and replayed first on the next run (Hypothesis's `ci`
profile, the default where `CI` is set, keeps no database and is derandomized: the failure says
so); the kit gives each shrunk scenario to `note()`, and the failure shows Hypothesis's notes
after the kit's report (called inside a Hypothesis test of one's own, with
`HealthCheck.nested_given` suppressed, the report is also noted there). The other keywords are
`regspec.conformance.check`'s (`window`, `self_register`, `deadline`, `rules`, ...).
"""

from __future__ import annotations

import pytest

__all__ = ["regspec_conformance"]


@pytest.fixture
def regspec_conformance(request):
    """A function `(backend, **options) -> Verdict` that fails the test unless the backend conforms."""

    def check(backend, *, examples: int | None = None, seed: int | None = None, **options):
        from hypothesis import note
        from hypothesis.control import currently_in_test_context

        from regspec import conformance

        try:
            verdict = conformance.check(backend, examples=examples, seed=seed,
                                        database_key=request.node.nodeid, **options)
        except conformance.UsageError as e:
            pytest.fail(f"regspec conformance: {e}", pytrace=False)
        if not verdict.conforms:
            report = conformance.render(verdict)
            if currently_in_test_context():
                note(report)
            notes = [n for f in verdict.failures for n in f.notes]
            if notes:
                report += "\n\nHypothesis's notes on the shrunk examples (note()):\n" + "\n".join(notes)
            pytest.fail(f"{report}\n({_replay(seed)})", pytrace=False)
        return verdict

    return check


def _replay(seed: int | None) -> str:
    """How the failure is found again: the seed, the example database, or neither (the `ci` profile has none)."""
    from hypothesis import settings

    if seed is not None:
        return f"replay with seed={seed}"
    active = settings()
    if active.database is not None:
        return "the shrunk examples are in the Hypothesis example database: the next run replays them first"
    how = ("the profile is derandomized: the same run finds the same examples again" if active.derandomize
           else "pass seed=N to make a run replayable")
    return f"the active Hypothesis profile keeps no example database (database=None, as its ci profile); {how}"
