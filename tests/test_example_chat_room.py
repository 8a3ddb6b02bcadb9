"""examples/chat_room.py, the article's chat-room story: it prints what the BEAM printed.

The example keeps its own copies of the article sessions in examples/chat/;
these tests keep them identical to the corpus (tests/scenarios).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from support import ROOT, load_json

EXAMPLE = ROOT / "examples" / "chat_room.py"
CORPUS = ROOT / "tests" / "scenarios"

# The story runs on the model and on the threaded runtime alike.
TARGETS = ["model", "impl"]


def _import_example():
    spec = importlib.util.spec_from_file_location("regspec_example_chat_room", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


chat_room = _import_example()
STEMS = [s.stem for s in chat_room.SESSIONS]


def corpus_file(name: str):
    """The corpus file `name` (it must exist)."""
    path = CORPUS / name
    assert path.exists(), f"{name} should be in {CORPUS}"
    return path


@pytest.mark.spec("SUP-3", "VIA-2", "VIA-3", "VIA-4", "DSUP-3")
@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("target", TARGETS)
def test_every_step_of_the_story_prints_the_recorded_beam_result(target, stem):
    session = chat_room.find(stem)
    expected = load_json(chat_room.CHAT / f"{stem}.expected.json")
    assert expected == chat_room.run_session(session, target)


@pytest.mark.parametrize("target", TARGETS)
def test_the_script_tells_the_whole_story_and_exits_0(target):
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--on", target], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    for number, session in enumerate(chat_room.SESSIONS, 1):
        assert f"== {number}. {session.title}\n   ({session.stem}.json)\n" in proc.stdout
    assert "!!" not in proc.stdout
    assert proc.stdout.endswith(f"{target}: every step of {len(STEMS)} session(s) printed what the BEAM printed\n")


@pytest.mark.spec("VIA-3", "SUP-9")
@pytest.mark.parametrize("target", TARGETS)
def test_the_nomonitor_session_points_out_the_stale_pid_and_the_supervisor_that_cannot_restart(target):
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--on", target, "registry-nomonitor"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    whereis = lines.index('  11  whereis name: {:via, :map_registry_nomonitor, {:chat_room, "room1"}}')
    assert ['      => {"pid": "P4"}', "      -- BUG: a stale dead pid: the name still answers room1's old pid, since "
            "nothing told the", "         registry it died"] == lines[whereis + 1:whereis + 4]
    assert "-- BUG: the supervisor could never restart room1" in proc.stdout


def test_a_session_is_chosen_by_its_stem_with_or_without_the_prefix():
    assert chat_room.find("registry-unique") is chat_room.find("article-chat-registry-unique")
    proc = subprocess.run([sys.executable, str(EXAMPLE), "registry-unique", "article-chat-registry"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert ["== 10", "== 3"] == [line.split(".")[0] for line in proc.stdout.splitlines() if line.startswith("== ")]


def test_an_unknown_session_is_refused_with_exit_2():
    proc = subprocess.run([sys.executable, str(EXAMPLE), "chat-room-on-mars"], capture_output=True, text=True)
    assert (2, "", "unknown session 'chat-room-on-mars' (see --list)\n") == (proc.returncode, proc.stdout, proc.stderr)


def test_the_story_covers_every_article_session_of_the_corpus():
    corpus = {p.stem for p in CORPUS.glob("article-*.json") if not p.name.endswith(".expected.json")}
    assert sorted(corpus) == sorted(STEMS)


@pytest.mark.parametrize("stem", STEMS)
def test_the_example_copies_are_identical_to_the_corpus(stem):
    for name in (f"{stem}.json", f"{stem}.expected.json"):
        copy = chat_room.CHAT / name
        assert corpus_file(name).read_text() == copy.read_text(), f"copy {corpus_file(name)} to {copy} again"


@pytest.mark.parametrize("stem", STEMS)
def test_each_note_sits_on_the_step_it_explains(stem):
    session = chat_room.find(stem)
    steps = json.loads((chat_room.CHAT / f"{stem}.json").read_text())["steps"]
    assert {i: op for i, (op, _) in session.notes.items()} == {i: steps[i]["op"] for i in session.notes}
