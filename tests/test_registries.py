"""Kinds and via backends are registered in one place, and every program reads that place.

- The kinds a scenario may start are `regspec.common.childspec.KINDS`: the
  validator and the generator read it, and each program's own table of how
  a kind starts (the model's `starters.STARTERS` and `behaviours.BEHAVIOURS`,
  the runtime's `kind_table.START`, the beam's `regspec_kinds:start/3`)
  covers exactly that list, plus the unique Registry's partition, a kind
  only the Registry starts.
- The via backends are the records of `regspec.common.backends`: the
  validator, the generator, the model and the runtime (their legs and the
  servers they start before step 0) and the beam target read them, and a
  backend registered at run time is known to all of them.
"""

from __future__ import annotations

import re
import sys
import textwrap

import attrs
import pytest

from regspec import scenario
from regspec.common import backends
from regspec.common.childspec import KINDS, child_spec
from regspec.generate import generate
from regspec.scenario import ScenarioError, parse
from support import ROOT

INTERNAL_KINDS = {"registry_partition"}   # the unique Registry's partition: only the Registry starts one
BUILTIN = ("map_registry", "map_registry_nomonitor", "unique_registry")


# -- kinds ------------------------------------------------------------------------------

def test_the_validator_reads_the_one_list_of_kinds():
    assert scenario.KINDS is KINDS
    with pytest.raises(ScenarioError, match=f"expected one of {', '.join(KINDS)}"):
        parse({"steps": [{"op": "start", "kind": "robot"}]})


def test_the_models_tables_cover_exactly_the_kinds():
    from regspec.model import behaviours, starters

    assert set(starters.STARTERS) == set(KINDS) | INTERNAL_KINDS
    assert set(behaviours.BEHAVIOURS) == set(KINDS) | INTERNAL_KINDS | {"global_name_server"}


def test_the_runtimes_tables_cover_exactly_the_kinds():
    from regspec.impl import collector, kind_table

    assert set(kind_table.START) == set(KINDS) | INTERNAL_KINDS
    assert set(collector.BODIES) <= set(KINDS)   # the bodies the driver spawns by kind


def test_the_beam_driver_starts_exactly_the_kinds():
    source = (ROOT / "regspec" / "beam" / "regspec_kinds.erl").read_text()
    assert re.findall(r'^start\(<<"(\w+)">>, J|^start\(<<"(\w+)">>, _J', source, re.M)
    started = {a or b for a, b in re.findall(r'^start\(<<"(\w+)">>, J|^start\(<<"(\w+)">>, _J', source, re.M)}
    assert started == set(KINDS)


def test_the_generator_draws_only_the_kinds():
    kinds = set()
    for seed in range(30):
        for step in generate(seed, otp=True)["steps"]:
            walk = [step]
            while walk:
                v = walk.pop()
                if isinstance(v, dict):
                    if "kind" in v:
                        kinds.add(v["kind"])
                    walk += v.values()
                elif isinstance(v, list):
                    walk += v
    assert kinds == set(KINDS)


# -- the backend registry ----------------------------------------------------------------

def test_the_built_in_backends_come_first():
    assert backends.names()[:3] == BUILTIN
    assert [b.name for b in backends.BUILTIN] == list(BUILTIN)


@pytest.mark.parametrize("name", BUILTIN)
def test_each_built_in_leg_is_in_its_own_program(name):
    record = backends.get(name)
    assert record.model.startswith("regspec.model.") and record.impl.startswith("regspec.impl.")
    assert type(backends.model_leg(name)).__module__ == "regspec.model.registry_via"
    assert type(backends.impl_leg(name)).__module__ == "regspec.impl.registry_via"
    source = (ROOT / "regspec" / "beam" / f"{name}.erl")
    assert record.beam == str(source) and f"-module({record.beam_module})." in source.read_text()


def test_each_server_has_its_own_pid():
    pids = [backends.server_pid(b) for b in backends.names()]
    assert len(set(pids)) == len(pids) and all(p.n < 0 for p in pids)


def test_the_model_and_the_runtime_start_every_backends_server():
    from regspec.sessions import ImplSession
    from regspec.model import new_world

    world = new_world()
    session = ImplSession()
    try:
        for name in BUILTIN:
            pid = backends.server_pid(name)
            assert world.labels[pid] == name and world.registry_servers[pid][0] == name
            assert session.runtime.labels[pid] == name and session.runtime.registry_servers[pid][0] == name
    finally:
        session.close()


