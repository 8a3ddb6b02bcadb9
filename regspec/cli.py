"""The `regspec` command: run a scenario on a target, or compare two targets.

    regspec run FILE [--on model|impl|beam] [--backend MODULE:ATTR]...
    regspec diff FILE [--on model] [--against beam] [--backend MODULE:ATTR]...
    regspec record FILE... [--runs 4] [--backend MODULE:ATTR]...
    regspec conformance TARGET|--beam FILE [--on impl|beam] [--class none|down|lease] [--self-register|--others]
                        [--examples N] [--seed S] [--deadline SECONDS] [--json] [--backend MODULE:ATTR]...

`conformance` checks a via backend (a registered backend's name, or
MODULE:ATTR naming its Backend record) against the registry contract
(SPEC.md, BACKEND-1 to BACKEND-6) on the threaded runtime, or with `--on
beam` its beam leg on real Erlang/OTP; `--beam FILE` checks the via module
of an Erlang or Elixir source file on the BEAM: exit 0 when it conforms, 1
when it does not (docs/backends.md, "Checking a backend").

`record` runs each scenario on the beam target several times at once and
writes FILE's `.expected.json` only if every run printed the same results.

`--backend MODULE:ATTR` (repeatable) registers a via backend of one's own:
ATTR of MODULE is its `regspec.common.backends.Backend` record (MODULE is
imported with the current directory on the path, as `python -m` does).
The records installed packages declare in the entry-point group
`regspec.backends` are registered at start too (docs/backends.md).

Exit codes: 0 success (and, for diff, agreement), 1 the targets disagree or a
run failed (one line on stderr names the step), 2 a malformed scenario or bad
arguments, 3 a target that cannot run here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import targets
from .common import backends
from .scenario import ScenarioError, load

__all__ = ["main"]


def _print_results(results: list[dict]) -> None:
    lines = [json.dumps(r) for r in results]
    print("[" + ",\n ".join(lines) + "]")


def _load(path: str):
    try:
        return load(path)
    except ScenarioError as e:
        print(f"{path}: {e}", file=sys.stderr)
        raise SystemExit(2)


def _run(scenario, target: str, path: str) -> list[dict]:
    try:
        return targets.run(scenario, target)
    except targets.TargetUnavailable as e:
        print(f"{path}: target {target}: {e}", file=sys.stderr)
        raise SystemExit(3)
    except targets.TargetFailed as e:
        print(f"{path}: {target}: {e}", file=sys.stderr)
        raise SystemExit(1)


def diff_results(scenario, left: list[dict], right: list[dict], lname: str, rname: str) -> list[str]:
    """One line per step whose results differ."""
    lines = []
    for i, step in enumerate(scenario.steps):
        a = left[i]["result"] if i < len(left) else None
        b = right[i]["result"] if i < len(right) else None
        if a != b:
            lines.append(f"step {i} ({step.op}): {lname}: {json.dumps(a, sort_keys=True)}  "
                         f"{rname}: {json.dumps(b, sort_keys=True)}")
    return lines


def record(paths: list[str], runs: int) -> int:
    """Record beam results beside each scenario, refusing any that is not reproducible."""
    import concurrent.futures
    import pathlib

    scenarios = [(p, _load(p)) for p in paths]
    status = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=runs) as pool:
        for path, scenario in scenarios:
            outs = list(pool.map(lambda _: _run(scenario, "beam", path), range(runs)))
            if any(o != outs[0] for o in outs):
                print(f"{path}: NOT reproducible on beam over {runs} concurrent runs; not recorded", file=sys.stderr)
                status = 1
                continue
            target = pathlib.Path(path)
            target = target.with_name(target.stem + ".expected.json")
            target.write_text(json.dumps(outs[0], indent=1) + "\n")
            print(f"{path}: recorded ({runs} identical runs)")
    return status


def load_backends(refs: list[str]) -> None:
    """Register the backends of the entry-point group `regspec.backends`, then each `--backend`
    MODULE:ATTR, whose legs are loaded at once; a problem is one line on stderr and exit 2."""
    try:
        backends.load_entry_points()
    except backends.BackendError as e:
        print(f"regspec: {e}", file=sys.stderr)
        raise SystemExit(2)
    if refs and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for ref in refs:
        try:
            record = backends.load(ref)
            if record.model is not None:
                backends.model_leg(record.name)
            if record.impl is not None:
                backends.impl_leg(record.name)
            if record.beam is not None and not os.path.isfile(record.beam):
                raise backends.BackendError(f"the beam leg of via backend {record.name!r} is not a file: {record.beam}")
        except backends.BackendError as e:
            print(f"regspec: --backend {ref}: {str(e).removeprefix(repr(ref) + ': ')}", file=sys.stderr)
            raise SystemExit(2)


def conformance(args) -> int:
    """`regspec conformance`: 0 conforms, 1 does not, 2 bad usage."""
    from . import conformance as kit

    on_beam = args.beam is not None or args.on == "beam"
    if args.beam is not None and args.target:
        print("regspec conformance: give a TARGET or --beam FILE, not both", file=sys.stderr)
        return 2
    if not args.target and args.beam is None:
        print("regspec conformance: a TARGET is needed: a registered backend's name or MODULE:ATTR "
              "(or --beam FILE.erl|FILE.ex)", file=sys.stderr)
        return 2
    if args.examples is None:
        args.examples = 50
        if on_beam:   # -- the beam subject (regspec.conformance_beam): one VM per scenario
            from . import conformance_beam
            args.examples = conformance_beam.DEFAULT_EXAMPLES
    if args.examples < 1 or args.deadline <= 0:
        print("regspec conformance: --examples and --deadline must be positive", file=sys.stderr)
        return 2
    if args.target and ":" in args.target and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    seed = args.seed if args.seed is not None else kit.new_seed()
    try:
        if on_beam:   # -- the beam subject (regspec.conformance_beam)
            from . import conformance_beam
            subject = conformance_beam.subject_from_file(args.beam, module=args.module) if args.beam else args.target
            verdict = conformance_beam.check(subject, window=args.window,
                                             self_register=args.self_register, examples=args.examples,
                                             seed=seed, deadline=args.deadline, module=args.module)
        else:
            verdict = kit.check(args.target, window=args.window, self_register=args.self_register,
                                examples=args.examples, seed=seed, deadline=args.deadline)
    except kit.UsageError as e:
        print(f"regspec conformance: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(kit.to_json(verdict), indent=1))
    else:
        print(kit.render(verdict))
        if args.seed is None:
            print(f"(replay with --seed {seed})")
    return 0 if verdict.conforms else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="regspec", description="Run naming scenarios on the model, the threaded runtime or real Erlang/OTP.")
    sub = parser.add_subparsers(dest="command", required=True)
    backend_help = "register the via backend whose Backend record is ATTR of MODULE (repeatable)"
    p_run = sub.add_parser("run", help="print the canonical results of a scenario on one target")
    p_run.add_argument("file")
    p_run.add_argument("--on", choices=targets.TARGETS, default="model")
    p_diff = sub.add_parser("diff", help="compare two targets step by step; exit 1 if they differ")
    p_diff.add_argument("file")
    p_diff.add_argument("--on", choices=targets.TARGETS, default="model")
    p_diff.add_argument("--against", choices=targets.TARGETS, default="beam")
    p_rec = sub.add_parser("record", help="record beam results as FILE's .expected.json (checked for reproducibility)")
    p_rec.add_argument("files", nargs="+")
    p_rec.add_argument("--runs", type=int, default=4)
    p_conf = sub.add_parser("conformance", help="check a via backend against the registry contract (BACKEND-n)")
    p_conf.add_argument("target", nargs="?", help="a registered backend's name, or MODULE:ATTR of a Backend record")
    p_conf.add_argument("--beam", metavar="FILE", help="an Erlang (.erl) or Elixir (.ex) via module to check on the BEAM")
    p_conf.add_argument("--on", choices=("impl", "beam"), default="impl",
                        help="run TARGET on the threaded runtime (impl, default) or its beam leg on the BEAM")
    p_conf.add_argument("--module", help="with --beam: the via module of a file that defines several "
                                         "(as the BEAM spells it: Elixir.Chat.Registry)")
    p_conf.add_argument("--class", dest="window", choices=("none", "down", "lease"),
                        help="how long a dead holder may still be returned (default: the record's dead_holder)")
    who = p_conf.add_mutually_exclusive_group()
    who.add_argument("--self-register", dest="self_register", action="store_true", default=None,
                     help="only the calling process registers itself")
    who.add_argument("--others", dest="self_register", action="store_false",
                     help="the backend may register a process other than the caller")
    p_conf.add_argument("--examples", type=int, help="scenarios per rule (default 50; 8 on the BEAM)")
    p_conf.add_argument("--seed", type=int, help="replay a run (default: a new seed, printed)")
    p_conf.add_argument("--deadline", type=float, default=5.0, help="seconds a call of the backend may take")
    p_conf.add_argument("--json", action="store_true", help="print the verdict as JSON")
    for p in (p_run, p_diff, p_rec, p_conf):
        p.add_argument("--backend", action="append", default=[], metavar="MODULE:ATTR", help=backend_help)
    args = parser.parse_args(argv)
    load_backends(args.backend)

    if args.command == "conformance":
        return conformance(args)

    if args.command == "record":
        return record(args.files, args.runs)
    scenario = _load(args.file)
    if args.command == "run":
        _print_results(_run(scenario, args.on, args.file))
        return 0
    left = _run(scenario, args.on, args.file)
    right = _run(scenario, args.against, args.file)
    lines = diff_results(scenario, left, right, args.on, args.against)
    if lines:
        print(f"{args.file}: {args.on} and {args.against} differ at {len(lines)} step(s)")
        for line in lines:
            print("  " + line)
        return 1
    print(f"{args.file}: {args.on} and {args.against} agree on all {len(scenario.steps)} steps")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
