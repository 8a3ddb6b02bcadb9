"""Run a validated scenario on a step-by-step target (the model, the threaded runtime).

The runner owns what every such target shares: `as` bindings, decoding input
values into terms, and printing results canonically (SCN-3). A target is a
`Session`: it performs one decoded step and returns its result term.
"""

from __future__ import annotations

from typing import Protocol

from .canonical import UNBOUND, Encoder, decode, decode_ref
from .scenario import Scenario
from .terms import Atom, GlobalName, LocalName, Outcome, Pid, Ref, ViaName

__all__ = ["Session", "Stepper", "RunFailed", "InternalError", "run", "decode_name", "decode_step", "child_labels"]

_PROC_FIELDS = ("target", "to", "watcher", "a", "b", "sup", "registry", "pid")
# `exit_during` is not a contract field (scenario files cannot hold it): the
# state machine uses it to kill a server while a call to it is pending.
_TERM_FIELDS = ("msg", "reason", "exit_during")


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

    def perform(self, op: str, args: dict, nowait: bool) -> object:
        """Do one step; `args` holds decoded fields. Returns a term or an `Outcome`."""

    def close(self) -> None:
        """Release everything the session holds (threads, processes)."""


def decode_name(value: dict, bindings: dict, encoder: Encoder) -> object:
    ((form, inner),) = value.items()
    if form == "local":
        return LocalName(decode(inner, bindings, encoder) if isinstance(inner, dict) else Atom(inner))
    if form == "global":
        return GlobalName(decode(inner, bindings, encoder))
    return ViaName(inner[0], decode(inner[1], bindings, encoder))


def _decode_target(value: dict, bindings: dict, encoder: Encoder) -> object:
    key = next(iter(value))
    if key in ("local", "global", "via"):
        return decode_name(value, bindings, encoder)
    return decode(value, bindings, encoder)


_GLOBAL_OPS = ("global_register", "global_unregister", "global_send")


def decode_step(step: dict, bindings: dict, encoder: Encoder) -> dict:
    """The fields of one step with every value turned into terms."""
    args: dict = {}
    for key, value in step.items():
        if key in ("op", "as", "nowait"):
            continue
        if key == "name" and step["op"] in _GLOBAL_OPS:
            # The bare term, as :global takes it; {"global": term} means the same.
            if isinstance(value, dict) and set(value) == {"global"}:
                value = value["global"]
            args[key] = GlobalName(decode(value, bindings, encoder))
        elif key in _PROC_FIELDS:
            args[key] = _decode_target(value, bindings, encoder)
        elif key in _TERM_FIELDS:
            args[key] = decode(value, bindings, encoder)
        elif key == "name":
            args[key] = decode_name(value, bindings, encoder)
        elif key in ("children", "child") or (key == "spec" and isinstance(value, dict)):
            args[key] = decode_child_specs(value, bindings, encoder)
        elif key == "spec":
            args[key] = tuple(decode(v, bindings, encoder) for v in value)
        elif key == "id":
            args[key] = decode(value, bindings, encoder)
        elif key == "ref":
            args[key] = decode_ref(value["ref"], bindings, encoder)
        else:
            args[key] = value
    return args


def decode_child_specs(value: object, bindings: dict, encoder: Encoder) -> object:
    """A child spec (or a list of them) with its names and id decoded; other fields stay JSON."""
    if isinstance(value, list):
        return tuple(decode_child_specs(v, bindings, encoder) for v in value)
    out = {}
    for key, inner in value.items():
        if key == "name":
            out[key] = decode_name(inner, bindings, encoder)
        elif key == "id":
            out[key] = decode(inner, bindings, encoder)
        elif key in ("children", "child"):
            out[key] = decode_child_specs(inner, bindings, encoder)
        else:
            out[key] = inner
    return out


def _missing_number(value: object, bindings: dict, encoder: Encoder, session) -> str | None:
    """Why a `{"pid": "Pn"}` or `{"ref": "Rn"}` in `value` names nothing yet, or None.

    Numbers are handed out as processes are created and refs printed; one not
    handed out yet cannot be read on any target (the beam driver has no such pid).
    """
    if isinstance(value, list):
        return next(filter(None, (_missing_number(v, bindings, encoder, session) for v in value)), None)
    if not isinstance(value, dict):
        return None
    if set(value) == {"pid"} and isinstance(value["pid"], str):
        if not session.has_pid(Pid(int(value["pid"][1:]))):
            return f"no process is numbered {value['pid']}"
        return None
    if set(value) == {"ref"} and isinstance(value["ref"], str):
        label = value["ref"]
        if label not in bindings and encoder.ref_by_number(int(label[1:])) is None:
            return f"no reference is bound to or numbered {label}"
        return None
    return next(filter(None, (_missing_number(v, bindings, encoder, session) for k, v in value.items()
                              if k not in ("op", "as"))), None)


def child_labels(spec: object) -> list[str]:
    """The `as` labels of every child in a start step's (or child spec's) tree."""
    if not isinstance(spec, dict):
        return []
    nested = list(spec.get("children", ())) + [spec.get("child"), spec.get("spec")]
    return [label for child in nested if isinstance(child, dict)
            for label in ([child["as"]] if "as" in child else []) + child_labels(child)]


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

    >>> from regspec.model import ModelSession
    >>> s = Stepper(ModelSession())
    >>> s.step({"op": "spawn", "kind": "collector", "as": "c"}), s.step({"op": "alive", "target": {"proc": "c"}})
    ({'pid': 'P1'}, True)
    """

    def __init__(self, session: Session):
        self.session = session
        self.bindings: dict = {}
        self.encoder = Encoder(node=session.node, pid_label=getattr(session, "pid_label", None))
        self.index = 0

    def step(self, step: dict) -> object:
        """Perform one well-formed step; returns its result as printed (JSON).

        Raises:
            RunFailed: the step names a process or ref number not handed out yet,
                or the target failed inside (`InternalError`).
        """
        i, op, session, bindings = self.index, step["op"], self.session, self.bindings
        self.index += 1
        missing = _missing_number(step, bindings, self.encoder, session)
        if missing:
            raise RunFailed(i, op, missing)
        try:
            args = decode_step(step, bindings, self.encoder)
            result = session.perform(op, args, bool(step.get("nowait", False)))
            printed = self.encoder.encode(result)
        except Exception as e:  # a bug of regspec's, never an Erlang result
            raise InternalError(i, op, e) from e
        bound = _binding(op, result)
        if "as" in step:
            bindings[step["as"]] = bound
        if op in ("start", "start_child") and bound is UNBOUND:
            # SCN-9: a supervisor that failed to start binds none of its children, even
            # one that ran for a moment before the supervisor gave up.
            for label in child_labels(step):
                bindings[label] = UNBOUND
        # A child spec's "as" binds the child's first pid, once it exists.
        for label, pid in getattr(session, "child_bindings", dict)().items():
            bindings.setdefault(label, pid)
        return printed


def run(scenario: Scenario, session: Session) -> list[dict]:
    """Every step of `scenario` on `session`: `[{"step": i, "result": json}, ...]`.

    The session is closed at the end, also when a step raises.
    """
    try:
        stepper = Stepper(session)
        return [{"step": i, "result": stepper.step(step)} for i, step in enumerate(scenario.steps)]
    finally:
        session.close()
