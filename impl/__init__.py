"""regspec.impl: the threaded runtime, a thread per process, that must print what the model prints.

Implements: SCN-2, SCN-6, SCN-7 (the scenario-facing entry point)

>>> from regspec.scenario import parse
>>> s = parse({"steps": [
...     {"op": "start", "kind": "chat_room", "name": {"local": "room1"}},
...     {"op": "cast", "to": {"local": "room1"}, "msg": ["add_message", {"str": "hi"}]},
...     {"op": "kill", "target": {"local": "room1"}, "nowait": True},
...     {"op": "whereis", "name": {"local": "room1"}}]})
>>> [r["result"] for r in run_scenario(s)]
[{'ok': {'pid': 'P1'}}, 'ok', True, {'pid': 'P1'}]
"""

from __future__ import annotations

import functools

from regspec import runner
from regspec.common.steps import UNSUPPORTED_OPS, Unsupported, local_name, local_target
from regspec.scenario import Scenario, parse
from regspec.terms import Atom, LocalName, Outcome

# The session glue sits on top of both layers: the process layer (runtime, driver) and the
# OTP library (driver_names, and through it kinds and behaviours, which fill the kind and body tables).
from . import driver_names, invariants
from .driver import Driver
from .registry_via import prestart
from .runtime import DRIVER, LeakedThreads, Runtime, Statistics

__all__ = ["Runtime", "Driver", "ImplSession", "run_scenario", "LeakedThreads", "Statistics", "DRIVER"]


def to_command(op: str, a: dict):
    """The driver action for one decoded scenario step, as `fn(driver)` (raises Unsupported).

    The same translation as `regspec.model.to_command`; both refuse the same
    steps the same way (SCN-7, `regspec.common.steps`).
    """
    if op in UNSUPPORTED_OPS:
        raise Unsupported
    action = driver_names.to_command(op, a)
    if action is not None:
        return action
    call = functools.partial
    if op == "spawn":
        return call(Driver.spawn, trap_exit=a.get("trap_exit", False), link=a.get("link", False),
                    mode=a.get("mode", "eager"))
    if op == "register":
        return call(Driver.register, name=local_name(a["name"]), target=local_target(a["target"]))
    if op == "unregister":
        return call(Driver.unregister, name=local_name(a["name"]))
    if op == "whereis":
        return call(Driver.whereis, name=local_name(a["name"]))
    if op == "registered":
        return Driver.registered
    if op == "send":
        return call(Driver.send, to=local_target(a["to"]), msg=a["msg"])
    if op == "call":
        return driver_names.call(to=local_target(a["to"]), msg=a["msg"], timeout=a.get("timeout", 5000),
                                 exit_during=a.get("exit_during"))
    if op == "cast":
        return call(Driver.cast, to=local_target(a["to"]), msg=a["msg"])
    if op == "kill":
        return call(Driver.kill, target=local_target(a["target"]), reason=a.get("reason", Atom("kill")))
    if op == "stop":
        return driver_names.stop(target=local_target(a["target"]), reason=a.get("reason", Atom("normal")))
    if op == "alive":
        return driver_names.alive(target=local_target(a["target"]))
    if op == "monitor":
        target = local_target(a["target"])
        target = target.name if isinstance(target, LocalName) else target
        return driver_names.ask(target=a["watcher"], request=("monitor", target))
    if op == "demonitor":
        return driver_names.ask(target=a["watcher"], request=("demonitor", a["ref"], a.get("flush", False)))
    if op in ("link", "unlink"):
        return driver_names.ask(target=local_target(a["a"]), request=(op, local_target(a["b"])))
    if op == "trap_exit":
        return driver_names.ask(target=a["target"], request=("trap_exit", a["value"]))
    if op == "messages":
        return driver_names.ask(target=a["target"], request=("messages",))
    raise Unsupported  # pragma: no cover - every op of the contract is listed above


class ImplSession:
    """A scenario session on a fresh threaded runtime; use it from one thread.

    After each step that is not `nowait` the session waits for quiescence
    (SCN-2); a `nowait` step returns as soon as the driver's own action is
    done, and the next step sees whatever state that left (the gate stayed
    closed, so: exactly that state).
    """

    def __init__(self, node: str = "a", **runtime_options):
        self.node = node
        self.runtime = Runtime(node, **runtime_options)
        self.driver = Driver(self.runtime)
        prestart(self.runtime)

    def perform(self, op: str, args: dict, nowait: bool) -> object:
        try:
            action = to_command(op, args)
        except Unsupported:
            return Outcome("unsupported", Atom(op))
        with self.runtime.atomic:
            self.driver.clear_mailbox()
        crashes = len(self.runtime.crashes)
        result = action(self.driver)
        if not nowait:
            self.runtime.wait_quiescent()
        if len(self.runtime.crashes) > crashes:
            # A Python exception in a process's code is a bug of regspec's, not an Erlang exit.
            pid, error = self.runtime.crashes[crashes]
            raise RuntimeError(f"process {pid!r} crashed in regspec's code: {error}")
        return result

    def has_pid(self, pid) -> bool:
        """Whether a process with this pid was ever created (a `{"pid": "Pn"}` must name one)."""
        return self.runtime.process(pid) is not None

    def pid_label(self, pid) -> object:
        """The printed name of a process from before step 0 (SCN-3)."""
        return self.runtime.labels.get(pid)

    def child_bindings(self) -> dict:
        """Child spec `as` labels and the first pid each child had."""
        with self.runtime.atomic:
            return dict(self.runtime.bindings)

    def invariant_violations(self) -> tuple[str, ...]:
        """The model's invariants on the runtime's state (REG-LOCAL-2, REG-LOCAL-7, PROC-1),
        and one thread per live process."""
        return invariants.check(self.runtime) + invariants.threads_match_processes(self.runtime)

    def close(self) -> None:
        self.runtime.shutdown()


def run_scenario(scenario: Scenario | dict, **runtime_options) -> list[dict]:
    """Canonical results of every step of `scenario` on a fresh threaded runtime.

    A plain JSON document is validated first (SCN-6): a malformed one raises
    `ScenarioError` and no step runs.
    """
    if not isinstance(scenario, Scenario):
        scenario = parse(scenario)
    return runner.run(scenario, ImplSession(scenario.node, **runtime_options))
