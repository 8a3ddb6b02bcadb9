"""Run a validated scenario on a step-by-step target (the model, the threaded runtime).

The runner owns what every such target shares: `as` bindings, filling them
into each parsed step (`regspec.common.steps.bind`), and printing results
canonically (SCN-3). A target is a `Session` (`regspec.sessions`): it
performs one step record and returns its result term.
"""

from __future__ import annotations

from typing import Protocol

from .canonical import UNBOUND, Encoder
from .common.childspec import ChildSpec
from .common.steps import PLAIN, ProcLabel, RefLabel, Step, bind, values
from .scenario import Scenario, to_step
from .terms import Atom, ErlList, GlobalName, LocalName, Outcome, Pid, Ref, ViaName

__all__ = ["Session", "Stepper", "RunFailed", "InternalError", "run"]


class RunFailed(RuntimeError):
    """The run broke off at step `step`: it names a process or reference that does not exist."""

    def __init__(self, step: int, op: str, reason: str):
        self.step = step
        self.op = op
        super().__init__(f"step {step} ({op}): {reason}")


class InternalError(RunFailed):
    """The target itself failed (a bug of regspec) while it ran step `step`."""

    def __init__(self, step: int, op: str, error: BaseException):
        super().__init__(step, op, f"internal error: {type(error).__name__}: {error}")


class Session(Protocol):
    node: str

    def perform(self, step: Step) -> object:
        """Do one step, its labels bound (`regspec.common.steps.bind`). Returns a term or an `Outcome`."""

    def has_pid(self, pid: Pid) -> bool:
        """Whether a process with this pid was ever created."""

    def child_bindings(self) -> dict:
        """Child spec `as` labels and the first pid each child had."""

    def close(self) -> None:
        """Release everything the session holds (threads, processes)."""


def _missing_number(step: Step, bindings: dict, encoder: Encoder, session) -> str | None:
    """Why a `{"pid": "Pn"}` or `{"ref": "Rn"}` in `step` names nothing yet, or None.

    Numbers are handed out as processes are created and refs printed; one not
    handed out yet cannot be read on any target (the beam driver has no such pid).
    """
    todo = [v for _, v in values(step)]
    i = 0
    while i < len(todo):   # first in, first out: the first missing one named in the step is the reason
        t = todo[i]
        i += 1
        if t.__class__ in _NOTHING_TO_NAME:
            continue
        if isinstance(t, Pid) and not session.has_pid(t):
            return f"no process is numbered P{t.n}"
        if isinstance(t, RefLabel) and t.label not in bindings and not _printed(t.label, encoder):
            return f"no reference is bound to or numbered {t.label}"
        if isinstance(t, tuple):
            todo.extend(t)
        elif isinstance(t, ErlList):
            todo.extend(t.items + (t.tail,))
        elif isinstance(t, (LocalName, GlobalName, ViaName)):
            todo.append(t.name)
        elif isinstance(t, ChildSpec):
            todo.extend((t.id, t.name, *t.options.values()))
    return None


_NOTHING_TO_NAME = (PLAIN - {Pid}) | {ProcLabel}   # no pid or ref label inside (a Ref is a value, not a label)


def _printed(label: str, encoder: Encoder) -> bool:
    return label[:1] == "R" and label[1:].isdigit() and encoder.ref_by_number(int(label[1:])) is not None


def child_labels(spec: object) -> list[str]:
    """The `as` labels of every child in a child spec's tree."""
    if not isinstance(spec, ChildSpec):
        return []
    nested = list(spec.opt("children", ())) + [spec.opt("child")]
    return [label for child in nested if isinstance(child, ChildSpec)
            for label in ([child.label] if child.label is not None else []) + child_labels(child)]


def _binding(op: str, result: object) -> object:
    if op == "spawn" and isinstance(result, Pid):
        return result
    if op in ("start", "start_child"):
        if isinstance(result, Outcome) and result.tag == "ok" and isinstance(result.value, Pid):
            return result.value
        return UNBOUND
    if op == "monitor":
        return result if isinstance(result, Ref) else UNBOUND
    return UNBOUND  # a step that creates nothing binds its `as` to nothing, whatever it answers


class Stepper:
    """Steps of one run, performed one at a time on `session`: the `as` bindings and the ref
    numbering they share. `run` uses it for a whole scenario; the state machines for each step.

    >>> from regspec.sessions import ModelSession
    >>> s = Stepper(ModelSession())
    >>> s.step({"op": "spawn", "kind": "collector", "as": "c"}), s.step({"op": "alive", "target": {"proc": "c"}})
    ({'pid': 'P1'}, True)
    """

    def __init__(self, session: Session):
        self.session = session
        self.bindings: dict = {}
        self.encoder = Encoder(node=session.node, pid_label=getattr(session, "pid_label", None))
        self.index = 0

    def step(self, step: Step | dict) -> object:
        """Perform one well-formed step (a record, or its JSON); returns its result as printed (JSON).

        Raises:
            RunFailed: the step names a process or ref number not handed out yet,
                or the target failed inside (`InternalError`).
        """
        if isinstance(step, dict):
            step = to_step(step)
        i, op, session, bindings = self.index, step.op, self.session, self.bindings
        self.index += 1
        missing = _missing_number(step, bindings, self.encoder, session)
        if missing:
            raise RunFailed(i, op, missing)
        try:
            result = session.perform(bind(step, self._proc, self._ref))
            printed = self.encoder.encode(result)
        except Exception as e:  # a bug of regspec's, never an Erlang result
            raise InternalError(i, op, e) from e
        bound = _binding(op, result)
        if step.label is not None:
            bindings[step.label] = bound
        if op in ("start", "start_child") and bound is UNBOUND:
            # SCN-9: a supervisor that failed to start binds none of its children, even
            # one that ran for a moment before the supervisor gave up.
            for label in child_labels(step.spec):
                bindings[label] = UNBOUND
        # A child spec's "as" binds the child's first pid, once it exists.
        for label, pid in session.child_bindings().items():
            bindings.setdefault(label, pid)
        return printed

    def _proc(self, label: str) -> object:
        """`{"proc": label}`: the bound pid, or `undefined` when the step that should have created it failed."""
        bound = self.bindings.get(label, UNBOUND)
        return Atom("undefined") if bound is UNBOUND or bound is None else bound

    def _ref(self, label: str) -> object:
        """`{"ref": label}`: a label bound by `monitor ... as`, or a printed `R<n>`."""
        bound = self.bindings.get(label)
        if isinstance(bound, Ref):
            return bound
        if bound is UNBOUND:
            return Atom("undefined")   # the label of a monitor that failed: demonitor(undefined) is badarg
        if _printed(label, self.encoder):
            return self.encoder.ref_by_number(int(label[1:]))
        return Ref(-1)   # a ref nobody holds: demonitor of it is a no-op, as in OTP


def run(scenario: Scenario, session: Session) -> list[dict]:
    """Every step of `scenario` on `session`: `[{"step": i, "result": json}, ...]`.

    The session is closed at the end, also when a step raises. A run whose
    steps all finished is not lost if closing then fails (the threaded
    runtime's `LeakedThreads`): the error is raised with the results as its
    `results` attribute.
    """
    try:
        stepper = Stepper(session)
        results = [{"step": i, "result": stepper.step(step)} for i, step in enumerate(scenario.steps)]
    except BaseException:
        session.close()
        raise
    try:
        session.close()
    except Exception as exc:
        exc.results = results
        raise
    return results
