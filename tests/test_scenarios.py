"""The scenario corpus: every scenario's recorded BEAM results are what the model prints.

When `erl` is present the recording itself is re-checked against a fresh
BEAM run, so a recording can never drift from OTP.
"""

from __future__ import annotations

import re

import pytest

from regspec import beam
from regspec.model import run_scenario
from regspec.scenario import load
from support import expected_path, load_json, needs_erl, scenario_files

FILES = scenario_files()
IDS = re.compile(r"\b(?:SCN|PROC|SIG|LINK|MON|REG-LOCAL|GS)-\d+\b")


def params():
    out = []
    for path in FILES:
        doc = load_json(path).get("doc", "")
        out.append(pytest.param(path, id=path.stem, marks=pytest.mark.spec(*IDS.findall(doc))))
    return out


def test_the_corpus_is_large_enough_and_fully_recorded():
    assert len(FILES) >= 40
    missing = [p.name for p in FILES if not expected_path(p).exists()]
    assert missing == []


@pytest.mark.parametrize("path", params())
def test_model_agrees_with_the_recorded_beam_results(path):
    expected = load_json(expected_path(path))
    assert expected == run_scenario(load(str(path)))


@needs_erl
@pytest.mark.parametrize("path", params())
def test_recording_still_matches_a_fresh_beam_run(path):
    expected = load_json(expected_path(path))
    assert expected == beam.run_scenario(load_json(path))
