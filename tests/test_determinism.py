"""The model is deterministic: same scenario, same output, whatever PYTHONHASHSEED (SCN-2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from regspec.generate import generate
from regspec.model import SeededChooser
from regspec.sessions import run_model as run_scenario
from regspec.scenario import parse

SCRIPT = """
import json, sys
from regspec.generate import generate
from regspec.model import SeededChooser
from regspec.sessions import run_model as run_scenario
from regspec.scenario import parse
out = [run_scenario(parse(generate(seed, length=30))) for seed in range(40)]
out += [run_scenario(parse(generate(seed, length=30)), SeededChooser(seed)) for seed in range(40)]
print(json.dumps(out))
"""


@pytest.mark.spec("SCN-2", "PROC-1")
def test_same_output_across_hash_seeds():
    outputs = set()
    for hashseed in ("0", "1", "4242", "random"):
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True)
        outputs.add(proc.stdout)
    assert len(outputs) == 1


@pytest.mark.spec("SCN-2")
def test_a_seeded_chooser_replays_exactly():
    scenario = parse(generate(11, length=40))
    runs = {json.dumps(run_scenario(scenario, SeededChooser(99))) for _ in range(10)}
    assert len(runs) == 1


def test_the_generator_is_seeded():
    assert generate(3) == generate(3)
    assert generate(3) != generate(4)
