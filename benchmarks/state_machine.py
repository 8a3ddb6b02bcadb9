"""Examples per second of the differential state machines against a trivial machine (issue 16, item 4).

    python benchmarks/state_machine.py [--json] [--examples 100] [--steps 40] [--rounds 3]

Runs, with the same settings (`max_examples`, `stateful_step_count`,
no database, no deadline, generate phase only), a trivial
two-rule machine (one rule adds a drawn integer, one checks it: Hypothesis's
own cost per example), the system machine and the supervision machine of
`tests/stateful/machine.py` (the model against the threaded runtime).
The three machines take turns in every round (a burst of load hits them
alike), with the round's own seed (round k draws with seed k, the same for
the three: a machine's figure is not that of one set of examples, whose
cost depends on what they happen to do; derandomized, the examples would
change with every edit of the machine's source, which Hypothesis digests
into its seed), each run in a new Python process (in one process, a run's heap,
Hypothesis's caches and the collector's generations carry over to the
next run: the trivial machine's rate then swung between 124 and 250
examples/s with where it ran). Printed for each: examples per second (the median of `--rounds`),
and the ratio to the trivial machine's, measured in the same run (the
target is 0.30 or more): the median of each round's ratio, its two runs
back to back; the CPU time per example of that round (every
thread of the process: on a machine shared with other work, what moves
least); then where a differential example's time goes, in ms per example:
the model's side, the runtime's side, making and closing the runtime
session, the invariants, and the rest (Hypothesis drawing the steps);
last, each round's ratio, lowest first.
With `--json`, one JSON object per figure: {"name", "value", "unit", "baseline", "ratio"}.
It prints figures; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "stateful"), str(ROOT / "tests")]

from hypothesis import Phase, seed as hypothesis_seed, settings, strategies as st   # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test   # noqa: E402

import machine   # noqa: E402  (tests/stateful/machine.py)
from regspec.sessions import ImplSession, ModelSession   # noqa: E402


class TrivialMachine(RuleBasedStateMachine):
    """Two rules and an invariant on one integer: what Hypothesis itself costs per example."""

    def __init__(self):
        super().__init__()
        self.total = 0

    @rule(n=st.integers(0, 3))
    def add(self, n):
        self.total += n

    @rule()
    def look(self):
        assert self.total >= 0

    @invariant()
    def never_negative(self):
        assert self.total >= 0


PARTS = ("model", "runtime", "session", "invariants")


class Split:
    """Wall time spent in each part of a differential example, summed over a run."""

    def __init__(self):
        self.times = dict.fromkeys(PARTS, 0.0)

    def timed(self, part: str, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.times[part] += time.perf_counter() - start
        return wrapper

    def machine(self, factory):
        """`factory`'s machine with its parts timed (its runtime session's making and closing, its sides' steps)."""
        # The factory's own class, its methods wrapped in place: the machine the tests run, timed.
        timed = factory(self.timed("session", lambda: ImplSession("a")))
        timed.check_invariants = self.timed("invariants", timed.check_invariants)
        timed.teardown = self.timed("session", timed.teardown)
        original = machine.Side.apply

        def apply(side, step):
            start = time.perf_counter()
            try:
                return original(side, step)
            finally:
                part = "model" if isinstance(side.session, ModelSession) else "runtime"
                self.times[part] += time.perf_counter() - start

        timed.side_apply = apply
        return timed


CPU = {}   # machine class name -> CPU seconds of its last run (every thread of this process)


def run(machine_class, s: settings, seed: int, on_side=None) -> float:
    """Seconds to run `max_examples` examples of `machine_class`, drawn with `seed` (its CPU seconds go
    to `CPU`)."""
    hypothesis_seed(seed)(machine_class)   # as `@seed(seed)` on the class
    original = machine.Side.apply
    if on_side is not None:
        machine.Side.apply = on_side
    try:
        cpu, start = time.process_time(), time.perf_counter()
        run_state_machine_as_test(machine_class, settings=s)
        CPU[machine_class.__name__] = time.process_time() - cpu
        return time.perf_counter() - start
    finally:
        machine.Side.apply = original


MACHINES = {"trivial": None, "system": machine.system_machine, "supervision": machine.supervision_machine}


