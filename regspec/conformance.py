"""The conformance kit: does a via backend keep the registry contract (SPEC.md, BACKEND-1 to BACKEND-6)?

`check(subject)` generates scenarios with Hypothesis, one strategy per rule,
each naming via names of the backend under test alongside collectors, chat
rooms, supervisors and kills. Rules BACKEND-2 to BACKEND-5 are checked by
difference: each scenario runs on the subject (the threaded runtime with the
subject's impl leg) and on the model with the *reference backend* of the
subject's class put in under the subject's name (so the same scenario JSON
runs on both); the first step where the two print different results is the
failure. BACKEND-6 is a property of the runtime: processes that register one
name at once get exactly one `yes`. BACKEND-1 is kept at the boundary where
the runtime calls the subject's leg (`Guard`): a missing function, an answer
of the wrong shape, an exception that is not an Erlang one, or a call that
outlives the deadline is a report naming the function, what it did and the
rule it breaks, never a traceback from inside the kit, and the run is closed
(every thread joined) before the next one starts.

The class says what may legitimately differ between backends (`Profile`):

- `window`, how long a dead holder may still be returned: `none` (Elixir's
  Registry: liveness is checked on lookup; reference `unique_registry`),
  `down` (until the registry handles the holder's DOWN: the map registry,
  `:global`; reference `map_registry`) or `lease` (names shared by
  runtimes through a store, the Redis backend's: inside one runtime a dead
  holder's name is freed when its runtime handles the DOWN, so the
  reference on one runtime is `map_registry`; a runtime that vanishes
  frees its names when their lease expires, which no scenario on one
  runtime can show, and a runtime that shuts down releases its names, which
  every example checks: each runs on a fresh runtime sharing the store, so a
  name left behind is held by another runtime's pid in the next one);
  the verdict states the window and whether it differs from `:global`'s
  (`down`), the one difference a class may make;
- `self_register`, whether only the calling process can take a name for
  itself (the scenarios are written so that either way gives the same
  results: a `register` step's target is always a live collector).

Each strategy is kept to its rule, so a backend broken in one way fails one
rule: only BACKEND-3's scenarios unregister, only BACKEND-4's send, only
BACKEND-5's kill a process that holds a name, only BACKEND-6 registers
concurrently.

>>> verdict = check("map_registry", examples=3, seed=1)
>>> verdict.conforms, [r.verdict for r in verdict.rules]
(True, ['pass', 'pass', 'pass', 'pass', 'pass', 'pass'])
"""

from __future__ import annotations

import ctypes
import json
import random
import threading
import time
from typing import Callable

import attrs
import hypothesis
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from regspec.common import backends
from regspec.common.backends import Backend, BackendError
from regspec.common.results import ErlangError
from regspec.runner import RunFailed, Stepper
from regspec.scenario import parse
from regspec.terms import Atom, Pid

__all__ = ["RULES", "WINDOWS", "Profile", "Violation", "Failure", "RuleResult", "Verdict", "Guard",
           "BackendViolation", "UsageError", "check", "assert_conforms", "reference_record", "default_profile",
           "strategy", "render", "to_json", "window_line", "rule_results"]

RULES = {
    "BACKEND-1": "the protocol: the four functions exist, answer within the deadline, raise only Erlang exceptions",
    "BACKEND-2": "a name has at most one holder: register_name answers yes or no, no for a taken name",
    "BACKEND-3": "whereis_name answers the holder, undefined after unregister_name; a freed name can be taken again",
    "BACKEND-4": "send to a held name delivers; to a free name it exits {badarg, {Name, Msg}} or raises badarg",
    "BACKEND-5": "a dead holder's names are gone once the system is quiescent (a restarted child registers again)",
    "BACKEND-6": "concurrent register_name calls for one name give exactly one yes",
}
WINDOWS = ("none", "down", "lease")
REFERENCES = {"none": "unique_registry", "down": "map_registry", "lease": "map_registry"}
# -- class lease (issue 15): the window stated in every verdict, against :global's ------------
GLOBAL_WINDOW = "down"   # :global (REG-GLOBAL-4): a dead holder's name goes when the name server handles the DOWN
WINDOW_TEXT = {
    "none": "never: liveness is checked on lookup",
    "down": "until the registry handles the holder's DOWN",
    "lease": "inside one runtime until it handles the holder's DOWN; a vanished runtime's names until their lease "
             "expires",
}


