"""examples/my_backend: a via backend of one's own, added without touching the package.

It runs on the model, the runtime and the BEAM from the command line
(`--backend my_backend:BACKEND`, and the `regspec.backends` entry point) and
from Python (`backends.registered`), as the README shows, and prints what
the BEAM printed. A target with no leg for a backend refuses the run in one
line naming the step and the backend; a `--backend` that cannot be loaded
is refused at start.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import attrs
import pytest

from regspec import beam, targets
from regspec.common import backends
from regspec.generate import generate
from regspec.scenario import load, parse
from support import ROOT, load_json, needs_erl

EXAMPLES = ROOT / "examples"
SCENARIO = "my_backend/last-writer-wins.json"
EXPECTED = load_json(EXAMPLES / "my_backend" / "last-writer-wins.expected.json")
README = (ROOT / "README.md").read_text()


@pytest.fixture
def my_backend(monkeypatch):
    """The example's record, registered for one test (examples/ on the import path); the kind its
    model leg enters in the model's table of behaviours is gone after the test."""
    from regspec.model import behaviours

    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setattr(behaviours, "BEHAVIOURS", dict(behaviours.BEHAVIOURS))
    from my_backend import BACKEND
    with backends.registered(BACKEND):
        yield BACKEND


def regspec(*args, cwd=EXAMPLES, env=None):
    """The `regspec` command, run as a separate program."""
    return subprocess.run([sys.executable, "-m", "regspec.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env)


def readme_block(after: str, lang: str) -> str:
    """The first ```lang block of the README after the text `after`."""
    return _block(README.index(after), lang)[0]


def _block(start: int, lang: str) -> tuple[str, int]:
    m = re.compile(rf"^```{lang}\n(.*?)^```$", re.M | re.S).search(README, start)
    return m.group(1), m.end()


# -- the command line ---------------------------------------------------------------

@pytest.mark.parametrize("target", ["model", "impl", pytest.param("beam", marks=needs_erl)])
def test_the_command_line_runs_it_on_every_target(target):
    proc = regspec("run", SCENARIO, "--backend", "my_backend:BACKEND", "--on", target)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == EXPECTED


def test_the_readme_commands_run_as_shown():
    commands = readme_block("### Adding a backend", "sh").splitlines()
    assert commands[0] == "cd examples"
    for line in commands[1:]:
        args = line.split()
        assert args[0] == "regspec"
        if "beam" in args and not beam.available():
            continue
        proc = regspec(*args[1:])
        assert proc.returncode == 0, f"{line}\n{proc.stderr}"
        if args[1] == "run":
            assert json.loads(proc.stdout) == EXPECTED
        else:
            assert "agree on all 22 steps" in proc.stdout


def test_without_the_backend_the_scenario_is_malformed():
    proc = regspec("run", SCENARIO)
    assert proc.returncode == 2
    assert proc.stderr == (f"{SCENARIO}: step 2: 'name': unknown via backend \"my_registry\" (expected one of "
                           "map_registry, map_registry_nomonitor, unique_registry)\n")


@pytest.mark.parametrize("ref, message", [
    ("nosuch:BACKEND", "cannot import nosuch: ModuleNotFoundError: No module named 'nosuch'"),
    ("my_backend:NOPE", "module my_backend has no attribute NOPE"),
    ("my_backend:Path", "'my_backend:Path' is a type, not a backend record (regspec.common.backends.Backend)"),
    ("my_backend", "expected module:attr"),
    ("halfleg:BACKEND", "the model leg of via backend 'my_registry' ('my_backend.model_leg:LEG') lacks boot"),
    ("nofile:BACKEND", "the beam leg of via backend 'my_registry' is not a file: /nowhere/my_registry.erl"),
])
def test_a_backend_that_cannot_be_loaded_is_refused_in_one_line(tmp_path, ref, message):
    (tmp_path / "halfleg.py").write_text(textwrap.dedent("""
        import my_backend.model_leg
        from my_backend import BACKEND
        class Half:   # a model leg without the server functions
            register_name = unregister_name = whereis_name = send = start_server = keys = print
        my_backend.model_leg.LEG = Half()
    """))
    (tmp_path / "nofile.py").write_text("import attrs\nfrom my_backend import BACKEND as GOOD\n"
                                        "BACKEND = attrs.evolve(GOOD, beam='/nowhere/my_registry.erl')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = regspec("run", SCENARIO, "--backend", ref, env=env)
    assert proc.returncode == 2
    assert proc.stderr == f"regspec: --backend {ref}: {message}\n"


def _no_leg_module(tmp_path, leg: str) -> dict:
    (tmp_path / "noleg.py").write_text(f"import attrs\nfrom my_backend import BACKEND as GOOD\n"
                                       f"BACKEND = attrs.evolve(GOOD, {leg}=None)\n")
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


@pytest.mark.parametrize("target", ["model", "impl", "beam"])
def test_a_target_without_a_leg_refuses_the_run_naming_the_backend(tmp_path, target):
    env = _no_leg_module(tmp_path, target)
    proc = regspec("run", SCENARIO, "--backend", "noleg:BACKEND", "--on", target, env=env)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == f"{SCENARIO}: {target}: step 2 (register): via backend 'my_registry' has no {target} leg\n"


@needs_erl
def test_the_beam_driver_refuses_a_backend_it_was_not_given(my_backend):
    """The driver's own check: a step naming a backend missing from its table fails before step 0."""
    doc = load_json(EXAMPLES / SCENARIO)
    with pytest.raises(beam.BeamError) as e:
        beam.run_scenario(doc, backends=backends.BUILTIN)
    assert str(e.value) == 'step 2 (register): via backend "my_registry" has no beam leg in this run'
    assert e.value.step == 2
    doc["steps"].insert(0, {"op": "start", "kind": "supervisor", "children": [
        {"kind": "chat_room", "name": {"via": ["my_registry", "inner"]}}]})
    with pytest.raises(beam.BeamError, match=r'^step 0 \(start\): via backend "my_registry" has no beam leg'):
        beam.run_scenario(doc, backends=backends.BUILTIN)


def test_an_installed_package_registers_it_through_the_entry_point(tmp_path):
    dist = tmp_path / "my_backend-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text('[regspec.backends]\nmy_registry = my_backend:BACKEND\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(EXAMPLES)])}
    proc = regspec("run", SCENARIO, "--on", "model", env=env, cwd=EXAMPLES)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == EXPECTED
    (dist / "entry_points.txt").write_text('[regspec.backends]\nmy_registry = my_backend:nothing\n')
    proc = regspec("run", SCENARIO, "--on", "model", env=env, cwd=EXAMPLES)
    assert proc.returncode == 2
    assert proc.stderr == ("regspec: entry point my_registry = 'my_backend:nothing' (regspec.backends): cannot "
                           "load it: AttributeError: module 'my_backend' has no attribute 'nothing'\n")


# -- Python -------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["model", "impl", pytest.param("beam", marks=needs_erl)])
def test_the_python_api_runs_it_on_every_target(my_backend, target):
    assert targets.run(load(str(EXAMPLES / SCENARIO)), target) == EXPECTED


@needs_erl
def test_the_readme_python_example_prints_what_it_shows(monkeypatch):
    code, end = _block(README.index("`backends.registered(BACKEND)` for a block"), "python")
    shown, _ = _block(end, "")
    from regspec.model import behaviours

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(behaviours, "BEHAVIOURS", dict(behaviours.BEHAVIOURS))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue() == shown
    assert "my_registry" not in backends.names()   # registered for the block only


def test_the_readmes_record_is_the_examples():
    shown = readme_block("### Adding a backend", "python")
    source = (EXAMPLES / "my_backend" / "__init__.py").read_text()
    for line in shown.splitlines()[1:]:
        assert line.split("#")[0].strip() in source


RANDOM_BACKENDS = ("map_registry", "my_registry", "unique_registry")
RANDOM_SEEDS = range(12)   # two scenarios of each theme


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_the_model_and_the_runtime_agree_on_random_scenarios_through_it(my_backend, seed):
    from regspec.sessions import run_impl, run_model

    doc = generate(seed, otp=True, backends=RANDOM_BACKENDS)
    assert run_model(doc) == run_impl(doc), json.dumps(doc)


def test_the_random_scenarios_draw_it(my_backend):
    from regspec.scenario import backends_named

    drawn = [{b for _, _, b in backends_named(parse(generate(seed, otp=True, backends=RANDOM_BACKENDS)))}
             for seed in RANDOM_SEEDS]
    assert sum("my_registry" in d for d in drawn) >= len(RANDOM_SEEDS) // 2


# -- an Elixir beam leg -------------------------------------------------------------------

@needs_erl
@pytest.mark.skipif(shutil.which("elixirc") is None, reason="elixirc is not on PATH")
def test_a_beam_leg_may_be_elixir(tmp_path):
    """A backend without a server whose beam leg is an .ex file: names kept in :global under a tag."""
    source = tmp_path / "tagged_global.ex"
    source.write_text(textwrap.dedent("""
        defmodule :tagged_global do
          def register_name(name, pid), do: :global.register_name({:tagged, name}, pid)
          def unregister_name(name), do: :global.unregister_name({:tagged, name})
          def whereis_name(name), do: :global.whereis_name({:tagged, name})
          def send(name, msg), do: :global.send({:tagged, name}, msg)
        end
    """))
    record = backends.Backend("tagged_global", beam=source)
    doc = {"steps": [{"op": "spawn", "kind": "collector", "as": "c"},
                     {"op": "register", "name": {"via": ["tagged_global", "k"]}, "target": {"proc": "c"}},
                     {"op": "whereis", "name": {"via": ["tagged_global", "k"]}},
                     {"op": "whereis", "name": {"global": ["tagged", "k"]}}]}
    with backends.registered(record):
        results = targets.run(parse(doc), "beam")
    assert [r["result"] for r in results] == [{"pid": "P1"}, "yes", {"pid": "P1"}, {"pid": "P1"}]
    assert attrs.evolve(record, beam=None).beam is None
