"""The conformance kit in class `lease` (issue 15): `redis_registry` against a real redis-server.

On one runtime the class checks as `down` (a dead holder's name is freed when its runtime
handles the DOWN: the reference is `map_registry`); the verdict states the class's one
difference from `:global` (dead-holder window: lease, not down). Each example runs on a fresh
runtime sharing the server's name space, so a runtime that left a name behind at shutdown
would show in the next example as a name held by another runtime's pid.
"""

from __future__ import annotations

import json
import uuid

import pytest

from regspec import cli, conformance
from regspec.common import backends
from regspec.impl.runtime import live_threads
from redis_support import start_or_skip

SEED = 1
EXAMPLES = 8
LEASE_MS = 1000
DIFFERS = "dead-holder window: lease (differs from :global: down)"


@pytest.fixture(scope="module")
def server():
    srv = start_or_skip()
    yield srv
    srv.stop()


def runtime_threads() -> list[str]:
    return [t.name for t in live_threads() if t.name.startswith("regspec-") and t.is_alive()]


@pytest.mark.spec("BACKEND-1", "BACKEND-2", "BACKEND-3", "BACKEND-4", "BACKEND-5", "BACKEND-6", "VIA-9")
def test_redis_registry_conforms_in_class_lease(server):
    from regspec.impl.registry_redis import RedisBackend
    prefix = f"kit-{uuid.uuid4().hex[:8]}"
    record = backends.Backend("redis_registry", model=backends.REDIS_REGISTRY.model, server=True, dead_holder="lease",
                              impl=RedisBackend(url=server.url, lease_ms=LEASE_MS, prefix=prefix))
    verdict = conformance.check(record, examples=EXAMPLES, seed=SEED)
    text = conformance.render(verdict)
    assert verdict.profile.window == "lease"
    assert verdict.conforms, text
    assert [r.verdict for r in verdict.rules] == ["pass"] * 6
    assert all(r.examples > 0 for r in verdict.rules)
    assert DIFFERS in text.splitlines()[1]
    assert runtime_threads() == []
    assert list(server.client().scan_iter(match=f"{prefix}:name:*")) == []   # every runtime released its names


@pytest.mark.spec("BACKEND-5", "VIA-9")
def test_cli_class_lease_on_the_redis_record(server, monkeypatch, capsys):
    monkeypatch.setenv("REGSPEC_REDIS_URL", server.url)
    monkeypatch.setenv("REGSPEC_REDIS_LEASE_MS", str(LEASE_MS))
    monkeypatch.setenv("REGSPEC_REDIS_PREFIX", f"kit-{uuid.uuid4().hex[:8]}")
    code = cli.main(["conformance", "regspec.common.backends:REDIS_REGISTRY", "--examples", "4", "--seed", "2",
                     "--json"])
    verdict = json.loads(capsys.readouterr().out)
    assert code == 0 and verdict["conforms"]
    assert verdict["class"] == {"window": "lease", "self_register": False, "global_window": "down",
                                "differs_from_global": True}
    assert "redis_registry" not in backends.names()


@pytest.mark.spec("BACKEND-5")
def test_the_window_is_stated_against_globals_and_lease_checks_as_down_on_one_runtime():
    # No Redis: the map registry is a lease backend on one runtime (its reference in class lease).
    lease = conformance.check("map_registry", window="lease", examples=5, seed=SEED, rules=("BACKEND-5",))
    assert lease.conforms and DIFFERS in conformance.render(lease)
    down = conformance.check("map_registry", examples=5, seed=SEED, rules=("BACKEND-5",))
    assert "dead-holder window: down (same as :global)" in conformance.render(down)
    none = conformance.check("map_registry_nomonitor", window="lease", examples=15, seed=SEED, rules=("BACKEND-5",))
    assert none.failed() == {"BACKEND-5"}   # a dead holder kept for ever is not a lease