def window_line(window: str) -> str:
    """The verdict's line on the class: the dead-holder window, and how it differs from `:global`'s."""
    against = ("same as :global" if window == GLOBAL_WINDOW
               else f"differs from :global: {GLOBAL_WINDOW}")
    return f"dead-holder window: {window} ({against}); {WINDOW_TEXT[window]}"
# -- end class lease ----------------------------------------------------------------------------
DIFF_RULES = ("BACKEND-2", "BACKEND-3", "BACKEND-4", "BACKEND-5")

YES, NO, OK, UNDEFINED = Atom("yes"), Atom("no"), Atom("ok"), Atom("undefined")


class UsageError(ValueError):
    """The check cannot be run as asked (unknown backend, no impl leg, an unknown class); exit 2."""


@attrs.frozen
class Profile:
    """The class a backend is checked in: its dead-holder `window` and whether it only registers itself."""

    window: str = "down"
    self_register: bool = False

    def __str__(self) -> str:
        who = "registers only the caller" if self.self_register else "registers other processes"
        return f"window {self.window}, {who}"


def default_profile(record: Backend) -> Profile:
    """The class a record claims: its `dead_holder` trait, else `none` for a self-registering backend."""
    window = record.dead_holder or ("none" if record.self_register else "down")
    return Profile(window=window, self_register=record.self_register)


# -- the boundary: the subject's leg as the runtime calls it ------------------------------------

@attrs.frozen
class Violation:
    """A call of the subject's leg that broke the protocol: which function, what it did, which rule."""

    function: str
    did: str            # "returned True", "raised KeyError: 'x'", "did not answer within 0.5 s", "is missing"
    expected: str
    rule: str

    def __str__(self) -> str:
        return f"{self.function} {self.did} (expected {self.expected}): breaks {self.rule}"


class BackendViolation(Exception):
    """Raised out of a guarded call: the run stops; the kit reports the `Violation`, not this exception."""

    def __init__(self, violation: Violation):
        super().__init__(str(violation))
        self.violation = violation


class _BackendTimeout(BaseException):
    """Raised asynchronously in a thread whose guarded call outlived the deadline."""


_SHAPES = {
    "register_name": ("yes or no", "BACKEND-2", lambda r: r in (YES, NO)),
    "unregister_name": ("ok", "BACKEND-3", lambda r: r == OK),
    "whereis_name": ("a pid or undefined", "BACKEND-3", lambda r: isinstance(r, Pid) or r == UNDEFINED),
    # OTP's callers ignore what send answers (the pid for :global, the message for Elixir's Registry):
    # any Erlang term will do, a Python value will not.
    "send": ("a term (the pid or the message), or an exit {badarg, {Name, Msg}}", "BACKEND-4",
             lambda r: r is not None and not isinstance(r, bool)),
}


def _show(value: object) -> str:
    text = repr(value)
    if isinstance(value, bool) or value is None:
        text += " (a Python value, not an atom)"
    return text if len(text) < 200 else text[:200] + "..."


def _internal(exc: BaseException) -> bool:
    """An exception of the runtime's own (a kill, the driver's deadlock, an Erlang exception): let it pass."""
    return not isinstance(exc, Exception) or type(exc).__module__.startswith("regspec.")


def _set_async(ident: int, exc: type | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None if exc is None else ctypes.py_object(exc))


