"""Sessions: a scenario's steps performed one at a time on the model or on the threaded runtime.

Implements: SCN-2, SCN-7

A session holds one world (or one runtime) and performs step records whose
labels the runner has bound (`regspec.runner.Stepper`); after a step that
is not `nowait` it lets the system settle (SCN-2). A step this release does
not cover answers `{"unsupported": op}` on both (SCN-7).

>>> from regspec.scenario import parse
>>> s = parse({"steps": [
...     {"op": "start", "kind": "chat_room", "name": {"local": "room1"}},
...     {"op": "kill", "target": {"local": "room1"}, "nowait": True},
...     {"op": "whereis", "name": {"local": "room1"}}]})
>>> [r["result"] for r in run_model(s)]
[{'ok': {'pid': 'P1'}}, True, {'pid': 'P1'}]
>>> [r["result"] for r in run_impl(s)]
[{'ok': {'pid': 'P1'}}, True, {'pid': 'P1'}]
"""

from __future__ import annotations

from regspec import impl, model
from regspec.common.records import DRIVER
from regspec.common.steps import Step, Unsupported
from regspec.model.scheduler import CanonicalChooser, Chooser, Stuck, run_until_quiescent, run_until_result
from regspec.terms import Atom, Outcome, Pid

from . import runner
from .scenario import Scenario, parse

__all__ = ["ModelSession", "ImplSession", "run_model", "run_impl"]


class ModelSession:
    """The model as a session: a world plus a chooser (canonical by default).

    `world` is the world after the last step; any step may be replayed from
    an earlier world, since worlds are values.
    """

    def __init__(self, node: str = "a", chooser: Chooser | None = None):
        self.node = node
        self.world = model.new_world(node)
        self.chooser = chooser or CanonicalChooser()

    def perform(self, step: Step) -> object:
        try:
            cmd = model.to_command(step)
        except Unsupported:
            return Outcome("unsupported", Atom(step.op))
        world, effects = model.step(self.world, cmd)
        if effects:
            result = effects[0].value
        else:
            try:
                world, result = run_until_result(world, self.chooser)
            except Stuck:
                # The driver gives up a step that can never end; the session goes on.
                world, result = world.update(DRIVER, code=None), Outcome("exit", Atom("deadlock"))
        if not step.nowait:
            world, _ = run_until_quiescent(world, self.chooser)
        self.world = world
        return result

    def pid_label(self, pid: Pid) -> object:
        return self.world.labels.get(pid)

    def has_pid(self, pid: Pid) -> bool:
        """Whether a process with this pid was ever created (a `{"pid": "Pn"}` must name one)."""
        return pid in self.world.processes

    def child_bindings(self) -> dict:
        bindings = self.world.bindings
        return dict(bindings.items()) if bindings else {}

    def close(self) -> None:
        pass


class ImplSession:
    """A fresh threaded runtime as a session; use it from one thread.

    After each step that is not `nowait` the session waits for quiescence
    (SCN-2); a `nowait` step returns as soon as the driver's own action is
    done, and the next step sees whatever state that left (the gate stayed
    closed, so: exactly that state).
    """

    def __init__(self, node: str = "a", **runtime_options):
        self.node = node
        self.runtime = impl.Runtime(node, **runtime_options)
        self.driver = impl.Driver(self.runtime)
        impl.prestart(self.runtime)

    def perform(self, step: Step) -> object:
        try:
            action = impl.to_command(step)
        except Unsupported:
            return Outcome("unsupported", Atom(step.op))
        with self.runtime.atomic:
            self.driver.clear_mailbox()
        crashes = len(self.runtime.crashes)
        result = action(self.driver)
        if not step.nowait:
            self.runtime.wait_quiescent()
        if len(self.runtime.crashes) > crashes:
            # A Python exception in a process's code is a bug of regspec's, not an Erlang exit.
            pid, error = self.runtime.crashes[crashes]
            raise RuntimeError(f"process {pid!r} crashed in regspec's code: {error}")
        return result

    def has_pid(self, pid: Pid) -> bool:
        """Whether a process with this pid was ever created (a `{"pid": "Pn"}` must name one)."""
        return self.runtime.process(pid) is not None

    def pid_label(self, pid: Pid) -> object:
        """The printed name of a process from before step 0 (SCN-3)."""
        return self.runtime.labels.get(pid)

    def child_bindings(self) -> dict:
        """Child spec `as` labels and the first pid each child had."""
        if not self.runtime.bindings:   # most runs start no supervisor: no lock to take (the table only grows)
            return {}
        with self.runtime.atomic:
            return dict(self.runtime.bindings)

    def invariant_violations(self) -> tuple[str, ...]:
        """The model's invariants on the runtime's state (REG-LOCAL-2, REG-LOCAL-7, PROC-1),
        and one thread per live process."""
        return impl.invariants.check(self.runtime) + impl.invariants.threads_match_processes(self.runtime)

    def close(self) -> None:
        self.runtime.shutdown()


def _scenario(scenario: Scenario | dict) -> Scenario:
    # A plain JSON document is validated first (SCN-6): a malformed one raises ScenarioError, no step runs.
    return scenario if isinstance(scenario, Scenario) else parse(scenario)


def run_model(scenario: Scenario | dict, chooser: Chooser | None = None) -> list[dict]:
    """Canonical results of every step of `scenario` on the model."""
    scenario = _scenario(scenario)
    return runner.run(scenario, ModelSession(scenario.node, chooser))


def run_impl(scenario: Scenario | dict, **runtime_options) -> list[dict]:
    """Canonical results of every step of `scenario` on a fresh threaded runtime."""
    scenario = _scenario(scenario)
    return runner.run(scenario, ImplSession(scenario.node, **runtime_options))
