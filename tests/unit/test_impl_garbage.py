"""A runtime that has shut down is freed at once: none of its objects is left for the cyclic collector.

The state machines make and close a runtime per example, inside a
Hypothesis run whose heap is large; whatever a closed runtime leaves in
reference cycles is found only by the collector's passes over that heap
(a class made per chat room, a never-started thread holding its runtime's
method were two such cycles).
"""

from __future__ import annotations

import gc

from regspec.sessions import run_impl, run_model

STEPS = [
    {"op": "spawn", "kind": "collector", "as": "c", "trap_exit": True},
    {"op": "start", "kind": "chat_room", "name": {"local": "room"}, "as": "r", "link": True},
    {"op": "cast", "to": {"local": "room"}, "msg": ["work", 20000]},
    {"op": "call", "to": {"proc": "r"}, "msg": "get_messages"},
    {"op": "monitor", "watcher": {"proc": "c"}, "target": {"proc": "r"}, "as": "m"},
    {"op": "send", "to": {"proc": "c"}, "msg": "ping"},
    # spawned without waiting, then killed before its first turn: its thread is never started
    {"op": "spawn", "kind": "collector", "as": "early", "nowait": True},
    {"op": "kill", "target": {"proc": "early"}, "reason": "kill"},
    {"op": "kill", "target": {"proc": "r"}, "reason": "boom"},
    {"op": "messages", "target": {"proc": "c"}},
]


def _regspec_garbage(run) -> list:
    """The regspec objects among what the collector finds unreachable after `run()`."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        return [o for o in gc.garbage if type(o).__module__.startswith("regspec")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


def test_a_closed_runtime_leaves_no_cycle():
    results = []
    garbage = _regspec_garbage(lambda: results.extend(run_impl({"steps": STEPS})))
    assert results == run_model({"steps": STEPS})   # the run did what its steps say
    assert results[-1]["result"] == ["ping", ["DOWN", {"ref": "R1"}, "process", {"pid": "P2"}, "boom"]]
    assert garbage == [], f"left for the cyclic collector: {sorted({type(o).__qualname__ for o in garbage})}"