def measure(name: str, s: settings, seed: int) -> dict:
    """One run of the machine `name`: seconds, CPU ms per example, and (a differential machine's) the
    seconds spent in each part."""
    if MACHINES[name] is None:
        seconds = run(TrivialMachine, s, seed)
        return {"seconds": seconds, "cpu_ms": CPU[TrivialMachine.__name__] * 1000 / s.max_examples, "parts": {}}
    split = Split()
    timed = split.machine(MACHINES[name])
    seconds = run(timed, s, seed, on_side=timed.side_apply)
    return {"seconds": seconds, "cpu_ms": CPU[timed.__name__] * 1000 / s.max_examples, "parts": split.times}


def measure_apart(name: str, args, seed: int) -> dict:
    """`measure` in a new Python process: each run starts from the same state (a run's heap, its caches
    and the collector's generations would otherwise carry over to the next machine's run)."""
    out = subprocess.run([sys.executable, __file__, "--one", name, "--examples", str(args.examples),
                          "--steps", str(args.steps), "--seed", str(seed)], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        sys.exit(f"state_machine.py: the {name} machine's run failed:\n{out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one", choices=MACHINES, help=argparse.SUPPRESS)   # a single run, as JSON (`measure_apart`)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)   # (its seed)
    args = ap.parse_args(argv)
    s = settings(max_examples=args.examples, stateful_step_count=args.steps, deadline=None, database=None,
                 phases=[Phase.explicit, Phase.generate])
    if args.one:
        print(json.dumps(measure(args.one, s, args.seed)))
        return
    figures = []

    def figure(name, value, unit, baseline, ratio=None):
        if ratio is None:
            ratio = value / baseline if baseline else None
        figures.append({"name": name, "value": round(value, 3), "unit": unit, "baseline": round(baseline, 3),
                        "ratio": round(ratio, 3) if ratio is not None else None})

    # The machines take turns in every round, so that a burst of load or a drift of the machine's
    # speed hits each of them alike (as bench_runtime's `interleaved`); each figure is its median.
    runs = {name: [] for name in MACHINES}
    for k in range(args.rounds):
        for name in MACHINES:
            runs[name].append(measure_apart(name, args, seed=k))
    median = {name: sorted(got, key=lambda r: r["seconds"])[args.rounds // 2] for name, got in runs.items()}
    trivial = args.examples / median["trivial"]["seconds"]
    trivial_cpu = median["trivial"]["cpu_ms"]
    spread = {}   # machine -> its rounds' ratios, sorted
    figure("trivial_machine_examples_per_s", trivial, "examples/s", trivial)
    figure("trivial_machine_cpu_ms_per_example", trivial_cpu, "ms/example", trivial_cpu)
    for name in ("system", "supervision"):
        got = median[name]
        # The ratio: the median of the rounds' own ratios. A round runs the machines back to back, so
        # a drift of the machine's speed from one round to the next (this VM's: up to 30%) cancels.
        paired = sorted(t["seconds"] / r["seconds"] for r, t in zip(runs[name], runs["trivial"]))
        spread[name] = paired
        figure(f"{name}_machine_examples_per_s", args.examples / got["seconds"], "examples/s", trivial,
               paired[args.rounds // 2])
        # CPU time, what a loaded machine moves least (ratio: this machine's over trivial's, so its
        # inverse is the one to hold beside the examples/s ratio)
        figure(f"{name}_machine_cpu_ms_per_example", got["cpu_ms"], "ms/example", trivial_cpu)
        per_example = {part: t * 1000 / args.examples for part, t in got["parts"].items()}
        per_example["hypothesis"] = got["seconds"] * 1000 / args.examples - sum(per_example.values())
        for part, ms in per_example.items():
            figure(f"{name}_machine_ms_per_example_{part}", ms, "ms/example", 1000 / trivial)
    for f in figures:
        if args.json:
            print(json.dumps(f))
        else:
            print(f"{f['name']:<48} {f['value']:10.3f} {f['unit']:<12} baseline {f['baseline']:10.3f}  "
                  f"ratio {f['ratio']:.3f}")
    if not args.json:
        for name, ratios in spread.items():
            print(f"{name} machine, each round's ratio: " + " ".join(f"{r:.3f}" for r in ratios))


if __name__ == "__main__":
    main()
