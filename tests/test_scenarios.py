"""The scenario corpus: every scenario's recorded BEAM results are what the model prints.

The threaded runtime runs the same corpus (tests/unit/test_impl_agreement.py).

When `erl` is present the recording itself is re-checked against a fresh
BEAM run, so a recording can never drift from OTP.
"""

from __future__ import annotations

import re

import pytest

from regspec import beam
from regspec.sessions import run_model as run_scenario
from regspec.scenario import load
from support import expected_path, load_json, needs_erl, scenario_files

FILES = scenario_files()
IDS = re.compile(r"\b(?:SCN|PROC|SIG|LINK|MON|REG-LOCAL|GS|SUP|DSUP|VIA|REG-GLOBAL)-\d+\b")

# Each rule and the scenarios that show it (SPEC.md sections 8 to 11, and the rules of contract v1.1).
RULES = {
    "SUP-1": ["sup-one-for-all-restart-order", "sup-rest-for-one-restart-order", "sup-one-for-one-restart-new-pid"],
    "SUP-2": ["sup-permanent-restarted-after-normal-stop", "sup-transient-normal-shutdown-not-restarted",
              "sup-transient-restarted-after-crash", "sup-temporary-never-restarted-spec-deleted"],
    "SUP-3": ["sup-one-for-one-restart-new-pid", "article-chat-room-local-supervised"],
    "SUP-4": ["sup-stop-shuts-children-last-started-first", "supervisor-unknown-cast-or-call-crashes"],
    "SUP-5": ["sup-intensity-fourth-crash-stops-supervisor", "sup-intensity-zero-gives-up-at-once"],
    "SUP-6": ["sup-shutdown-brutal-kill-number-infinity", "sup-trapping-child-killed-after-shutdown-timeout",
              "sup-trapping-child-brutal-kill"],
    "SUP-7": ["sup-ignores-exit-from-non-parent", "sup-killed-kills-children-killed", "sup-killed-outer-inner-shuts-down"],
    "SUP-8": ["sup-terminate-child-idempotent-unknown-not-found", "dsup-s141-terminate-child-twice"],
    "SUP-9": ["via-nomonitor-supervised-child-never-restarted", "article-chat-registry-nomonitor"],
    "SUP-10": ["sup-which-and-count-children-nested", "sup-nested-restarts"],
    "SUP-11": ["sup-start-fails-child-name-taken", "sup-start-child-already-started-already-present",
               "sup-start-child-fails-name-taken"],
    "DSUP-1": ["dsup-elixir-start-child-fills-args", "dsup-s141-start-child-fills-args"],
    "DSUP-2": ["dsup-elixir-stop-shuts-children", "dsup-s141-stop-shuts-children"],
    "DSUP-3": ["article-chat-registry-two-rooms", "article-chat-dynamic-supervisor"],
    "DSUP-4": ["dsup-elixir-terminate-child-twice", "dsup-terminate-child-by-id"],
    "DSUP-5": ["dsup-elixir-intensity-exceeded", "dsup-elixir-temporary-and-transient-children"],
    "VIA-1": ["via-map-register-whereis-unregister-send", "via-map-gen-server-name", "via-map-register-unbound-label"],
    "VIA-2": ["via-map-nowait-kill-whereis-stale", "article-chat-registry-kill-nowait-window"],
    "VIA-3": ["via-nomonitor-keeps-dead-pid", "via-map-register-dead-pid-yes"],
    "VIA-4": ["via-unique-register-self-only", "via-unique-nowait-kill-whereis-undefined", "via-unique-dead-collector-target",
              "via-unique-gen-server-name", "article-chat-registry-unique", "via-unique-unregister-by-target"],
    "VIA-5": ["via-map-registry-server-killed", "via-unique-registry-server-killed",
              "article-chat-registry-server-killed"],
    "VIA-6": ["via-registry-server-new-instance", "article-chat-app-tree-registry-restart-one-for-one"],
    "VIA-7": ["via-map-one-pid-many-names-keys", "via-registry-keys-by-backend-name", "via-unique-keys-unbound-target"],
    "REG-GLOBAL-1": ["global-register-whereis-unregister-send", "global-gen-server-name"],
    "REG-GLOBAL-2": ["global-name-taken-and-second-name-refused"],
    "REG-GLOBAL-3": ["global-nowait-kill-whereis-undefined"],
    "REG-GLOBAL-4": ["global-dead-pid-name-dropped"],
    "REG-GLOBAL-5": ["global-register-whereis-unregister-send"],
    # Contract v1.1
    "SCN-8": ["v11-dead-eager-collector-messages"],
    "SCN-9": ["v11-failed-supervisor-child-as"],
    "SCN-10": ["v11-stop-collector"],
    "DSUP-6": ["v11-dynsup-child-specs", "v11-dynsup-child-specs-shutdown", "v11-dynsup-no-template-args",
               "v11-dynsup-shutdown-must-be-positive"],
    "DSUP-7": ["v11-dynsup-local-arg-name", "v11-dynsup-arg-nested-templates"],
    "VIA-8": ["v11-registry-keys-names"],
    "REG-GLOBAL-6": ["v11-global-bare-names"],
    "SCN-11": ["supervisor-steps-need-a-supervisor", "collector-requests-by-name"],
    "SCN-5": ["chat-room-kind", "chat-room-busy-killed-through-link", "chat-room-busy-supervisor-restart",
              "chat-room-init-work-killed-in-restart"],
    "SUP-12": ["chat-room-init-work-killed-in-restart", "sup-killed-while-child-in-init"],
}




def _rules_of(stem: str) -> list[str]:
    return [rule for rule, stems in RULES.items() if stem in stems]


def params():
    out = []
    for path in FILES:
        doc = load_json(path).get("doc", "")
        ids = sorted(set(IDS.findall(doc)) | set(_rules_of(path.stem)))
        out.append(pytest.param(path, id=path.stem, marks=pytest.mark.spec(*ids)))
    return out


def test_the_corpus_is_large_enough_and_fully_recorded():
    assert len(FILES) >= 140
    missing = [p.name for p in FILES if not expected_path(p).exists()]
    assert missing == []


def test_every_rule_names_scenarios_that_exist():
    stems = {p.stem for p in FILES}
    assert sorted({s for names in RULES.values() for s in names} - stems) == []


@pytest.mark.parametrize("path", params())
def test_model_agrees_with_the_recorded_beam_results(path):
    expected = load_json(expected_path(path))
    assert expected == run_scenario(load(str(path)))


@needs_erl
@pytest.mark.parametrize("path", params())
def test_recording_still_matches_a_fresh_beam_run(path):
    expected = load_json(expected_path(path))
    assert expected == beam.run_scenario(load_json(path))
