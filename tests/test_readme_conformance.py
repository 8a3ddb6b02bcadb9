"""README.md's worked example of `regspec conformance` ("Checking a backend: a worked example")
runs as written: each ```console block's commands are run from the repository's root, and
their output and exit codes are the README's (a table row's example count aside).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("### Checking a backend: a worked example"):README.index("## The differential state machine")]
BLOCKS = re.findall(r"^```console\n(.*?)^```", SECTION, re.M | re.S)
ROW = re.compile(r"^(BACKEND-\d) +(\w+) +\d+  ")


def regspec() -> list[str]:
    script = Path(sys.executable).with_name("regspec")
    return [str(script)] if script.exists() else [sys.executable, "-m", "regspec.cli"]


def same(expected: str, got: str) -> bool:
    m, n = ROW.match(expected), ROW.match(got)
    return (m.groups() == n.groups()) if m and n else expected == got


def test_the_worked_example_has_a_pass_and_a_failure_in_python_and_in_elixir():
    assert len(BLOCKS) == 4
    assert BLOCKS[0].rstrip().endswith("conforms\n$ echo $?\n0")
    assert "does NOT conform" in BLOCKS[1] and "BACKEND-3 fails" in BLOCKS[1]
    assert "--beam examples/chat_registry/chat_registry.ex" in BLOCKS[2]
    assert BLOCKS[2].rstrip().endswith("conforms\n$ echo $?\n0")
    assert "does NOT conform" in BLOCKS[3] and "BACKEND-5 fails" in BLOCKS[3]
    for name in ("good_registry.py", "broken_registry.py"):
        assert (ROOT / "examples" / "conformance" / name).is_file()


@pytest.mark.spec("BACKEND-3", "BACKEND-5")
@pytest.mark.parametrize("block", BLOCKS, ids=["pass", "failure", "elixir-pass", "elixir-failure"])
def test_the_readme_commands_print_what_the_readme_shows(block):
    if "--beam" in block and not all(shutil.which(tool) for tool in ("erl", "erlc", "elixirc")):
        pytest.skip("Erlang/OTP or Elixir is not installed (erl, erlc, elixirc)")
    cwd, last = ROOT, None
    lines = block.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        command = lines[i]
        assert command.startswith("$ "), command
        args = shlex.split(command[2:])
        i += 1
        expected = []
        while i < len(lines) and not lines[i].startswith("$ "):
            expected.append(lines[i])
            i += 1
        if args[0] == "cd":
            cwd = cwd / args[1]
        elif args == ["echo", "$?"]:
            assert expected == [str(last.returncode)], last.stdout + last.stderr
        else:
            assert args[0] == "regspec"
            last = subprocess.run(regspec() + args[1:], cwd=cwd, capture_output=True, text=True, timeout=300)
            got = last.stdout.rstrip("\n").split("\n")
            assert len(got) == len(expected) and all(same(e, g) for e, g in zip(expected, got)), \
                "\n".join(got) + "\n" + last.stderr