def test_a_record_is_checked():
    with pytest.raises(backends.BackendError, match="an atom"):
        backends.Backend("My-Backend")
    with pytest.raises(backends.BackendError, match="server_type"):
        backends.Backend("mine", server_type="boss")
    with pytest.raises(backends.UnknownBackend, match="no via backend 'nope'"):
        backends.get("nope")
    with pytest.raises(backends.BackendError, match="cannot be unregistered"):
        backends.unregister("map_registry")
    with pytest.raises(backends.BackendError, match="a different via backend 'map_registry'"):
        backends.register(attrs.evolve(backends.get("map_registry"), server=False))
    backends.register(backends.get("map_registry"))   # the same record again: nothing happens


class _Leg:
    """A leg of nothing but the via protocol, for both Python targets."""

    def register_name(self, *a):
        raise NotImplementedError

    unregister_name = whereis_name = send = register_name


def test_a_leg_without_the_functions_its_traits_need_is_refused():
    with backends.registered(backends.Backend("halfway", model=_Leg(), impl=_Leg(), server=True)):
        with pytest.raises(backends.BackendError, match="the model leg of via backend 'halfway'.* lacks boot, "
                                                        "start_server, keys"):
            backends.model_leg("halfway")
        with pytest.raises(backends.BackendError, match="lacks prestart, start_server, keys"):
            backends.impl_leg("halfway")
    with backends.registered(backends.Backend("plain", model=_Leg())):
        assert isinstance(backends.model_leg("plain"), _Leg)
        with pytest.raises(backends.BackendError, match="has no impl leg"):
            backends.impl_leg("plain")


def test_the_validator_knows_exactly_the_registered_backends():
    doc = {"steps": [{"op": "whereis", "name": {"via": ["plain", "k"]}}]}
    with pytest.raises(ScenarioError, match='unknown via backend "plain"'):
        parse(doc)
    with backends.registered(backends.Backend("plain", model=_Leg())):
        parse(doc)
        # a backend with no server has no registry_server and no registry_keys
        with pytest.raises(ScenarioError, match=r'^step 0: via backend "plain" has no registry server \(expected one '
                                                r"of map_registry, map_registry_nomonitor, unique_registry\)$"):
            parse({"steps": [{"op": "start", "kind": "registry_server", "backend": "plain"}]})
        with pytest.raises(ScenarioError, match=r"'children'\[0\]\.backend: via backend \"plain\" has no"):
            parse({"steps": [{"op": "start", "kind": "supervisor",
                              "children": [{"kind": "registry_server", "backend": "plain"}]}]})
        with pytest.raises(ScenarioError, match="'registry': via backend \"plain\" has no registry server"):
            parse({"steps": [{"op": "spawn", "kind": "collector", "as": "c"},
                             {"op": "registry_keys", "registry": "plain", "target": {"proc": "c"}}]})
    assert "plain" not in backends.names()
    with pytest.raises(ScenarioError, match='unknown via backend "plain"'):
        parse(doc)


def test_a_registry_servers_child_type_is_its_backends():
    assert str(child_spec({"kind": "registry_server", "backend": "unique_registry"}).type) == "supervisor"
    assert str(child_spec({"kind": "registry_server"}).type) == "worker"
    with backends.registered(backends.Backend("boss", model=_Leg(), server=True, server_type="supervisor")):
        assert str(child_spec({"kind": "registry_server", "backend": "boss"}).type) == "supervisor"


def test_the_generator_draws_the_backends_it_is_given():
    assert generate(3, otp=True) == generate(3, otp=True, backends=BUILTIN)
    with backends.registered(backends.Backend("plain", model=_Leg(), impl=_Leg())):
        drawn = set()
        for seed in range(12):
            doc = generate(seed, otp=True, backends=("plain", "unique_registry"))
            parse(doc)
            drawn |= {b for _, _, b in scenario.backends_named(parse(doc))}
        # registry servers come from the backends with one: unique_registry here
        assert drawn == {"plain", "unique_registry"}


def test_entry_points_register_their_records(tmp_path, monkeypatch):
    (tmp_path / "ep_backend.py").write_text(textwrap.dedent("""
        from regspec.common.backends import Backend
        BACKEND = Backend("from_entry_point")
        NOT_A_RECORD = 42
    """))
    dist = tmp_path / "ep_backend-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[regspec.backends]\nfrom_entry_point = ep_backend:BACKEND\n"
                                           "[regspec.bad]\nbad = ep_backend:NOT_A_RECORD\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert [b.name for b in backends.load_entry_points()] == ["from_entry_point"]
        assert "from_entry_point" in backends.names()
        with pytest.raises(backends.BackendError, match="entry point bad = 'ep_backend:NOT_A_RECORD'.* is a int"):
            backends.load_entry_points("regspec.bad")
    finally:
        backends.unregister("from_entry_point")
        sys.modules.pop("ep_backend", None)
