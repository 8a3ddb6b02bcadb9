"""Shared fixtures: Hypothesis profiles, the spec marker, the leaked-thread check."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, settings

from support import PROFILE

# ci: the default, sized for .ci/run; thorough: 100x the examples (opt in
# with REGSPEC_PROFILE=thorough).
settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=4000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(PROFILE)


def pytest_configure(config):
    config.addinivalue_line("markers", "spec(*ids): the SPEC.md rule ids a test checks")


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Every test ends with no thread of its own left running."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads leaked by the test: {leaked}"
