"""The benchmarks run and print what their docstrings say (issue 16, item 5): tiny sizes, the
shape of their `--json` figures checked, never their speed (benchmarks are not timed tests)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import pytest

from support import ROOT

KEYS = {"name", "value", "unit", "baseline", "ratio"}


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)


@pytest.mark.parametrize("script, args, names", [
    ("model_step.py", ["--sizes", "10,40", "--steps", "16", "--rounds", "1"], {"model_ms_per_step_n40"}),
    ("state_machine.py", ["--examples", "3", "--steps", "5", "--rounds", "1"],
     {"trivial_machine_examples_per_s", "system_machine_examples_per_s", "supervision_machine_examples_per_s",
      "system_machine_ms_per_example_hypothesis"}),
    ("bench_runtime.py", ["--quick", "--big", "1000"], {"call round trip vs bare threads", "kill to DOWN"}),
], ids=["model_step", "state_machine", "bench_runtime"])
def test_a_benchmark_prints_one_json_figure_per_line_beside_its_baseline(script, args, names):
    done = _run(script, *args, "--json")
    assert done.returncode == 0, done.stderr
    figures = [json.loads(line) for line in done.stdout.splitlines()]
    assert figures and all(KEYS <= set(f) for f in figures)
    assert names <= {f["name"] for f in figures}
    pykka = importlib.util.find_spec("pykka") is not None
    for f in figures:
        if "Pykka" in f["name"] and not pykka:   # printed without its baseline: Pykka is not installed
            assert f["baseline"] is None and f["ratio"] is None
            continue
        assert f["value"] >= 0 and f["baseline"] > 0
        # value / baseline, or for a rate whose ratio reads as "times slower", baseline / value
        assert any(f["ratio"] == pytest.approx(r, rel=0.01, abs=0.002)
                   for r in (f["value"] / f["baseline"], f["baseline"] / f["value"] if f["value"] else None) if r)


def test_the_kill_stress_counts_no_lost_kill():
    done = _run("kill_stress.py", "8")
    assert done.returncode == 0, done.stderr
    assert "8 kills in" in done.stdout and "shutdown ok" in done.stdout
    assert "process threads left after shutdown: 0" in done.stdout
    assert [int(n) for n in re.findall(r"lost: +(\d+)", done.stdout)] == [0, 0, 0, 0]
