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
