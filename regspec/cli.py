"""The `regspec` command: run a scenario on a target, or compare two targets.

    regspec run FILE [--on model|impl|beam] [--backend MODULE:ATTR]...
    regspec diff FILE [--on model] [--against beam] [--backend MODULE:ATTR]...
    regspec record FILE... [--runs 4] [--backend MODULE:ATTR]...

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
    for p in (p_run, p_diff, p_rec):
        p.add_argument("--backend", action="append", default=[], metavar="MODULE:ATTR", help=backend_help)
    args = parser.parse_args(argv)
    load_backends(args.backend)

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
