"""Helpers shared by the tests (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from regspec import beam

# "ci" (the default, sized for .ci/run) or "thorough" (opt in: REGSPEC_PROFILE=thorough).
PROFILE = os.environ.get("REGSPEC_PROFILE", "ci")

HAVE_ERL = beam.available()
needs_erl = pytest.mark.skipif(not HAVE_ERL, reason="erl is not on PATH (Debian: apt-get install erlang-base erlang-dev elixir)")

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"


def scenario_files() -> list[pathlib.Path]:
    return sorted(p for p in SCENARIOS.glob("*.json") if not p.name.endswith(".expected.json"))


def expected_path(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(path.stem + ".expected.json")


def load_json(path: pathlib.Path):
    return json.loads(path.read_text())


def find_cycle(adj: dict) -> list:
    """One circle of the directed graph `adj` (node -> the nodes it points to) as [a, b, ..., a],
    or [] when there is none; nodes are visited in sorted order, so the answer is stable."""
    state: dict = {}   # 1: on the current path, 2: done
    path: list = []

    def visit(m) -> list:
        state[m] = 1
        path.append(m)
        for t in sorted(adj.get(m, ())):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state:
                cycle = visit(t)
                if cycle:
                    return cycle
        path.pop()
        state[m] = 2
        return []

    for m in sorted(adj):
        if m not in state:
            cycle = visit(m)
            if cycle:
                return cycle
    return []
