"""Reading a world and a runtime (`observe`): the same answers on both, after every quiescent step."""

from __future__ import annotations

import pytest

from regspec.generate import generate
from regspec.model import observe as model_observe
from regspec.impl import observe as impl_observe
from regspec.runner import Stepper
from regspec.scenario import parse
from regspec.sessions import ImplSession, ModelSession
from regspec.terms import Atom, GlobalName, LocalName, Pid, ViaName


def readings(session) -> dict:
    """Everything `observe` reads, for every process the model has."""
    if isinstance(session, ModelSession):
        world, o = session.world, model_observe
        pids = sorted(world.processes)
        read = lambda pid, item: o.process_info(world, pid, item)
        names = {**o.registered(world), **o.global_names(world)}
    else:
        rt, o = session.runtime, impl_observe
        pids = sorted(p.pid for p in rt.processes())
        read = lambda pid, item: o.process_info(rt, pid, item)
        names = {**o.registered(rt), **o.global_names(rt)}
    return {"names": names, "info": {(p, i): read(p, i) for p in pids if p.n > 0 for i in o.ITEMS}}


@pytest.mark.spec("PROC-1", "REG-LOCAL-3")
@pytest.mark.parametrize("seed", range(30_000, 30_025))
def test_model_and_runtime_read_the_same_after_every_quiescent_step(seed):
    scenario = parse(generate(seed, length=30))
    model, impl = ModelSession(), ImplSession()
    left, right = Stepper(model), Stepper(impl)
    try:
        for i, step in enumerate(scenario.steps):
            left.step(step)
            right.step(step)
            if not step.nowait:
                assert readings(model) == readings(impl), f"seed {seed} step {i}: {step.source}"
    finally:
        impl.close()


@pytest.mark.spec("VIA-1", "REG-GLOBAL-3")
def test_whereis_reads_every_form_of_name_without_changing_the_world():
    session = ModelSession()
    stepper = Stepper(session)
    stepper.step({"op": "spawn", "kind": "collector", "as": "c"})
    for name in ({"local": "box"}, {"global": "box"}, {"via": ["map_registry", "box"]},
                 {"via": ["unique_registry", "box"]}):
        stepper.step({"op": "register", "name": name, "target": {"proc": "c"}})
    world = session.world
    names = [LocalName(Atom("box")), GlobalName(Atom("box")), ViaName("map_registry", Atom("box")),
             ViaName("unique_registry", Atom("box"))]
    assert [model_observe.whereis(world, n) for n in names] == [Pid(1)] * 4
    assert session.world == world   # reading is no step
    stepper.step({"op": "kill", "target": {"proc": "c"}})
    assert [model_observe.whereis(session.world, n) for n in names] == [Atom("undefined")] * 4


def test_an_unknown_item_is_refused_by_name():
    with pytest.raises(ValueError, match="'memory'"):
        model_observe.process_info(ModelSession().world, Pid(0), "memory")
