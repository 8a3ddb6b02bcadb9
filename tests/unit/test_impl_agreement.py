"""The threaded runtime prints exactly what the model prints, scenario by scenario (SCN-2).

Every file of the scenario corpus and a few hundred generated scenarios run
on both; any difference is a bug in one of them (the failure shows the
seed, so it can be replayed with `regspec.generate.generate(seed)`).
"""

from __future__ import annotations

import random

import pytest

from regspec.impl import mailbox, runtime
from regspec.runner import Stepper
from regspec.sessions import ImplSession, run_impl, run_model
from regspec.generate import generate
from regspec.scenario import load, parse
from support import scenario_files


def both(scenario):
    return run_model(scenario), run_impl(scenario)


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_every_corpus_scenario_prints_the_same_on_model_and_impl(path):
    expected, actual = both(load(str(path)))
    assert expected == actual


@pytest.fixture
def raw_lock_waiters(monkeypatch):
    """Every thread waits on raw locks (`mailbox.new_waiter`), as where there is no eventfd or past
    EVENT_FDS threads: the test's own thread (P0's) and every process thread."""
    monkeypatch.setattr(mailbox, "_event_fds", [])
    monkeypatch.setattr(mailbox._thread_waiter, "waiter", None, raising=False)


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_every_corpus_scenario_prints_the_same_when_threads_wait_on_raw_locks(path, raw_lock_waiters):
    """The hand-offs wake an eventfd (a write lets the GIL go) where they can; a raw lock otherwise."""
    expected, actual = both(load(str(path)))
    assert expected == actual


@pytest.mark.spec("SCN-2")
@pytest.mark.parametrize("seed", range(200))
def test_generated_scenario_prints_the_same_on_model_and_impl(seed):
    expected, actual = both(parse(generate(seed)))
    assert expected == actual


def _busy(doc: dict) -> bool:
    return any(s["op"] == "cast" and isinstance(s["msg"], list) and s["msg"][0] == "work" and s["msg"][1]
               for s in doc["steps"])


@pytest.mark.spec("SCN-5", "SIG-1")
def test_generated_busy_rooms_take_kills_asynchronously_with_model_and_runtime_agreeing():
    # The generator's busy rooms (a nowait ["work", n] cast, then a kill that reaches the
    # room through a link) make the runtime deliver kills inside callbacks, asynchronously.
    docs = [doc for seed in range(20_000, 20_100) if _busy(doc := generate(seed, length=24, otp=True, busy=True))]
    before = runtime.ASYNC_KILLS[0]
    for doc in docs:
        expected, actual = both(parse(doc))
        assert expected == actual, doc["name"]
    delivered = runtime.ASYNC_KILLS[0] - before
    print(f"{delivered} asynchronous kills in {len(docs)} generated scenarios with busy rooms")
    assert delivered > 0


@pytest.mark.spec("SCN-2", "SUP-1", "DSUP-1", "VIA-1", "REG-GLOBAL-1")
@pytest.mark.parametrize("seed", range(20_000, 20_200))
def test_generated_otp_scenario_prints_the_same_on_model_and_impl(seed):
    # Supervisors, dynamic supervisors, registry servers, :global and via names (generate(otp=True)).
    expected, actual = both(parse(generate(seed, length=24, otp=True)))
    assert expected == actual


@pytest.mark.spec("SCN-2")
@pytest.mark.parametrize("seed", range(10_000, 10_040))
def test_long_generated_scenario_prints_the_same_on_model_and_impl(seed):
    expected, actual = both(parse(generate(seed, length=40)))
    assert expected == actual


@pytest.mark.spec("REG-LOCAL-8", "SIG-4")
def test_a_nowait_kill_then_whereis_sees_the_name_still_held_on_both():
    scenario = parse({"steps": [
        {"op": "start", "kind": "chat_room", "name": {"local": "room1"}},
        {"op": "kill", "target": {"local": "room1"}, "nowait": True},
        {"op": "whereis", "name": {"local": "room1"}},
        {"op": "whereis", "name": {"local": "room1"}},
    ]})
    expected, actual = both(scenario)
    assert expected == actual
    assert [{"ok": {"pid": "P1"}}, True, {"pid": "P1"}, "undefined"] == [r["result"] for r in actual]


