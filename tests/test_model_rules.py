"""One small scenario per SPEC rule, with the results OTP gives.

Each case runs on the model and, when `erl` is present, on the BEAM too, so
the expectations written here are checked against the ground truth.
"""

from __future__ import annotations

import pytest

from regspec import beam
from regspec.sessions import run_model as run_scenario
from regspec.scenario import parse
from support import needs_erl

C = {"op": "spawn", "kind": "collector"}


def col(label, **kw):
    return dict(C, **{"as": label}, **kw)


def room(label, name=None, **kw):
    step = {"op": "start", "kind": "chat_room", "as": label, **kw}
    if name:
        step["name"] = {"local": name}
    return step


def P(n):
    return {"pid": f"P{n}"}


def R(n):
    return {"ref": f"R{n}"}


def proc(label):
    return {"proc": label}


def local(name):
    return {"local": name}


CASES = [
    # -- driver conventions --------------------------------------------------
    ("SCN-1", "the driver traps exits and survives a linked child's crash", [
        col("c", link=True),
        {"op": "kill", "target": proc("c"), "reason": "boom"},
        {"op": "alive", "target": P(0)},
    ], [P(1), True, True]),
    ("SCN-3", "a start with a taken name uses no pid number", [
        room("a", "r"), room("b", "r"), col("c"),
    ], [{"ok": P(1)}, {"error": ["already_started", P(1)]}, P(2)]),
    ("SCN-4", "an eager collector keeps messages in arrival order", [
        col("c"), {"op": "send", "to": proc("c"), "msg": "one"},
        {"op": "send", "to": proc("c"), "msg": ["two", 2]}, {"op": "messages", "target": proc("c")},
    ], [P(1), "ok", "ok", ["one", ["two", 2]]]),
    ("SCN-5", "a chat room prepends messages and stops on a bad call", [
        room("r", "room"), {"op": "cast", "to": local("room"), "msg": ["add_message", {"str": "a"}]},
        {"op": "cast", "to": local("room"), "msg": ["add_message", {"str": "b"}]},
        {"op": "call", "to": local("room"), "msg": "get_messages"},
        {"op": "call", "to": local("room"), "msg": "bogus"},
        {"op": "alive", "target": proc("r")},
    ], [{"ok": P(1)}, "ok", "ok", [{"str": "b"}, {"str": "a"}], {"exit": ["bad_call", "bogus"]}, False]),
    ("SCN-2", "a nowait kill is not handled before the next step", [
        room("r", "room"), {"op": "kill", "target": local("room"), "nowait": True},
        {"op": "whereis", "name": local("room")},
    ], [{"ok": P(1)}, True, P(1)]),
    # -- processes -------------------------------------------------------------
    ("PROC-1", "a restarted room is a new pid", [
        room("r", "room"), {"op": "kill", "target": local("room")}, room("r2", "room"),
    ], [{"ok": P(1)}, True, {"ok": P(2)}]),
    ("PROC-2", "messages from one sender keep their order", [
        col("c", mode="mailbox"), *[{"op": "send", "to": proc("c"), "msg": i} for i in range(4)],
        {"op": "messages", "target": proc("c")},
    ], [P(1), "ok", "ok", "ok", "ok", [0, 1, 2, 3]]),
    ("PROC-3", "sending to a dead pid is ok", [
        col("c"), {"op": "kill", "target": proc("c")}, {"op": "send", "to": proc("c"), "msg": "x"},
    ], [P(1), True, "ok"]),
    ("PROC-4", "sending to a free local name is badarg", [
        {"op": "send", "to": local("nobody"), "msg": "x"},
    ], [{"error": "badarg"}]),
    ("PROC-5", "alive after a nowait kill is already false, and the name is gone", [
        room("r", "room"), {"op": "kill", "target": proc("r"), "nowait": True},
        {"op": "alive", "target": proc("r")}, {"op": "whereis", "name": local("room")},
    ], [{"ok": P(1)}, True, False, "undefined"]),
    # -- exit signals ----------------------------------------------------------
    ("SIG-1", "kill cannot be trapped and reads killed", [
        col("w"), col("c", trap_exit=True), {"op": "monitor", "watcher": proc("w"), "target": proc("c")},
        {"op": "kill", "target": proc("c")}, {"op": "messages", "target": proc("w")},
    ], [P(1), P(2), R(1), True, [["DOWN", R(1), "process", P(2), "killed"]]]),
    ("SIG-2", "normal is ignored unless trapping; a trapping process sees the sender", [
        col("a"), col("b", trap_exit=True),
        {"op": "kill", "target": proc("a"), "reason": "normal"},
        {"op": "kill", "target": proc("b"), "reason": "normal"},
        {"op": "alive", "target": proc("a")}, {"op": "messages", "target": proc("b")},
    ], [P(1), P(2), True, True, True, [["EXIT", P(0), "normal"]]]),
    ("SIG-3", "a custom reason kills a non-trapping process, and is a message to a trapping one", [
        col("w"), col("a"), col("b", trap_exit=True),
        {"op": "monitor", "watcher": proc("w"), "target": proc("a")},
        {"op": "kill", "target": proc("a"), "reason": ["shutdown", "bye"]},
        {"op": "kill", "target": proc("b"), "reason": "boom"},
        {"op": "messages", "target": proc("w")}, {"op": "messages", "target": proc("b")},
    ], [P(1), P(2), P(3), R(1), True, True,
        [["DOWN", R(1), "process", P(2), ["shutdown", "bye"]]], [["EXIT", P(0), "boom"]]]),
    ("SIG-4", "exit/2 returns before the target handled it", [
        col("c"), {"op": "register", "name": local("c"), "target": proc("c")},
        {"op": "kill", "target": local("c"), "nowait": True}, {"op": "registered"},
    ], [P(1), True, True, ["c"]]),
    ("SIG-5", "a process stopping itself with kill sends kill over its links", [
        col("t", trap_exit=True), col("n"), room("r"),
        {"op": "link", "a": proc("t"), "b": proc("r")}, {"op": "link", "a": proc("n"), "b": proc("r")},
        col("w"), {"op": "monitor", "watcher": proc("w"), "target": proc("n")},
        {"op": "stop", "target": proc("r"), "reason": "kill"},
        {"op": "messages", "target": proc("t")}, {"op": "messages", "target": proc("w")},
    ], [P(1), P(2), {"ok": P(3)}, True, True, P(4), R(1), "ok",
        [["EXIT", P(3), "kill"]], [["DOWN", R(1), "process", P(2), "kill"]]]),
    # -- links -----------------------------------------------------------------
    ("LINK-1", "a crash travels over a link, once per pair", [
        col("a"), col("b"), col("w"),
        {"op": "link", "a": proc("a"), "b": proc("b")}, {"op": "link", "a": proc("b"), "b": proc("a")},
        {"op": "monitor", "watcher": proc("w"), "target": proc("b")},
        {"op": "kill", "target": proc("a"), "reason": "boom"}, {"op": "messages", "target": proc("w")},
    ], [P(1), P(2), P(3), True, True, R(1), True, [["DOWN", R(1), "process", P(2), "boom"]]]),
    ("LINK-2", "a normal exit does not propagate; a trapping peer sees it", [
        col("t", trap_exit=True), col("n"), room("r"),
        {"op": "link", "a": proc("t"), "b": proc("r")}, {"op": "link", "a": proc("n"), "b": proc("r")},
        {"op": "stop", "target": proc("r")},
        {"op": "alive", "target": proc("n")}, {"op": "messages", "target": proc("t")},
    ], [P(1), P(2), {"ok": P(3)}, True, True, "ok", True, [["EXIT", P(3), "normal"]]]),
    ("LINK-3", "after unlink a death sends nothing", [
        col("t", trap_exit=True), col("b"), {"op": "link", "a": proc("t"), "b": proc("b")},
        {"op": "unlink", "a": proc("t"), "b": proc("b")}, {"op": "kill", "target": proc("b"), "reason": "boom"},
        {"op": "messages", "target": proc("t")},
    ], [P(1), P(2), True, True, True, []]),
    ("LINK-4", "link to a dead pid: noproc error, or an EXIT message when trapping", [
        col("t", trap_exit=True), col("n"), col("d"), {"op": "kill", "target": proc("d")},
        {"op": "link", "a": proc("n"), "b": proc("d")}, {"op": "link", "a": proc("t"), "b": proc("d")},
        {"op": "alive", "target": proc("n")}, {"op": "messages", "target": proc("t")},
    ], [P(1), P(2), P(3), True, {"error": "noproc"}, True, True, [["EXIT", P(3), "noproc"]]]),
    ("LINK-5", "trap_exit returns the previous value", [
        col("c"), {"op": "trap_exit", "target": proc("c"), "value": True},
        {"op": "trap_exit", "target": proc("c"), "value": True},
        {"op": "kill", "target": proc("c"), "reason": "boom"}, {"op": "messages", "target": proc("c")},
    ], [P(1), False, True, True, [["EXIT", P(0), "boom"]]]),
    # -- monitors --------------------------------------------------------------
    ("MON-1", "a monitor reports the death once, with the reason", [
        col("w"), room("r"), {"op": "monitor", "watcher": proc("w"), "target": proc("r")},
        {"op": "call", "to": proc("r"), "msg": "nope"}, {"op": "messages", "target": proc("w")},
    ], [P(1), {"ok": P(2)}, R(1), {"exit": ["bad_call", "nope"]},
        [["DOWN", R(1), "process", P(2), ["bad_call", "nope"]]]]),
    ("MON-2", "monitoring a dead pid gives an immediate noproc DOWN", [
        col("w"), col("d"), {"op": "kill", "target": proc("d")},
        {"op": "monitor", "watcher": proc("w"), "target": proc("d")}, {"op": "messages", "target": proc("w")},
    ], [P(1), P(2), True, R(1), [["DOWN", R(1), "process", P(2), "noproc"]]]),
    ("MON-3", "a name monitor reports {Name, Node}, also for a free name", [
        col("w"), room("r", "room"), {"op": "monitor", "watcher": proc("w"), "target": local("room")},
        {"op": "monitor", "watcher": proc("w"), "target": local("ghost")},
        {"op": "kill", "target": local("room")}, {"op": "messages", "target": proc("w")},
    ], [P(1), {"ok": P(2)}, R(1), R(2), True,
        [["DOWN", R(2), "process", ["ghost", "a"], "noproc"], ["DOWN", R(1), "process", ["room", "a"], "killed"]]]),
    ("MON-4", "two monitors give two DOWNs", [
        col("w"), col("c"), {"op": "monitor", "watcher": proc("w"), "target": proc("c")},
        {"op": "monitor", "watcher": proc("w"), "target": proc("c")}, {"op": "kill", "target": proc("c")},
        {"op": "messages", "target": proc("w")},
    ], [P(1), P(2), R(1), R(2), True,
        [["DOWN", R(1), "process", P(2), "killed"], ["DOWN", R(2), "process", P(2), "killed"]]]),
    ("MON-5", "demonitor flush removes a DOWN from a mailbox but not from an eager collector", [
        col("m", mode="mailbox"), col("e"), col("c"),
        {"op": "monitor", "watcher": proc("m"), "target": proc("c"), "as": "mm"},
        {"op": "monitor", "watcher": proc("e"), "target": proc("c"), "as": "me"},
        {"op": "kill", "target": proc("c")},
        {"op": "demonitor", "watcher": proc("m"), "ref": {"ref": "mm"}, "flush": True},
        {"op": "demonitor", "watcher": proc("e"), "ref": {"ref": "me"}, "flush": True},
        {"op": "messages", "target": proc("m")}, {"op": "messages", "target": proc("e")},
    ], [P(1), P(2), P(3), R(1), R(2), True, True, True, [], [["DOWN", R(2), "process", P(3), "killed"]]]),
    ("MON-6", "messages sent before death arrive before the DOWN", [
        col("w"), room("r"), {"op": "monitor", "watcher": proc("w"), "target": proc("r")},
        {"op": "link", "a": proc("w"), "b": proc("r")}, {"op": "trap_exit", "target": proc("w"), "value": True},
        {"op": "call", "to": proc("r"), "msg": "bad"}, {"op": "messages", "target": proc("w")},
    ], [P(1), {"ok": P(2)}, R(1), True, False, {"exit": ["bad_call", "bad"]},
        [["EXIT", P(2), ["bad_call", "bad"]], ["DOWN", R(1), "process", P(2), ["bad_call", "bad"]]]]),
    # -- local names -----------------------------------------------------------
    ("REG-LOCAL-1", "register, then the name is taken", [
        col("a"), col("b"), {"op": "register", "name": local("x"), "target": proc("a")},
        {"op": "register", "name": local("x"), "target": proc("b")}, {"op": "whereis", "name": local("x")},
    ], [P(1), P(2), True, {"error": "badarg"}, P(1)]),
    ("REG-LOCAL-2", "one name per pid, even the same name again", [
        col("a"), {"op": "register", "name": local("x"), "target": proc("a")},
        {"op": "register", "name": local("x"), "target": proc("a")},
        {"op": "register", "name": local("y"), "target": proc("a")}, {"op": "registered"},
    ], [P(1), True, {"error": "badarg"}, {"error": "badarg"}, ["x"]]),
    ("REG-LOCAL-3", "a dead pid cannot be registered", [
        col("a"), {"op": "kill", "target": proc("a")}, {"op": "register", "name": local("x"), "target": proc("a")},
    ], [P(1), True, {"error": "badarg"}]),
    ("REG-LOCAL-4", "undefined can never be registered", [
        col("a"), {"op": "register", "name": local("undefined"), "target": proc("a")},
        {"op": "whereis", "name": local("undefined")},
    ], [P(1), {"error": "badarg"}, "undefined"]),
    ("REG-LOCAL-5", "unregister of a free name is badarg; anyone may unregister", [
        room("r", "room"), {"op": "unregister", "name": local("room")}, {"op": "unregister", "name": local("room")},
        {"op": "whereis", "name": local("room")}, {"op": "alive", "target": proc("r")},
    ], [{"ok": P(1)}, True, {"error": "badarg"}, "undefined", True]),
    ("REG-LOCAL-6", "whereis and registered", [
        col("b"), col("a"), {"op": "register", "name": local("zeta"), "target": proc("b")},
        {"op": "register", "name": local("alpha"), "target": proc("a")},
        {"op": "whereis", "name": local("zeta")}, {"op": "whereis", "name": local("nope")}, {"op": "registered"},
    ], [P(1), P(2), True, True, P(1), "undefined", ["alpha", "zeta"]]),
    ("REG-LOCAL-7", "the name is free before the DOWN is sent: the watcher can take it at once", [
        col("w"), room("r", "room"), {"op": "monitor", "watcher": proc("w"), "target": local("room")},
        {"op": "kill", "target": local("room")}, {"op": "whereis", "name": local("room")},
        {"op": "register", "name": local("room"), "target": proc("w")}, {"op": "whereis", "name": local("room")},
    ], [P(1), {"ok": P(2)}, R(1), True, "undefined", True, P(1)]),
    ("REG-LOCAL-8", "until the kill is handled the name stays taken", [
        col("w"), room("r", "room"), {"op": "kill", "target": local("room"), "nowait": True},
        {"op": "register", "name": local("room"), "target": proc("w"), "nowait": True},
        {"op": "whereis", "name": local("room")},
    ], [P(1), {"ok": P(2)}, True, {"error": "badarg"}, P(2)]),
    # -- gen_server ------------------------------------------------------------
    ("GS-1", "a start with a taken name creates no process", [
        col("c"), {"op": "register", "name": local("room"), "target": proc("c")}, room("r", "room"),
        {"op": "call", "to": proc("r"), "msg": "get_messages"}, col("d"),
    ], [P(1), True, {"error": ["already_started", P(1)]}, {"exit": "noproc"}, P(2)]),
    ("GS-2", "a server keeps its name until it dies; then the runtime frees it", [
        room("r", "room"), {"op": "whereis", "name": local("room")}, {"op": "stop", "target": local("room")},
        {"op": "whereis", "name": local("room")},
    ], [{"ok": P(1)}, P(1), "ok", "undefined"]),
    ("GS-3", "call returns the reply; a free name or a dead pid exits noproc", [
        room("r", "room"), {"op": "call", "to": local("room"), "msg": "get_messages"},
        {"op": "call", "to": local("ghost"), "msg": "get_messages"}, {"op": "kill", "target": proc("r")},
        {"op": "call", "to": proc("r"), "msg": "get_messages"},
    ], [{"ok": P(1)}, [], {"exit": "noproc"}, True, {"exit": "noproc"}]),
    ("GS-4", "a timed-out call leaves its request in the callee's mailbox", [
        col("c", mode="mailbox"), {"op": "call", "to": proc("c"), "msg": "hello", "timeout": 10},
        {"op": "messages", "target": proc("c")},
    ], [P(1), {"exit": "timeout"}, [["$gen_call", [P(0), {"improper": ["alias", R(1)]}], "hello"]]]),
    ("GS-5", "a server that dies during a call makes the caller exit with its reason", [
        room("r"), {"op": "call", "to": proc("r"), "msg": ["what", 1]},
    ], [{"ok": P(1)}, {"exit": ["bad_call", ["what", 1]]}]),
    ("GS-6", "cast is always ok", [
        {"op": "cast", "to": local("ghost"), "msg": "x"}, col("c"), {"op": "kill", "target": proc("c")},
        {"op": "cast", "to": proc("c"), "msg": "x"},
    ], ["ok", P(1), True, "ok"]),
    ("GS-7", "stop returns ok; a free name or a dead pid exits noproc", [
        room("r", "room"), {"op": "stop", "target": local("room"), "reason": "shutdown"},
        {"op": "stop", "target": local("room")}, {"op": "stop", "target": proc("r")},
    ], [{"ok": P(1)}, "ok", {"exit": "noproc"}, {"exit": "noproc"}]),
]


def _params():
    return [pytest.param(steps, expected, id=f"{rule}: {title}", marks=pytest.mark.spec(rule))
            for rule, title, steps, expected in CASES]


def _results(expected):
    return [{"step": i, "result": r} for i, r in enumerate(expected)]


@pytest.mark.parametrize("steps, expected", _params())
def test_rule_on_the_model(steps, expected):
    assert _results(expected) == run_scenario(parse({"steps": steps}))


@needs_erl
@pytest.mark.parametrize("steps, expected", _params())
def test_rule_on_the_beam(steps, expected):
    assert _results(expected) == beam.run_scenario({"steps": steps})
