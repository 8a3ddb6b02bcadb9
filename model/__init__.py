"""regspec.model: the pure, deterministic reference model of BEAM processes and names.

Implements: SCN-2, SCN-6, SCN-7 (the scenario-facing entry point)

>>> from regspec.scenario import parse
>>> s = parse({"steps": [
...     {"op": "start", "kind": "chat_room", "name": {"local": "room1"}},
...     {"op": "cast", "to": {"local": "room1"}, "msg": ["add_message", {"str": "hi"}]},
...     {"op": "kill", "target": {"local": "room1"}},
...     {"op": "whereis", "name": {"local": "room1"}}]})
>>> [r["result"] for r in run_scenario(s)]
[{'ok': {'pid': 'P1'}}, 'ok', True, 'undefined']
"""

from __future__ import annotations

from regspec import runner
from regspec.common.records import DRIVER
from regspec.common.steps import UNSUPPORTED_OPS, Unsupported, local_name, local_target
from regspec.scenario import Scenario, parse
from regspec.terms import Atom, Outcome

from . import driver, driver_names, kinds, world as _world
from .driver import Result
from .scheduler import (CanonicalChooser, Chooser, FireReceiveTimeout, Run, FunctionChooser, SeededChooser, Stuck,
                        enabled, run_until_quiescent, run_until_result, step)
from .world import World

__all__ = [
    "World", "new_world", "step", "enabled", "run_until_quiescent", "run_until_result", "Run",
    "FireReceiveTimeout", "Result", "Chooser", "CanonicalChooser", "SeededChooser", "FunctionChooser",
    "ModelSession", "run_scenario", "DRIVER",
]


def to_command(op: str, a: dict) -> object:
    """The driver command for one decoded scenario step (raises Unsupported)."""
    if op in UNSUPPORTED_OPS:
        raise Unsupported
    cmd = driver_names.to_command(op, a)
    if cmd is not None:
        return cmd
    if op == "spawn":
        return driver.Spawn(trap_exit=a.get("trap_exit", False), link=a.get("link", False),
                            mode=a.get("mode", "eager"))
    if op == "register":
        return driver.Register(local_name(a["name"]), local_target(a["target"]))
    if op == "unregister":
        return driver.Unregister(local_name(a["name"]))
    if op == "whereis":
        return driver.Whereis(local_name(a["name"]))
    if op == "registered":
        return driver.Registered()
    if op == "send":
        return driver.Send(local_target(a["to"]), a["msg"])
    if op == "call":
        return driver_names.call(a["to"], a["msg"], a.get("timeout", 5000), a.get("exit_during"))
    if op == "cast":
        return driver.Cast(local_target(a["to"]), a["msg"])
    if op == "kill":
        return driver.Kill(local_target(a["target"]), a.get("reason", Atom("kill")))
    if op == "stop":
        return driver_names.stop(a["target"], a.get("reason", Atom("normal")))
    if op == "alive":
        return driver_names.alive(a["target"])
    if op == "monitor":
        return driver_names.monitor(a["watcher"], a["target"])
    if op == "demonitor":
        return driver_names.ask(a["watcher"], ("demonitor", a["ref"], a.get("flush", False)))
    if op in ("link", "unlink"):
        return _link_command(op, a["a"], a["b"])
    if op == "trap_exit":
        return driver_names.ask(a["target"], ("trap_exit", a["value"]))
    if op == "messages":
        return driver_names.ask(a["target"], ("messages",))
    raise Unsupported  # pragma: no cover - every op of the contract is listed above


def _link_command(op: str, a: object, b: object) -> object:
    return driver_names.link(op, a, b)


def new_world(node: str = "a") -> World:
    """The world before step 0 as a scenario starts from it: the erts layer's world (the driver
    alone, `world.new_world`) booted by the OTP library (`kinds.boot`: registries, global server)."""
    return kinds.boot(_world.new_world(node))


class ModelSession:
    """A scenario session on the model: the world plus a chooser (canonical by default)."""

    def __init__(self, node: str = "a", chooser: Chooser | None = None):
        self.node = node
        self.world = new_world(node)
        self.chooser = chooser or CanonicalChooser()

    def perform(self, op: str, args: dict, nowait: bool) -> object:
        try:
            cmd = to_command(op, args)
        except Unsupported:
            return Outcome("unsupported", Atom(op))
        world, effects = step(self.world, cmd)
        if effects:
            result = effects[0].value
        else:
            try:
                world, result = run_until_result(world, self.chooser)
            except Stuck:
                # The driver gives up a step that can never end; the session goes on.
                world, result = world.update(DRIVER, code=None), Outcome("exit", Atom("deadlock"))
        if not nowait:
            world, _ = run_until_quiescent(world, self.chooser)
        self.world = world
        return result

    def pid_label(self, pid) -> object:
        return self.world.labels.get(pid)

    def has_pid(self, pid) -> bool:
        """Whether a process with this pid was ever created (a `{"pid": "Pn"}` must name one)."""
        return pid in self.world.processes

    def child_bindings(self) -> dict:
        return dict(self.world.bindings.items())

    def close(self) -> None:
        pass


def run_scenario(scenario: Scenario | dict, chooser: Chooser | None = None) -> list[dict]:
    """Canonical results of every step of `scenario` on the model.

    A plain JSON document is validated first (SCN-6): a malformed one raises
    `ScenarioError` and no step runs.
    """
    if not isinstance(scenario, Scenario):
        scenario = parse(scenario)
    return runner.run(scenario, ModelSession(scenario.node, chooser))
