"""The hostile-input corpus (issue 14): every file of tests/hostile/ gives the same exit code and,
where it runs, the same results on the model, the runtime and the BEAM; none prints a traceback (SCN-6,
SCN-12).

tests/hostile/expected.json holds, per file, `exit` (0, 1 or 2, the same on every target) and either
`results` (one per step, exit 0) or `stderr` (the reason of the one line printed, after `FILE: ` and,
for a failed run, after the target's name). Files with exit 2 are refused before any target runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from regspec import cli, targets

HOSTILE = Path(__file__).parent / "hostile"
EXPECTED = json.loads((HOSTILE / "expected.json").read_text())
FILES = sorted(p.name for p in HOSTILE.glob("*.json") if p.name != "expected.json")


def _run(capsys, name: str, target: str) -> tuple[int, str, str]:
    try:
        code = cli.main(["run", str(HOSTILE / name), "--on", target])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_corpus_is_large_and_every_file_has_an_expectation():
    assert len(FILES) >= 50
    assert sorted(EXPECTED) == FILES


@pytest.mark.parametrize("target", ["model", "impl", "beam"])
@pytest.mark.parametrize("name", FILES)
def test_hostile_file(capsys, name, target):
    expected = EXPECTED[name]
    if target == "beam" and expected["exit"] != 2 and not targets.available("beam"):
        pytest.skip("erl is not installed")
    code, out, err = _run(capsys, name, target)
    assert "Traceback" not in err
    assert code == expected["exit"], err
    if code == 0:
        assert [r["result"] for r in json.loads(out)] == expected["results"]
        assert err == ""
    else:
        assert err.count("\n") == 1, err
        prefix = f"{HOSTILE / name}: " + (f"{target}: " if code == 1 else "")
        assert err == prefix + expected["stderr"] + "\n"


@pytest.mark.parametrize("name", ["not-utf8.json", "deep-json-10000.json", "huge-int-digits.json",
                                  "kill-p0.json", "label-reused-step.json", "atom-256-unicode.json"])
def test_refused_through_the_real_command(name):
    """The installed command itself: exit 2, one line, no traceback."""
    p = subprocess.run([sys.executable, "-m", "regspec.cli", "run", str(HOSTILE / name), "--on", "beam"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


@pytest.mark.skipif(not targets.available("beam"), reason="erl is not installed")
def test_every_name_a_fresh_beam_node_holds_is_reserved():
    """The validator's reserved names cover what `erl -noshell` with Elixir started registers
    (the harness's own names start with `regspec.`), so no scenario can meet one on the BEAM only."""
    import subprocess
    from regspec.scenario import RESERVED_NAMES, RESERVED_PREFIXES
    code = ('{ok, _} = application:ensure_all_started(elixir), '
            'io:format("~s", [lists:join(" ", [atom_to_list(N) || N <- registered()])]), halt().')
    elixir = subprocess.run(["elixir", "-e", ":code.lib_dir(:elixir) |> IO.write()"], capture_output=True, text=True,
                            check=True).stdout
    out = subprocess.run(["erl", "-noshell", "-pa", f"{elixir}/ebin", "-eval", code], capture_output=True,
                         text=True, check=True, timeout=60).stdout.split()
    assert "init" in out
    assert [n for n in out if n not in RESERVED_NAMES and not n.startswith(RESERVED_PREFIXES)] == []
