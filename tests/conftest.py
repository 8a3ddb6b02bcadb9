"""Shared fixtures: Hypothesis profiles, the spec marker, the leaked-thread check, the async-kill count."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings

from regspec.impl import runtime
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
    """Every test ends with no thread of its own left running, and its thread on the CPUs it had
    (a runtime pins its driver to one CPU while it lives)."""
    before = set(runtime.live_threads())
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    yield
    leaked = [t for t in runtime.live_threads() if t not in before and t.is_alive()]
    assert not leaked, f"threads leaked by the test: {leaked}"
    if cpus is not None:
        assert os.sched_getaffinity(0) == cpus, "a runtime left the test's thread pinned to one CPU"


ASYNC_KILLS: Counter = Counter()   # test function (file::name) -> kills the runtime delivered asynchronously


@pytest.fixture(autouse=True)
def count_async_kills(request):
    """How many kills each test's runtimes raised into a thread running its own code (SIG-1)."""
    before = runtime.ASYNC_KILLS[0]
    yield
    if runtime.ASYNC_KILLS[0] > before:
        test = request.node.nodeid.split("[")[0].rpartition("/")[2]   # file::Class::function, no parameters
        ASYNC_KILLS[test] += runtime.ASYNC_KILLS[0] - before


def pytest_terminal_summary(terminalreporter):
    """The test output counts the asynchronous kill deliveries, per test function and in all."""
    terminalreporter.write_sep("-", f"asynchronous kills delivered by the threaded runtime: {runtime.ASYNC_KILLS[0]}")
    for test, n in sorted(ASYNC_KILLS.items()):
        terminalreporter.write_line(f"{n:6d}  {test}")