class Guard:
    """The subject's impl leg as the runtime calls it, checked (BACKEND-1 and each function's shape).

    Every other attribute (the server functions) is the leg's own. A call
    that breaks the protocol is recorded in `violations` and raises
    `BackendViolation` in the calling thread, which ends that process (or
    the driver's step) without touching the runtime's state; a call still
    running at the deadline gets `_BackendTimeout` raised in its thread by
    the watchdog (a thread blocked in C cannot be stopped: its call is
    reported when it returns). Use as a context manager: it owns the
    watchdog thread.
    """

    def __init__(self, leg: object, deadline: float):
        self._leg = leg
        self.deadline = deadline
        self.violations: list[Violation] = []
        self._lock = threading.Lock()
        self._calls: dict[int, list] = {}      # thread ident -> [started, function, timed out]
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def __enter__(self) -> "Guard":
        self._watchdog = threading.Thread(target=self._watch, name="regspec-conformance-watchdog", daemon=True)
        self._watchdog.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._watchdog.join()

    def __getattr__(self, attr: str) -> object:
        return getattr(self._leg, attr)

    def missing(self) -> list[str]:
        return [f for f in backends.VIA_FUNCTIONS if not callable(getattr(self._leg, f, None))]

    def _watch(self) -> None:
        while not self._stop.wait(min(0.05, self.deadline / 4)):
            now = time.monotonic()
            with self._lock:
                for ident, call in self._calls.items():
                    if now - call[0] > self.deadline and (not call[2] or now - call[2] > 0.1):
                        call[2] = now
                        _set_async(ident, _BackendTimeout)

    def _violate(self, function: str, did: str, expected: str, rule: str) -> BackendViolation:
        violation = Violation(function, did, expected, rule)
        self.violations.append(violation)
        return BackendViolation(violation)

    def _call(self, function: str, *args) -> object:
        ident = threading.get_ident()
        call = [time.monotonic(), function, 0.0]
        with self._lock:
            self._calls[ident] = call
        outcome = None
        try:
            try:
                result = getattr(self._leg, function)(*args)
            finally:
                with self._lock:
                    del self._calls[ident]
                    if call[2]:
                        _set_async(ident, None)   # one raised too late stays unraised
        except _BackendTimeout:
            outcome = f"did not answer within {self.deadline:g} s"
        except BaseException as e:
            if _internal(e):
                raise
            outcome = f"raised {type(e).__name__}: {e}"
        if outcome is not None:
            raise self._violate(function, outcome, "an answer, or an Erlang exit or error", "BACKEND-1") from None
        elapsed = time.monotonic() - call[0]
        if elapsed > self.deadline:
            raise self._violate(function, f"answered after {elapsed:.2f} s", f"an answer within {self.deadline:g} s",
                                "BACKEND-1")
        expected, rule, fits = _SHAPES[function]
        if not fits(result):
            raise self._violate(function, f"returned {_show(result)}", expected, rule)
        return result

    def register_name(self, ctx, name, pid):
        return self._call("register_name", ctx, name, pid)

    def unregister_name(self, ctx, name):
        return self._call("unregister_name", ctx, name)

    def whereis_name(self, ctx, name):
        return self._call("whereis_name", ctx, name)

    def send(self, ctx, name, msg):
        return self._call("send", ctx, name, msg)


# -- the reference of each class --------------------------------------------------------------

def reference_record(name: str, window: str) -> Backend:
    """The record the model runs a scenario under: the backend `name` with the reference model leg of `window`."""
    ref = REFERENCES.get(window)
    if ref is None:
        raise UsageError(f"class {window!r}: expected one of {', '.join(WINDOWS)}")
    if name == ref:
        return backends.BUILTIN[[b.name for b in backends.BUILTIN].index(ref)]
    from regspec.model import registry_via
    if window in ("down", "lease"):   # lease, on one runtime: freed when the runtime handles the DOWN
        return Backend(name, model=registry_via.MapBackend(name, monitor=True), server=True)
    # Elixir's Registry, through the table of the built-in unique_registry (booted for every run).
    return Backend(name, model=registry_via.UNIQUE_REGISTRY, self_register=True)


# -- scenarios, one strategy per rule ---------------------------------------------------------

TERMS = ("a", "b", ["k", 1])
# An action is (op, i, j, flag): compiled against the labels made so far, so any sub-list still compiles.
_ACTION = st.tuples(st.integers(0, 6), st.integers(0, 3), st.integers(0, 3), st.booleans())


