"""The conformance kit on the BEAM: a via module checked on real Erlang/OTP (`regspec conformance --beam`).

`regspec.conformance` checks a backend's impl leg on the threaded runtime;
this module runs the same per-rule scenarios (`conformance.strategy`) on the
beam target instead, one fresh VM per scenario, and compares each with the
model running the reference backend of the class under the subject's name.
The subject is an Erlang (`.erl`) or Elixir (`.ex`) source file whose module
exports the via functions (`subject_from_file`), or a registered backend's
beam leg (`regspec conformance map_registry --on beam`).

- The file is compiled once (erlc or elixirc) to find its module: the one
  exporting the via functions. Its backend name is the module's name in
  snake case (`Elixir.Chat.Registry` -> `chat_registry`), which is what the
  printed scenarios call it. A module exporting `prestart/0` is a server
  backend (the driver starts it as it starts `map_registry`'s); one
  exporting `start_link/0` has it called before step 0 (DRIVER.md).
- BACKEND-1: a missing function (`whereis_name/1`) is reported before any
  VM runs. Then one VM probes the protocol (`regspec_probe.erl`): each via
  function called once as a client calls it (whereis, register, whereis,
  send, unregister, whereis, send to the free name), each call in a process
  of its own with the deadline; the first answer that is not the
  protocol's (`register_name` answering `ok`, `send` *returning*
  `{badarg, ...}` instead of exiting, no answer within the deadline) is a
  one-line report naming the function and the rule of its function, and
  the other rules are skipped. A `start_link/0` that does not answer
  `{ok, Pid}` fails BACKEND-1 naming it. In the scenarios, a `register`,
  `unregister` or `whereis` step printing a value of the wrong shape is
  reported the same way; a run that outlives `10 s + deadline x steps` (a
  call that never answers) breaks BACKEND-1 and is not shrunk.
- BACKEND-6: 2 or 3 processes spawned in one VM (erl's default schedulers,
  one per core) call `register_name(Name, self())` at once
  (`regspec_probe.erl`); exactly one `yes`, and `whereis_name` answers it.

A VM costs about 0.3 s here (0.25-0.45 s for a 10-step scenario), so the
default budget is small (`DEFAULT_EXAMPLES` per rule) and shrinking a failure
stops after `SHRINK_RUNS` more VMs (the smallest failing scenario so far is
reported).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import attrs
from hypothesis import note
from hypothesis.control import currently_in_test_context

from regspec import beam
from regspec import conformance as kit
from regspec.common import backends
from regspec.common.backends import Backend, BackendError
from regspec.sessions import run_model
from regspec.scenario import parse

__all__ = ["DEFAULT_EXAMPLES", "SHRINK_RUNS", "VIA_ARITIES", "subject_from_file", "backend_name", "check"]

DEFAULT_EXAMPLES = 8
SHRINK_RUNS = 60
VIA_ARITIES = {"register_name": 2, "unregister_name": 1, "whereis_name": 1, "send": 2}

# The op of a scenario step that calls a via function, the field holding its name, and the shape
# of a value the function may return (an Erlang exit or error prints as {"error"|"exit"|...: R}).
# (A send step prints ok whatever send/2 returned: the probe checks that value.)
_VIA_STEPS = {"register": ("register_name", "name"), "unregister": ("unregister_name", "name"),
              "whereis": ("whereis_name", "name")}
_SHAPES = {
    "register_name": ("yes or no", "BACKEND-2", lambda r: r in ("yes", "no")),
    "unregister_name": ("ok", "BACKEND-3", lambda r: r == "ok"),
    "whereis_name": ("a pid or undefined", "BACKEND-3", lambda r: r == "undefined" or _is_pid(r)),
}
_RAISED = ("error", "exit", "throw", "exception")


def _is_pid(r: object) -> bool:
    return isinstance(r, dict) and set(r) == {"pid"}


def _raised(r: object) -> bool:
    return isinstance(r, dict) and len(r) == 1 and next(iter(r)) in _RAISED


# -- the subject ------------------------------------------------------------------------------

def backend_name(module: str) -> str:
    """The backend name (an atom written plainly) scenarios give a beam module.

    >>> backend_name("Elixir.Chat.Registry"), backend_name("my_registry"), backend_name("Elixir.MyApp.ProcRegistry")
    ('chat_registry', 'my_registry', 'my_app_proc_registry')
    """
    base = module.removeprefix("Elixir.")
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", base).lower()
    snake = re.sub(r"[^a-z0-9_]+", "_", snake).strip("_")
    return snake if re.match(r"^[a-z]", snake) else "m_" + snake


def _tool_output(cmd: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        raise kit.UsageError(f"cannot run {cmd[0]}: {e}") from None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # elixirc prints "== Compilation error in file x.ex ==" before the error itself
    lines = [line for line in lines if not line.startswith("== ")] or lines
    line = lines[0] if lines else "no output"
    return line if len(line) < 300 else line[:300] + " ..."


def _exports(path: Path) -> dict[str, set[tuple[str, int]]]:
    """Compile `path` in a scratch folder: each module it defines and its exports; UsageError when it
    does not compile (one line: the compiler's first)."""
    tool = "erlc" if path.suffix == ".erl" else "elixirc"
    if shutil.which(tool) is None or shutil.which("erl") is None:
        raise kit.UsageError(f"{tool} and erl are needed to check {path.name} on the BEAM")
    with tempfile.TemporaryDirectory(prefix="regspec-kit-") as tmp:
        cmd = ["erlc", "-o", tmp, str(path)] if tool == "erlc" else \
            ["elixirc", "--ignore-module-conflict", "-o", tmp, str(path)]
        proc = _tool_output(cmd)
        if proc.returncode != 0:
            raise kit.UsageError(f"{path}: {tool} failed: {_first_line(proc.stdout + proc.stderr)}")
        beams = sorted(Path(tmp).glob("*.beam"))
        if not beams:
            raise kit.UsageError(f"{path}: defines no module")
        script = ("[begin {ok, {M, [{exports, E}]}} = beam_lib:chunks(F, [exports]), "
                  "[io:format(\"~ts ~ts ~w~n\", [M, N, A]) || {N, A} <- E] end || F <- init:get_plain_arguments()], "
                  "halt().")
        proc = _tool_output(["erl", "-noshell", "-noinput", "-eval", script, "-extra", *map(str, beams)], 120)
        if proc.returncode != 0:
            raise kit.UsageError(f"{path}: cannot read the compiled module: {_first_line(proc.stderr)}")
    out: dict[str, set] = {}
    for beam_file in beams:
        out.setdefault(beam_file.stem, set())
    for line in proc.stdout.splitlines():
        module, function, arity = line.rsplit(" ", 2)
        out.setdefault(module, set()).add((function, int(arity)))
    return out


@attrs.frozen
class BeamSubject:
    """A via module from a source file: its record (no Python legs), and what its module lacks."""

    record: Backend
    path: str
    missing: tuple[str, ...] = ()      # "whereis_name/1", ...
    start_link: bool = False


def subject_from_file(path: str | os.PathLike, *, module: str | None = None) -> BeamSubject:
    """The subject a `.erl` or `.ex` file defines: compiled once to find the module exporting the via
    functions (or `module`, an atom as the BEAM spells it: `Elixir.Chat.Registry`).

    Raises:
        UsageError: no such file, not .erl/.ex, it does not compile, no (or no unique) via module.
    """
    p = Path(path)
    if p.suffix not in (".erl", ".ex"):
        raise kit.UsageError(f"--beam {path}: expected an Erlang (.erl) or Elixir (.ex) source file")
    if not p.is_file():
        raise kit.UsageError(f"--beam {path}: no such file")
    modules = _exports(p.resolve())
    wanted = {(f, a) for f, a in VIA_ARITIES.items()}
    if module is not None:
        if module not in modules:
            raise kit.UsageError(f"{path} defines no module {module} (it defines {', '.join(sorted(modules))})")
        chosen = module
    else:
        score = {m: len(wanted & e) for m, e in modules.items()}
        best = max(score.values())
        top = sorted(m for m, s in score.items() if s == best)
        if len(top) > 1 and best > 0:
            raise kit.UsageError(f"{path} defines several via modules ({', '.join(top)}): name one with --module")
        chosen = top[0] if best > 0 or len(top) == 1 else None
        if chosen is None:
            raise kit.UsageError(f"{path} defines no module exporting the via functions "
                                 f"(it defines {', '.join(sorted(modules))})")
    exports = modules[chosen]
    missing = tuple(f"{f}/{a}" for f, a in VIA_ARITIES.items() if (f, a) not in exports)
    try:
        record = Backend(backend_name(chosen), beam=str(p.resolve()), module=chosen,
                         server=("prestart", 0) in exports, doc=f"the via module {chosen} of {p.name}")
    except BackendError as e:
        raise kit.UsageError(f"{path}: {e}") from None
    return BeamSubject(record, str(path), missing, ("start_link", 0) in exports)


# -- running one example on the beam ---------------------------------------------------------

@attrs.define
class _Run:
    record: Backend          # what the beam target runs (its beam leg)
    model_record: Backend    # the reference model leg under the subject's name
    deadline: float
    shrink_runs: int = SHRINK_RUNS
    violations: list = attrs.Factory(list)
    runs: int = 0            # VMs started
    shrink_from: int | None = None   # the run count at the first failure of the current rule
    best: kit.Failure | None = None

    def timeout(self, steps: int) -> float:
        return 10 + self.deadline * max(steps, 1)


def _model(run: _Run, doc: dict) -> list:
    with backends.substituted(run.model_record):
        return [r["result"] for r in run_model(parse(doc))]


def _violation(run: _Run, rule: str, doc: dict | None, function: str, did: str, expected: str, broken: str,
               step: int | None = None, op: str | None = None) -> kit.Failure:
    v = kit.Violation(function, did, expected, broken)
    run.violations.append(v)
    return kit.Failure(rule=broken, found_by=rule, scenario=doc, step=step, op=op, violation=v, detail=str(v))


def _beam_error(run: _Run, rule: str, doc: dict | None, e: beam.BeamError, timeout: float) -> kit.Failure:
    text = str(e)
    m = re.search(r'via backend "[^"]*": (\S+):start_link\(\) answered (.*) \(expected \{ok, Pid\}\)', text)
    if m:
        return _violation(run, rule, None, "start_link", f"answered {m.group(2)}", "{ok, Pid}", "BACKEND-1")
    if text.startswith("erl timed out"):
        return _violation(run, rule, doc, "the run", f"did not finish within {timeout:g} s",
                          f"every call answered within {run.deadline:g} s", "BACKEND-1")
    step = e.step
    op = doc["steps"][step]["op"] if doc is not None and step is not None and step < len(doc["steps"]) else None
    return kit.Failure(rule=rule, found_by=rule, scenario=doc, step=step, op=op,
                       subject=f"the run failed: {text}", detail=f"the run failed: {text}")


def _compare(run: _Run, rule: str, doc: dict, got: list, expected: list) -> kit.Failure | None:
    """The first step where the beam's results break a shape or depart from the model's."""
    for i, (step, result) in enumerate(zip(doc["steps"], got)):
        via = _VIA_STEPS.get(step["op"])
        target = step.get(via[1]) if via else None
        if isinstance(target, dict) and "via" in target and target["via"][0] == run.record.name \
                and not _raised(result):
            function = via[0]
            expected_shape, broken, fits = _SHAPES[function]
            if not fits(result):
                return _violation(run, rule, doc, function, f"returned {json.dumps(result)}", expected_shape,
                                  broken, i, step["op"])
        if result != expected[i]:
            return kit.Failure(rule=rule, found_by=rule, scenario=doc, step=i, op=step["op"], subject=result,
                               model=expected[i], detail=f"step {i} ({step['op']}): subject {json.dumps(result)}, "
                                                         f"model {json.dumps(expected[i])}")
    return None


def _fail(run: _Run, failure: kit.Failure) -> None:
    """Raise `failure` to Hypothesis; once shrinking has cost SHRINK_RUNS VMs, end the hunt with the
    smallest failure seen."""
    if run.best is None or failure.size < run.best.size:
        run.best = failure
    if run.shrink_from is None:
        run.shrink_from = run.runs
    if failure.violation is not None and failure.violation.function == "start_link":
        raise kit._Stop(failure)
    if failure.violation is not None and failure.violation.did.startswith("did not finish"):
        raise kit._Stop(failure)
    if failure.scenario is not None and currently_in_test_context():
        note(json.dumps(failure.scenario))
    raise kit._Departure(failure)


def _shrink_budget(run: _Run) -> None:
    if run.shrink_from is not None and run.runs - run.shrink_from >= run.shrink_runs:
        raise kit._Stop(run.best)


def _run_doc(run: _Run, rule: str, doc: dict) -> None:
    _shrink_budget(run)
    expected = _model(run, doc)
    timeout = run.timeout(len(doc["steps"]))
    run.runs += 1
    try:
        got = [r["result"] for r in beam.run_scenario(doc, backends=[run.record], timeout=timeout)]
    except beam.BeamError as e:
        _fail(run, _beam_error(run, rule, doc, e, timeout))
        return
    failure = _compare(run, rule, doc, got, expected)
    if failure is not None:
        _fail(run, failure)


def _contend(run: _Run, contenders: int, term: object) -> None:
    """BACKEND-6: `contenders` processes call register_name(Name, self()) at once; exactly one yes."""
    _shrink_budget(run)
    job = {"probe": "contend", "backend": run.record.name, "contenders": contenders, "name": term,
           "timeout": int(run.deadline * 1000)}
    timeout = run.timeout(contenders)
    run.runs += 1
    try:
        stdout, _ = beam.run_main("regspec_probe", [job], backends=[run.record], timeout=timeout, schedulers=None)
        out = json.loads(stdout)
    except beam.BeamError as e:
        _fail(run, _beam_error(run, "BACKEND-6", None, e, timeout))
        return
    except ValueError:
        _fail(run, kit.Failure(rule="BACKEND-6", found_by="BACKEND-6", detail=f"erl printed {stdout[:200]!r}"))
        return
    answers, holder = out["answers"], out["holder"]
    odd = [a for a in answers if a not in ("yes", "no") and not a.startswith(("{error,", "{exit,", "{throw,"))]
    if odd and not odd[0].startswith("no_answer"):
        _fail(run, _violation(run, "BACKEND-6", None, "register_name", f"returned {odd[0]}", "yes or no",
                              "BACKEND-2"))
    yes = [i + 1 for i, a in enumerate(answers) if a == "yes"]
    if len(yes) != 1 or holder != yes[0]:
        name = json.dumps(term)
        shown = ", ".join(f"#{i + 1}: {a}" for i, a in enumerate(answers))
        where = f"contender #{holder}" if isinstance(holder, int) else holder
        _fail(run, kit.Failure(rule="BACKEND-6", found_by="BACKEND-6",
                               subject={"contenders": contenders, "name": term, "answers": answers,
                                        "whereis": where},
                               model="exactly one yes, and whereis_name answers that process",
                               detail=f"{contenders} processes registered {name} at once: {shown}; "
                                      f"whereis_name answered {where}"))


# BACKEND-1 first: each via function called once, as a client calls it (regspec_probe.erl, probe protocol).
# What each call of the probe must give: (a value that fits, what is expected, the rule of the function).
_PROBE = [
    ("whereis_name", lambda c: c["outcome"] == "returned" and c["text"] == "undefined", "undefined (a free name)",
     "BACKEND-3"),
    ("register_name", lambda c: c["outcome"] == "returned" and c["text"] == "yes", "yes (a free name)", "BACKEND-2"),
    ("whereis_name", lambda c: c["outcome"] == "returned" and c["holder"], "the holder's pid", "BACKEND-3"),
    # Elixir's Registry.send/2 answers the message (as Kernel.send/2 does), not the pid; OTP ignores the value.
    ("send", lambda c: c["outcome"] == "returned" and (c["holder"] or c["text"] == "{regspec_probe,hello}"),
     "the holder's pid (or the message)", "BACKEND-4"),
    ("send", lambda c: c["outcome"] == "returned" and c["text"] == "delivered",
     "the message delivered to the holder", "BACKEND-4"),
    ("unregister_name", lambda c: c["outcome"] == "returned" and c["text"] == "ok", "ok", "BACKEND-3"),
    ("whereis_name", lambda c: c["outcome"] == "returned" and c["text"] == "undefined",
     "undefined (after unregister_name)", "BACKEND-3"),
    ("send", lambda c: c["badarg"], "an exit {badarg, {Name, Msg}} or error badarg (a free name)", "BACKEND-4"),
]


def _probe(run: _Run) -> kit.Failure | None:
    """Each via function once; the first call that does not answer as the protocol says, as a violation."""
    job = {"probe": "protocol", "backend": run.record.name, "timeout": int(run.deadline * 1000)}
    timeout = run.timeout(len(_PROBE))
    run.runs += 1
    try:
        stdout, _ = beam.run_main("regspec_probe", [job], backends=[run.record], timeout=timeout)
        calls = json.loads(stdout)
    except beam.BeamError as e:
        return _beam_error(run, "BACKEND-1", None, e, timeout)
    except ValueError:
        return kit.Failure(rule="BACKEND-1", found_by="BACKEND-1", detail=f"erl printed {stdout[:200]!r}")
    for (function, fits, expected, rule), call in zip(_PROBE, calls):
        if fits(call):
            continue
        if call["outcome"] == "no_answer":
            did, rule = f"did not answer within {run.deadline:g} s", "BACKEND-1"
        elif call["outcome"] == "returned":
            did = f"returned {call['text']}"
        else:
            did = f"raised {call['outcome']}:{call['text']}"
        return _violation(run, "BACKEND-1", None, function, did, expected, rule)
    return None


# -- the check ------------------------------------------------------------------------------

def _resolve(target: str | Backend | BeamSubject, module: str | None) -> BeamSubject:
    if isinstance(target, BeamSubject):
        return target
    if isinstance(target, (str, os.PathLike)) and str(target).endswith((".erl", ".ex")):
        return subject_from_file(target, module=module)
    record = kit._resolve_subject(target)
    if record.beam is None:
        raise kit.UsageError(f"via backend {record.name!r} has no beam leg: it cannot be checked on the BEAM")
    if not Path(record.beam).is_file():
        raise kit.UsageError(f"the beam leg of via backend {record.name!r} is not a file: {record.beam}")
    return BeamSubject(record, record.beam)


def check(target: str | os.PathLike | Backend | BeamSubject, *, window: str | None = None,
          self_register: bool | None = None, examples: int | None = DEFAULT_EXAMPLES, seed: int | None = None,
          deadline: float = 5.0, rules: tuple[str, ...] | None = None, max_actions: int = 10,
          module: str | None = None, shrink_runs: int = SHRINK_RUNS) -> kit.Verdict:
    """Check a via backend on the BEAM; a `conformance.Verdict` with one row per rule.

    `target` is a `.erl`/`.ex` source file, a registered backend's name or `"module:attr"` (its beam leg
    is run), or a `Backend` record with a beam leg. The options are `conformance.check`'s; `module`
    picks the via module of a file defining several; `shrink_runs` bounds the VMs spent shrinking a
    failure.

    Raises:
        UsageError: the file is missing or does not compile, no beam leg, a class with no reference,
            or erl is not installed.
    """
    if not beam.available():
        raise kit.UsageError("checking on the BEAM needs erl and erlc on PATH "
                             "(Debian: apt-get install erlang-base erlang-dev elixir)")
    subject = _resolve(target, module)
    record = subject.record
    profile = kit.default_profile(record)
    if window is not None:
        if window not in kit.WINDOWS:
            raise kit.UsageError(f"class {window!r}: expected one of {', '.join(kit.WINDOWS)}")
        profile = attrs.evolve(profile, window=window)
    if self_register is not None:
        profile = attrs.evolve(profile, self_register=self_register)
    model_record = kit.reference_record(record.name, profile.window)
    wanted = tuple(rules or kit.RULES)
    s = kit._settings(examples, seed)
    budget = s.max_examples
    shown = f"{record.name} = {record.beam_module} of {Path(subject.path).name}, on the beam"
    if subject.missing:
        failures = tuple(kit.Failure(rule="BACKEND-1", found_by="BACKEND-1",
                                     violation=kit.Violation(f, "is missing", "a function of the via protocol",
                                                             "BACKEND-1"),
                                     detail=f"{f} is missing: breaks BACKEND-1") for f in subject.missing)
        rows = tuple(kit.RuleResult(r, "fail" if r == "BACKEND-1" else "skipped", 0, kit.RULES[r]) for r in wanted)
        return kit.Verdict(shown, profile, seed, budget, rows, failures)
    run = _Run(attrs.evolve(record, self_register=profile.self_register), model_record, deadline, shrink_runs)
    found: list[kit.Failure] = []
    counts: dict[str, int] = {}
    stopped: set[str] = set()
    probed = _probe(run)
    if probed is not None:
        found.append(probed)
    counts["BACKEND-1"] = 1
    for rule in wanted:
        if rule == "BACKEND-1" or any(f.violation is not None for f in found):
            continue
        if rule == "BACKEND-6":
            strat, body = kit._CONTENDERS, (lambda c: _contend(run, *c))
        else:
            strat = kit.strategy(rule, record.name, max_actions)
            body = (lambda doc, rule=rule: _run_doc(run, rule, doc))
        run.shrink_from, run.best = None, None
        counts[rule], failure = kit._hunt(strat, body, s, seed)
        if failure is not None:
            found.append(failure)
            stopped.add(rule)
    return kit.Verdict(shown, profile, seed, budget, kit.rule_results(wanted, counts, found, stopped), tuple(found))