@pytest.mark.spec("SCN-5", "SUP-12")
def test_a_call_to_a_room_computing_its_init_in_a_restart_gets_the_reply_on_both():
    # The supervision machine's steps: after a nowait kill, two nowait casts through the map
    # registry let the restart go on until the new room holds its name and computes its init;
    # the call meets it there. The init outlasts everything but no timeout fires first, however
    # long it takes in real time (here far longer than the call's 1 ms).
    news = {"via": ["map_registry", ["room", "news"]]}
    scenario = parse({"steps": [
        {"op": "start", "kind": "supervisor", "as": "sup", "strategy": "one_for_one", "name": {"local": "rooms_sup"},
         "children": [{"id": "room0", "kind": "chat_room", "name": {"local": "lobby"}, "init_work": 1_000_000},
                      {"id": "room1", "kind": "chat_room", "name": news}]},
        {"op": "kill", "target": {"local": "lobby"}, "reason": "boom", "nowait": True},
        {"op": "cast", "to": news, "msg": ["add_message", {"str": "hi"}], "nowait": True},
        {"op": "cast", "to": news, "msg": ["add_message", {"str": "hi"}], "nowait": True},
        {"op": "call", "to": {"local": "lobby"}, "msg": "get_messages", "timeout": 1},
    ]})
    expected, actual = both(scenario)
    assert expected == actual
    assert [] == actual[-1]["result"]


@pytest.mark.spec("SCN-7")
def test_multi_node_ops_are_unsupported_on_both():
    scenario = parse({"steps": [{"op": "partition", "nodes": [["a"], ["b"]]}]})
    expected, actual = both(scenario)
    assert expected == actual == [{"step": 0, "result": {"unsupported": "partition"}}]


@pytest.mark.spec("REG-LOCAL-2", "REG-LOCAL-7", "PROC-1")
@pytest.mark.parametrize("seed", range(20_000, 20_020))
def test_the_runtime_keeps_the_model_invariants_after_every_step(seed):
    scenario = parse(generate(seed, length=30))
    session = ImplSession()
    stepper = Stepper(session)
    try:
        for i, step in enumerate(scenario.steps):
            stepper.step(step)
            assert () == session.invariant_violations(), f"step {i}: {step}"
    finally:
        session.close()


@pytest.mark.spec("SCN-2")
def test_who_runs_first_once_the_drivers_answer_is_there_is_the_same_on_both():
    # The nowait call's reply reaches the driver while c2 still has the exit
    # signal from r2's death waiting: whether c2 (and its name) is still
    # alive at the next step depends on who runs first, the driver or c2.
    scenario = parse({"steps": [
        {"op": "spawn", "kind": "collector", "as": "c2"},
        {"op": "register", "name": {"local": "beta"}, "target": {"proc": "c2"}},
        {"op": "start", "kind": "chat_room", "link": False, "as": "r2"},
        {"op": "link", "a": {"proc": "c2"}, "b": {"proc": "r2"}},
        {"op": "start", "kind": "chat_room", "as": "r"},
        {"op": "kill", "target": {"proc": "r2"}, "reason": "boom", "nowait": True},
        {"op": "call", "to": {"proc": "r"}, "msg": "get_messages", "nowait": True},
        {"op": "whereis", "name": {"local": "beta"}},
        {"op": "whereis", "name": {"local": "beta"}},
    ]})
    expected, actual = both(scenario)
    assert expected == actual
    assert "undefined" == actual[-1]["result"]


@pytest.mark.spec("SCN-2")
@pytest.mark.parametrize("seed", range(30_000, 30_100))
def test_generated_scenario_with_nowait_steps_prints_the_same_on_model_and_impl(seed):
    # Any step may be nowait (the contract allows it): the next step then sees
    # exactly the state the driver left, which stresses the scheduling order.
    doc = generate(seed, length=24)
    rnd = random.Random(seed)
    for step in doc["steps"]:
        if rnd.random() < 0.5:
            step["nowait"] = True
    expected, actual = both(parse(doc))
    assert expected == actual