class _Compiler:
    """Turns actions into steps, keeping labels and (for the rules that need it) who holds which name."""

    def __init__(self, backend: str):
        self.backend = backend
        self.steps: list[dict] = []
        self.collectors: list[str] = []     # live collectors
        self.dead: set[str] = set()
        self.others: list[str] = []         # rooms, supervisors, their first children
        self.holders: dict[int, str] = {}   # term index -> collector label (rules without kills of holders)
        self.former: list[tuple] = []       # (collector, term index): a name it held and gave up
        self.counter = 0

    def via(self, i: int) -> dict:
        return {"via": [self.backend, TERMS[i % len(TERMS)]]}

    def label(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def spawn(self) -> str:
        c = self.label("c")
        self.steps.append({"op": "spawn", "kind": "collector", "as": c})
        self.collectors.append(c)
        return c

    def collector(self, j: int) -> str:
        return self.collectors[j % len(self.collectors)] if self.collectors else self.spawn()

    def whereis(self, i: int) -> None:
        self.steps.append({"op": "whereis", "name": self.via(i)})

    def register(self, i: int, j: int, avoid: str | None = None, only_free: bool = True) -> None:
        """A collector takes name i; outside BACKEND-2 only a name nobody holds (a taken one is looked up)."""
        t = i % len(TERMS)
        if only_free and t in self.holders:
            self.whereis(i)
            return
        free = [x for x in self.collectors if x != avoid]
        c = free[j % len(free)] if free else self.spawn()
        self.steps.append({"op": "register", "name": self.via(i), "target": {"proc": c}})
        self.holders.setdefault(t, c)

    def start_room(self, i: int, only_free: bool = True) -> None:
        if only_free and i % len(TERMS) in self.holders:
            self.whereis(i)
            return
        r = self.label("r")
        self.steps.append({"op": "start", "kind": "chat_room", "name": self.via(i), "as": r})
        self.others.append(r)
        self.holders.setdefault(i % len(TERMS), r)


def _one_holder(c: _Compiler, op: int, i: int, j: int, flag: bool) -> None:
    """BACKEND-2: registrations and starts under taken names; no kill, no unregister, no send."""
    if op == 0:
        c.whereis(i)
    elif op in (1, 2, 3):
        c.register(i, j, only_free=False)
    elif op == 4:
        c.start_room(i, only_free=False)
    else:
        c.spawn()


def _unregister(c: _Compiler, op: int, i: int, j: int, flag: bool) -> None:
    """BACKEND-3: register, unregister (by the holder), whereis, and kills of collectors that hold no name."""
    t = i % len(TERMS)
    if op == 0:
        c.whereis(i)
    elif op in (1, 2):
        c.register(i, j)
    elif op in (3, 4):
        # unregister by the holder (of a held name, if any); with the flag another collector takes it at once
        if t not in c.holders and c.holders:
            t = sorted(c.holders)[0]
            i = t
        holder = c.holders.pop(t, None)
        target = holder or (c.collectors[j % len(c.collectors)] if c.collectors else None)
        if target is None:
            c.spawn()
            return
        c.steps.append({"op": "unregister", "name": c.via(i), "target": {"proc": target}})
        if holder is not None:
            c.former.insert(0, (holder, t))
            if flag:
                c.register(i, j, avoid=holder)
    elif op == 5:
        # kill a collector that holds no name (one that gave a name up first), then look its old name up
        idle = [x for x, _ in c.former if x in c.collectors and x not in c.holders.values()]
        idle += [x for x in c.collectors if x not in idle and x not in c.holders.values()]
        if not idle:
            c.spawn()
            return
        victim = idle[0]
        c.collectors.remove(victim)
        c.steps.append({"op": "kill", "target": {"proc": victim}})
        for x, old in c.former:
            if x == victim:
                c.whereis(old)
                break
    else:
        c.spawn()


def _send(c: _Compiler, op: int, i: int, j: int, flag: bool) -> None:
    """BACKEND-4: sends to held and free names, and what the collectors got; no kill, no unregister."""
    if op in (0, 1, 2):
        c.steps.append({"op": "send", "to": c.via(i), "msg": ["m", j]})
    elif op in (3, 4):
        c.register(i, j)
    elif op == 5 and c.collectors:
        c.steps.append({"op": "messages", "target": {"proc": c.collector(j)}})
    else:
        c.spawn()


def _dead_holder(c: _Compiler, op: int, i: int, j: int, flag: bool) -> None:
    """BACKEND-5: holders (collectors, rooms, supervised rooms) killed, at once or not; lookups and new takers.

    A name is taken again only once its holder is dead and the system has settled (`c.holders`
    then says who holds what: a supervised room's name belongs to its supervisor's life), so a
    backend wrong about taken names (BACKEND-2's subject) does not fail here.
    """
    t = i % len(TERMS)
    window = bool(c.steps) and c.steps[-1].get("nowait", False)
    if op == 0 or (window and op in (1, 2, 3)):
        c.whereis(i)
    elif op == 1:
        c.register(i, j)
    elif op == 2:
        c.start_room(i)
    elif op == 3:
        if t in c.holders:
            c.whereis(i)
            return
        s = c.label("s")
        c.steps.append({"op": "start", "kind": "supervisor", "as": s,
                        "children": [{"id": "room", "kind": "chat_room", "name": c.via(i), "as": s + "c"}]})
        c.others.extend([s, s + "c"])
        c.holders[t] = s
    elif op in (4, 5):
        victims = c.collectors + c.others
        if not victims:
            c.spawn()
            return
        victim = victims[j % len(victims)]
        if victim in c.collectors:
            c.collectors.remove(victim)
        step = {"op": "kill", "target": {"proc": victim}}
        if flag:
            step["nowait"] = True
        c.steps.append(step)
        looked = False
        for held, holder in list(c.holders.items()):
            if holder == victim:
                del c.holders[held]
                if not looked:   # the victim's first name, looked up (at once, with nowait: in the window)
                    c.whereis(held)
                    looked = True
    elif op == 6 and flag and t in c.holders:
        # kill through the name: a supervised room is restarted, anything else is gone
        c.steps.append({"op": "kill", "target": c.via(i)})
        holder = c.holders[t]
        if holder in c.collectors:
            c.collectors.remove(holder)
        if not holder.startswith("s"):
            del c.holders[t]
    else:
        c.spawn()


_COMPILERS: dict[str, Callable] = {"BACKEND-2": _one_holder, "BACKEND-3": _unregister, "BACKEND-4": _send,
                                   "BACKEND-5": _dead_holder}


def compile_actions(rule: str, backend: str, actions: list) -> dict:
    """The scenario (JSON) of `rule` for the backend named `backend`, from drawn actions."""
    c = _Compiler(backend)
    for action in actions:
        _COMPILERS[rule](c, *action)
    return {"name": f"conformance-{rule.lower()}", "doc": f"{rule}: {RULES[rule]}", "steps": c.steps}


def strategy(rule: str, backend: str, max_actions: int = 10) -> st.SearchStrategy:
    """Scenarios (JSON documents) focused on `rule` (BACKEND-2 to BACKEND-5) naming `backend`'s via names."""
    return st.lists(_ACTION, min_size=1, max_size=max_actions).map(lambda a: compile_actions(rule, backend, a))


_CONTENDERS = st.tuples(st.integers(2, 3), st.sampled_from(TERMS))


# -- verdicts -------------------------------------------------------------------------------

@attrs.frozen
class Failure:
    """One rule broken: the rule, the rule whose examples found it, the shrunk scenario and where it departed."""

    rule: str
    found_by: str
    scenario: dict | None = None
    step: int | None = None
    op: str | None = None
    subject: object = None
    model: object = None
    violation: Violation | None = None
    detail: str = ""
    notes: tuple[str, ...] = ()   # Hypothesis's report of the shrunk example: its notes (`note()`), for the pytest plugin

    @property
    def size(self) -> int:
        return len(self.scenario["steps"]) if self.scenario else 0


@attrs.frozen
class RuleResult:
    rule: str
    verdict: str          # pass | fail | inconclusive (cut short by another rule's failure) | skipped
    examples: int
    title: str = ""


@attrs.frozen
class Verdict:
    subject: str
    profile: Profile
    seed: int | None
    examples: int
    rules: tuple[RuleResult, ...]
    failures: tuple[Failure, ...]

    @property
    def conforms(self) -> bool:
        return all(r.verdict != "fail" for r in self.rules)

    def failed(self) -> set[str]:
        return {r.rule for r in self.rules if r.verdict == "fail"}


class _Departure(AssertionError):
    def __init__(self, failure: Failure):
        super().__init__(failure.detail or f"{failure.rule} step {failure.step}")
        self.failure = failure


class _Stop(BaseException):
    """A failure not worth shrinking (a call that blocks costs the deadline on every try): ends the hunt as is."""

    def __init__(self, failure: Failure):
        super().__init__(failure.detail)
        self.failure = failure


def _raise(failure: Failure) -> None:
    if failure.violation is not None and failure.violation.did.startswith(("did not answer", "answered after")):
        raise _Stop(failure)
    raise _Departure(failure)


# -- running one example ----------------------------------------------------------------------

@attrs.define
class _Subject:
    record: Backend          # the subject's record with the guarded impl leg
    model_record: Backend    # the reference model leg under the subject's name
    guard: Guard
    runtime_options: dict


def _run_model(subject: _Subject, doc: dict) -> list:
    from regspec.sessions import run_model
    with backends.substituted(subject.model_record):
        return [r["result"] for r in run_model(parse(doc))]


def _violation_failure(rule: str, doc: dict | None, guard: Guard, step: int | None, op: str | None) -> Failure:
    v = guard.violations[-1]
    return Failure(rule=v.rule, found_by=rule, scenario=doc, step=step, op=op, violation=v, detail=str(v))


def _run_subject(rule: str, subject: _Subject, doc: dict, expected: list) -> None:
    """Run `doc` on the runtime step by step; raise `_Departure` at the first step unlike the model's."""
    from regspec.sessions import ImplSession
    guard = subject.guard
    before = len(guard.violations)
    with backends.substituted(subject.record):
        scenario = parse(doc)
        session = ImplSession(scenario.node, **subject.runtime_options)
        stepper = Stepper(session)
        failure = None
        try:
            for i, step in enumerate(scenario.steps):
                try:
                    got = stepper.step(step)
                except RunFailed as e:
                    if len(guard.violations) > before:
                        failure = _violation_failure(rule, doc, guard, i, step.op)
                    else:
                        failure = Failure(rule=rule, found_by=rule, scenario=doc, step=i, op=step.op,
                                          subject=f"the run failed: {e}", model=expected[i], detail=str(e))
                    break
                if len(guard.violations) > before:
                    failure = _violation_failure(rule, doc, guard, i, step.op)
                    break
                if got != expected[i]:
                    failure = Failure(rule=rule, found_by=rule, scenario=doc, step=i, op=step.op, subject=got,
                                      model=expected[i],
                                      detail=f"step {i} ({step.op}): subject {json.dumps(got)}, "
                                             f"model {json.dumps(expected[i])}")
                    break
        finally:
            try:
                session.close()
            except Exception as e:   # threads left running: a report, not a traceback
                if failure is None:
                    failure = Failure(rule="BACKEND-1", found_by=rule, scenario=doc,
                                      detail=f"the runtime could not shut down: {e}")
    if failure is not None:
        note(json.dumps(doc))
        _raise(failure)


def _contend(subject: _Subject, contenders: int, term: object) -> None:
    """BACKEND-6: `contenders` processes call register_name(Name, self()) at once; exactly one yes."""
    from regspec import impl
    from regspec.sessions import ImplSession
    from regspec.terms import ViaName
    from regspec.canonical import decode
    guard = subject.guard
    before = len(guard.violations)
    name = decode(term)
    answers: dict = {}
    failure = None
    with backends.substituted(subject.record):
        session = ImplSession("a", **subject.runtime_options)
        rt = session.runtime
        try:
            leg = impl.gen.via_backend(subject.record.name)

            def contender(ctx):
                try:
                    answers[ctx.pid] = leg.register_name(ctx, name, ctx.pid)
                except ErlangError as e:
                    answers[ctx.pid] = f"{e.cls} {e.reason!r}"
                ctx.receive(lambda m: False)   # keep the name: wait for ever

            with rt.atomic:
                pids = [rt.spawn("collector", contender) for _ in range(contenders)]
            rt.wait_quiescent()
            holder = session.driver.run_code(lambda ctx: leg.whereis_name(ctx, name))
            yes = [p for p in pids if answers.get(p) == YES]
            if len(guard.violations) > before:
                v = guard.violations[-1]
                failure = Failure(rule=v.rule, found_by="BACKEND-6", violation=v, detail=str(v))
            elif len(yes) != 1 or holder != yes[0]:
                shown = ", ".join(f"{p!r}: {answers.get(p, 'no answer')}" for p in pids)
                failure = Failure(rule="BACKEND-6", found_by="BACKEND-6",
                                  subject={"contenders": contenders, "name": term,
                                           "answers": [str(answers.get(p)) for p in pids], "whereis": repr(holder)},
                                  model="exactly one yes, and whereis_name answers that process",
                                  detail=f"{contenders} processes registered {ViaName(subject.record.name, name)!r} "
                                         f"at once: {shown}; whereis_name answered {holder!r}")
        finally:
            try:
                session.close()
            except Exception as e:
                if failure is None:
                    failure = Failure(rule="BACKEND-1", found_by="BACKEND-6",
                                      detail=f"the runtime could not shut down: {e}")
    if failure is not None:
        note(failure.detail)
        _raise(failure)


# -- the check ---------------------------------------------------------------------------------

def _resolve_subject(subject: str | Backend) -> Backend:
    if isinstance(subject, Backend):
        return subject
    if ":" in subject:   # a record of one's own: used for the check only, not registered
        try:
            record = backends.resolve(subject)
        except BackendError as e:
            raise UsageError(str(e)) from None
        if not isinstance(record, Backend):
            raise UsageError(f"{subject!r} is a {type(record).__name__}, not a backend record "
                             f"(regspec.common.backends.Backend)")
        return record
    try:
        return backends.get(subject)
    except BackendError as e:
        raise UsageError(str(e)) from None


def _settings(examples: int | None, seed: int | None) -> settings:
    base = settings() if examples is None else settings(max_examples=examples)
    return settings(base, deadline=None, database=None if seed is not None else base.database,
                    suppress_health_check=list(HealthCheck), print_blob=False,
                    phases=[p for p in base.phases if p != Phase.explain])


def _hunt(strat: st.SearchStrategy, body: Callable, s: settings, seed: int | None,
          key: str = "") -> tuple[int, Failure | None]:
    """Run `body` on examples of `strat` under `s` (a @given test run here); the number of examples
    it ran and the shrunk failure, if any. `key` keeps the hunt's entries in the example database
    apart from every other hunt's (one per subject, class, rule and caller's test)."""
    count = [0]

    def example(value):
        count[0] += 1
        body(value)

    # Hypothesis's own way of telling apart tests with one source (it does so for parametrized tests).
    example._hypothesis_internal_add_digest = key.encode()

    test = s(given(strat)(example))
    if seed is not None:
        test = hypothesis.seed(seed)(test)
    try:
        test()
    except (_Departure, _Stop) as e:
        return count[0], attrs.evolve(e.failure, notes=tuple(getattr(e, "__notes__", ())))
    return count[0], None


def check(subject: str | Backend, *, window: str | None = None, self_register: bool | None = None,
          examples: int | None = 30, seed: int | None = None, deadline: float = 5.0,
          rules: tuple[str, ...] | None = None, max_actions: int = 10,
          runtime_options: dict | None = None, database_key: str = "") -> Verdict:
    """Check a via backend against the registry contract; a `Verdict` with one row per rule.

    `subject` is a registered backend's name, a `"module:attr"` naming a
    `Backend` record, or the record (either is put in the registry only
    while its scenarios run). `window` (none, down,
    lease) and `self_register` set the class (default: the record's traits,
    `default_profile`). `examples` is the budget per rule (None: the current
    Hypothesis profile's `max_examples`); `seed` makes a run replayable (and
    turns the example database off). A call of the subject's leg that takes
    more than `deadline` seconds breaks BACKEND-1. `database_key` names the caller (the pytest
    plugin passes the test's node id) in the example database's keys.

    Raises:
        UsageError: the subject cannot be checked as asked (unknown, no impl leg).
    """
    record = _resolve_subject(subject)
    if record.impl is None:
        raise UsageError(f"via backend {record.name!r} has no impl leg: the kit runs it on the threaded runtime "
                         f"(a beam-only backend: --beam FILE, not built yet)")
    profile = default_profile(record)
    if window is not None:
        if window not in WINDOWS:
            raise UsageError(f"class {window!r}: expected one of {', '.join(WINDOWS)}")
        profile = attrs.evolve(profile, window=window)
    if self_register is not None:
        profile = attrs.evolve(profile, self_register=self_register)
    model_record = reference_record(record.name, profile.window)
    try:
        leg = backends.resolve(record.impl) if isinstance(record.impl, str) else record.impl
    except BackendError as e:
        raise UsageError(str(e)) from None
    wanted = tuple(rules or RULES)
    s = _settings(examples, seed)
    budget = s.max_examples
    with Guard(leg, deadline) as guard:
        missing = guard.missing()
        if missing:
            failures = tuple(Failure(rule="BACKEND-1", found_by="BACKEND-1",
                                     violation=Violation(f, "is missing", "a function of the via protocol",
                                                         "BACKEND-1"),
                                     detail=f"{f} is missing: breaks BACKEND-1") for f in missing)
            rows = tuple(RuleResult(r, "fail" if r == "BACKEND-1" else "skipped", 0, RULES[r]) for r in wanted)
            return Verdict(record.name, profile, seed, budget, rows, failures)
        guarded = attrs.evolve(record, impl=guard, self_register=profile.self_register)
        run = _Subject(guarded, model_record, guard, runtime_options or {})
        counts: dict[str, int] = {}
        found: list[Failure] = []
        stopped: set[str] = set()
        for rule in wanted:
            if rule == "BACKEND-1":
                continue
            if rule == "BACKEND-6":
                strat, body = _CONTENDERS, (lambda c: _contend(run, *c))
            else:
                strat = strategy(rule, record.name, max_actions)
                body = (lambda doc, rule=rule: _run_subject(rule, run, doc, _run_model(run, doc)))
            if any(f.violation is not None for f in found):
                continue   # a backend that breaks the protocol is not checked further
            key = f"regspec-conformance|{database_key}|{record.name}|{profile.window}|{rule}"
            counts[rule], failure = _hunt(strat, body, s, seed, key)
            if failure is not None:
                found.append(failure)
                stopped.add(rule)
    return Verdict(record.name, profile, seed, budget, rule_results(wanted, counts, found, stopped), tuple(found))


def rule_results(wanted, counts: dict[str, int], found: list[Failure], stopped: set[str]) -> tuple[RuleResult, ...]:
    """A row per rule: `fail` (a failure found), `inconclusive` (its hunt cut short), `skipped` (never
    run, after a protocol violation) or `pass`; BACKEND-1 counts every example of every rule."""
    failed, total = {f.rule for f in found}, sum(counts.values())
    rows = []
    for rule in wanted:
        n = total if rule == "BACKEND-1" else counts.get(rule, 0)
        if rule in failed:
            verdict = "fail"
        elif rule in stopped:
            verdict = "inconclusive"
        elif rule != "BACKEND-1" and rule not in counts:
            verdict = "skipped"
        else:
            verdict = "pass"
        rows.append(RuleResult(rule, verdict, n, RULES[rule]))
    return tuple(rows)


def assert_conforms(subject: str | Backend, **options) -> Verdict:
    """`check`, for a test suite: raises AssertionError with the report unless the backend conforms.

    With `examples=None` the budget is the current Hypothesis profile's (`settings.load_profile`).
    """
    verdict = check(subject, **options)
    if not verdict.conforms:
        raise AssertionError(render(verdict))
    return verdict


# -- printing -------------------------------------------------------------------------------------

def _scenario_text(doc: dict) -> str:
    steps = ",\n   ".join(json.dumps(s) for s in doc["steps"])
    return '{"steps": [\n   ' + steps + "]}"


def render(verdict: Verdict) -> str:
    """The verdict as a table, then each failure: the shrunk scenario, the departing step, both results."""
    lines = [f"regspec conformance: {verdict.subject} ({verdict.profile}); "
             f"{verdict.examples} examples per rule" + (f", seed {verdict.seed}" if verdict.seed is not None else ""),
             window_line(verdict.profile.window),
             "", f"{'rule':<10} {'verdict':<13} {'examples':>8}  rule text"]
    for r in verdict.rules:
        lines.append(f"{r.rule:<10} {r.verdict:<13} {r.examples:>8}  {r.title}")
    for f in verdict.failures:
        lines += ["", f"{f.rule} fails" + (f" (found by {f.found_by}'s examples)" if f.found_by != f.rule else "")
                  + f": {RULES[f.rule]}"]
        if f.violation is not None:
            lines.append(f"  {f.violation}")
        if f.scenario is not None:
            lines.append(f"  scenario ({f.size} steps):")
            lines += ["  " + line for line in _scenario_text(f.scenario).splitlines()]
        if f.step is not None and f.violation is None:
            lines.append(f"  departs at step {f.step} ({f.op}):")
            lines.append(f"    subject: {json.dumps(f.subject)}")
            lines.append(f"    model (reference {REFERENCES.get(verdict.profile.window)}): {json.dumps(f.model)}")
        elif f.step is not None:
            lines.append(f"  during step {f.step} ({f.op})")
        elif f.violation is None:
            lines.append(f"  {f.detail}")
    lines += ["", "conforms" if verdict.conforms else "does NOT conform"]
    return "\n".join(lines)


def to_json(verdict: Verdict) -> dict:
    """The verdict, machine-readably (`regspec conformance --json`)."""
    def failure(f: Failure) -> dict:
        out = {"rule": f.rule, "found_by": f.found_by, "scenario": f.scenario, "steps": f.size, "step": f.step,
               "op": f.op, "subject": f.subject, "model": f.model, "detail": f.detail}
        if f.violation is not None:
            out["violation"] = {"function": f.violation.function, "did": f.violation.did,
                                "expected": f.violation.expected, "rule": f.violation.rule}
        return out

    return {"subject": verdict.subject,
            "class": {"window": verdict.profile.window, "self_register": verdict.profile.self_register,
                      "global_window": GLOBAL_WINDOW, "differs_from_global": verdict.profile.window != GLOBAL_WINDOW},
            "seed": verdict.seed, "examples": verdict.examples, "conforms": verdict.conforms,
            "rules": [{"id": r.rule, "verdict": r.verdict, "examples": r.examples, "text": r.title}
                      for r in verdict.rules],
            "failures": [failure(f) for f in verdict.failures]}


def new_seed() -> int:
    return random.SystemRandom().randrange(1, 2 ** 31)
