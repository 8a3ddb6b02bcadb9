"""The model's cost per step as the world grows (issue 16, item 2).

    python benchmarks/model_step.py [--json] [--sizes 100,2000,4000] [--steps 1000] [--rounds 5]

For each size N: N chat rooms started with local names (room1 .. roomN; not
timed), then a fixed number of scenario steps on them (timed), the same
sequence at every size: casts, calls, whereis, a kill and a restart of rooms
spread over the whole world, each step run to quiescence as a scenario run
does (`ModelSession.perform`). Printed for each N:

- ms per scenario step, and per model transition (`model.step` call), the
  median of `--rounds` rounds, each from the same started world; the sizes
  take turns in every round, so that a drift of the machine's speed hits
  them alike;
- µs per `hash(world)` of each world a step produces when every world is
  hashed, as an exhaustive exploration does (median), and the first such
  hash, of a world none of whose ancestors was hashed.

The N=100 figures are the baseline measured in the same run; `ratio` is
figure / baseline (the target for ms/step at 4,000 is close to 1).
With `--json`, one JSON object per figure: {"name", "value", "unit", "baseline", "ratio"}.
It prints figures; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import time

from regspec import model
from regspec.model import scheduler
from regspec.scenario import to_step
from regspec.sessions import ModelSession

ROOM = "room{}"


def start_rooms(n: int) -> ModelSession:
    session = ModelSession()
    for i in range(1, n + 1):
        session.perform(to_step({"op": "start", "kind": "chat_room", "name": {"local": ROOM.format(i)}}))
    return session


def workload(n: int, count: int) -> list:
    """`count` steps in groups of 8 on one room each, rooms spread over 1..n: 3 casts, 2 calls,
    a whereis, a kill and the room started again under its name, so the world keeps its size
    and every n runs the same steps."""
    out = []
    for k in range(count):
        name = ROOM.format(1 + ((k // 8) * 7919) % n)
        room = {"local": name}
        kind = k % 8
        if kind in (0, 1, 2):
            out.append({"op": "cast", "to": room, "msg": ["add_message", {"str": f"m{k}"}]})
        elif kind in (3, 4):
            out.append({"op": "call", "to": room, "msg": "get_messages"})
        elif kind == 5:
            out.append({"op": "whereis", "name": room})
        elif kind == 6:
            out.append({"op": "kill", "target": room})
        else:
            out.append({"op": "start", "kind": "chat_room", "name": room})
    return [to_step(s) for s in out]


class Sized:
    """One size N: its started world (a value: every round starts again from it) and its steps."""

    def __init__(self, n: int, count: int):
        self.session = start_rooms(n)
        self.started = self.session.world
        self.steps = workload(n, count)
        self.times: list[float] = []
        self.calls = 0
        self.hashes: list[float] = []

    def run(self) -> None:
        """One timed round: every step from the started world. ModelSession calls model.step (one
        per command) and the scheduler's run_until_* call scheduler.step: the transitions are counted
        by wrapping both names."""
        orig_model_step, orig_sched_step = model.step, scheduler.step
        calls = 0

        def counted(world, event):
            nonlocal calls
            calls += 1
            return orig_sched_step(world, event)

        model.step = scheduler.step = counted
        try:
            self.session.world = self.started
            start = time.perf_counter()
            for s in self.steps:
                self.session.perform(s)
            self.times.append(time.perf_counter() - start)
        finally:
            model.step, scheduler.step = orig_model_step, orig_sched_step
        self.calls = calls

    def hash_each(self) -> None:
        """Hash every world the first 100 steps produce, as an exhaustive exploration does: the first
        hash of a world whose ancestors were never hashed walks it; each later one is carried from its
        parent (no world of the timed rounds was hashed)."""
        self.session.world = self.started
        for s in self.steps[:100]:
            self.session.perform(s)
            w = self.session.world
            t = time.perf_counter()
            hash(w)
            self.hashes.append(time.perf_counter() - t)

    def figures(self) -> dict:
        elapsed = sorted(self.times)[len(self.times) // 2]
        count = len(self.steps)
        first, rest = self.hashes[0], sorted(self.hashes[1:])
        return {
            "ms_per_step": elapsed * 1000 / count,
            "ms_per_transition": elapsed * 1000 / max(self.calls, 1),
            "us_per_hash": rest[len(rest) // 2] * 1e6,
            "us_first_hash": first * 1e6,
        }


def measure(sizes: list[int], count: int, rounds: int) -> dict:
    """The figures of each size; the sizes take turns in every round (as bench_runtime's
    `interleaved`), so that a drift of the machine's speed hits them alike."""
    prepared = {n: Sized(n, count) for n in sizes}
    for _ in range(rounds):
        for n in sizes:
            prepared[n].run()
    for n in sizes:
        prepared[n].hash_each()
    return {n: prepared[n].figures() for n in sizes}


UNITS = {"ms_per_step": "ms/step", "ms_per_transition": "ms/transition", "us_per_hash": "us/hash",
         "us_first_hash": "us"}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sizes", default="100,2000,4000")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = measure(sizes, args.steps, args.rounds)
    base_n = sizes[0]
    base = results[base_n]
    for n in sizes:
        for key, unit in UNITS.items():
            value = results[n][key]
            ratio = value / base[key] if base[key] else None
            if args.json:
                print(json.dumps({"name": f"model_{key}_n{n}", "value": round(value, 4), "unit": unit,
                                  "baseline": round(base[key], 4), "ratio": round(ratio, 3)}))
            else:
                print(f"N={n:>5}  {key:<18} {value:10.4f} {unit:<14} ratio to N={base_n}: {ratio:.2f}")


if __name__ == "__main__":
    main()
