"""The command line: good input prints one result per step; bad input is refused clearly (SCN-6)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from support import needs_erl


def regspec(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "regspec.cli", *args], capture_output=True, text=True, cwd=cwd)


def write(tmp_path, text, name="s.json"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


CHAT = {"steps": [
    {"op": "start", "kind": "chat_room", "name": {"local": "room1"}},
    {"op": "cast", "to": {"local": "room1"}, "msg": ["add_message", {"str": "hi"}]},
    {"op": "call", "to": {"local": "room1"}, "msg": "get_messages"},
]}


@pytest.mark.spec("SCN-3")
def test_run_on_model_prints_canonical_results(tmp_path):
    path = write(tmp_path, json.dumps(CHAT))
    proc = regspec("run", path, "--on", "model")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [
        {"step": 0, "result": {"ok": {"pid": "P1"}}},
        {"step": 1, "result": "ok"},
        {"step": 2, "result": [{"str": "hi"}]},
    ]


BAD = [
    ("{not json", r"^FILE: invalid JSON at line 1 column 2: .+$"),
    ('{"steps": [{"op": "teleport"}]}', r'^FILE: step 0: unknown op "teleport"$'),
    ('{"steps": [{"op": "whereis"}]}', r"^FILE: step 0: whereis: missing field 'name'$"),
    ('{"steps": [{"op": "kill", "target": {"proc": "ghost"}}]}',
     r"^FILE: step 0: 'target': unbound proc 'ghost' \(no earlier step binds it with \"as\"\)$"),
    ('{"steps": [{"op": "registered"}, {"op": "register", "name": {"local": ["a", 1]}, "target": {"pid": "P0"}}]}',
     r"^FILE: step 1: 'name': a local name must be an atom \(a JSON string\), got: \[\"a\", 1\]$"),
    ('{"steps": [{"op": "spawn", "kind": "collector", "mode": "lazy"}]}',
     r"^FILE: step 0: 'mode' must be \"eager\" or \"mailbox\", got: \"lazy\"$"),
    ('{"steps": [], "extra": 1}', r"^FILE: unknown top-level field 'extra'$"),
    ('{"steps": [{"op": "start", "kind": "rocket"}]}', r"^FILE: step 0: 'kind': unknown kind \"rocket\" .+$"),
    ('{"steps": [{"op": "send", "to": 42, "msg": "x"}]}', r"^FILE: step 0: 'to': expected a proc, pid or name, got: 42$"),
    ('[1, 2]', r"^FILE: a scenario is a JSON object, got: \[1, 2\]$"),
    # registry_keys' "registry" may be a backend's name, but only a known one.
    ('{"steps": [{"op": "spawn", "as": "c", "kind": "collector"}, '
     '{"op": "registry_keys", "registry": "chat_registry", "target": {"proc": "c"}}]}',
     r"^FILE: step 1: 'registry': unknown backend \"chat_registry\" \(expected one of map_registry, "
     r"map_registry_nomonitor, unique_registry, or a proc, pid or name of a registry server\)$"),
    ('{"steps": [{"op": "spawn", "as": "c", "kind": "collector"}, '
     '{"op": "registry_keys", "registry": ["map_registry"], "target": {"proc": "c"}}]}',
     r"^FILE: step 1: 'registry': expected a proc, pid or name, got: \[\"map_registry\"\]$"),
    ('{"steps": [{"op": "registry_keys", "registry": "map_registry", "target": "map_registry"}]}',
     r"^FILE: step 0: 'target': expected a proc, pid or name, got: \"map_registry\"$"),
    # unregister may name the process that drops the name, but it must be one.
    ('{"steps": [{"op": "unregister", "name": {"via": ["unique_registry", "k"]}, "target": 42}]}',
     r"^FILE: step 0: 'target': expected a proc or pid, got: 42$"),
    ('{"steps": [{"op": "spawn", "kind": "collector", "as": "c"}, '
     '{"op": "register", "name": {"global": "g"}, "target": {"local": "box"}}]}',
     r"^FILE: step 1: 'target': expected a proc or pid, got: \{\"local\": \"box\"\}$"),
    ('{"steps": [{"op": "spawn", "kind": "collector", "as": "c"}, '
     '{"op": "monitor", "watcher": {"local": "box"}, "target": {"proc": "c"}}]}',
     r"^FILE: step 1: 'watcher': expected a proc or pid, got: \{\"local\": \"box\"\}$"),
    ('{"steps": [{"op": "unregister", "name": {"via": ["unique_registry", "k"]}, "target": {"proc": "ghost"}}]}',
     r"^FILE: step 0: 'target': unbound proc 'ghost' \(no earlier step binds it with \"as\"\)$"),
    ('{"steps": [{"op": "unregister", "name": {"via": ["unique_registry", "k"]}, "holder": {"pid": "P0"}}]}',
     r"^FILE: step 0: unregister: unknown field 'holder'$"),
    # Hostile input gets a reason, never a traceback.
    ('{"steps": [{"op": "send", "to": {"local": "x"}, "msg": ' + "[" * 600 + "]" * 600 + '}]}',
     r"^FILE: step 0: a value is nested more than 100 levels deep$"),
    ('{"steps": [{"op": "send", "to": {"local": "x"}, "msg": ' + "[" * 5000 + "]" * 5000 + '}]}',
     r"^FILE: invalid JSON: nested too deeply$"),
    ('{"steps": [{"op": "send", "to": {"local": "x"}, "msg": ' + "9" * 5000 + '}]}', r"^FILE: invalid JSON: .*digits.*$"),
    ('{"steps": [{"op": "call", "to": {"local": "x"}, "msg": 1, "timeout": 4294967296}]}',
     r"^FILE: step 0: 'timeout' must be an integer of ms from 0 to 4294967295 .+$"),
    ('{"steps": [{"op": "start", "kind": "supervisor", "strategy": "one_for_none"}]}',
     r"^FILE: step 0: start.strategy: expected one of one_for_one, one_for_all, rest_for_one, got: \"one_for_none\"$"),
    ('{"steps": [{"op": "start", "kind": "dynamic_supervisor", "impl": "Horde"}]}',
     r"^FILE: step 0: start.impl: expected one of DynamicSupervisor, simple_one_for_one, got: \"Horde\"$"),
    ('{"steps": [{"op": "start", "kind": "dynamic_supervisor", "impl": "simple_one_for_one"}]}',
     r"^FILE: step 0: start: a simple_one_for_one supervisor needs its 'child' template$"),
    ('{"steps": [{"op": "start", "kind": "supervisor", "children": [{"kind": "chat_room", "shutdown": "soon"}]}]}',
     r"^FILE: step 0: 'children'\[0\].shutdown: expected milliseconds, \"brutal_kill\" or \"infinity\", got: \"soon\"$"),
    ('{"steps": [{"op": "start", "kind": "supervisor", "children": [{"kind": "supervisor", "children": 5}]}]}',
     r"^FILE: step 0: 'children'\[0\].children: must be an array of child specs, got: 5$"),
    ('{"steps": [{"op": "start", "kind": "supervisor", "children": [{"kind": "chat_room", "name": {"local": {"arg": 0}}}]}]}',
     r"^FILE: step 0: 'children'\[0\].name: \{'arg': n\} is allowed only inside a dynamic supervisor's child template$"),
    ('{"steps": [{"op": "start", "kind": "registry_server", "backend": "map_registry_nomonitor", '
     '"name": {"via": ["map_registry_nomonitor", "w"]}}]}',
     r"^FILE: step 0: start: a registry_server cannot be named through its own backend \"map_registry_nomonitor\"$"),
    ('{"steps": [{"op": "spawn", "kind": "collector", "as": "c"}, '
     '{"op": "global_register", "name": "g", "target": {"local": "c"}}]}',
     r"^FILE: step 1: 'target': expected a proc or pid, got: \{\"local\": \"c\"\}$"),
]


def test_invalid_utf8_is_refused_with_exit_2(tmp_path):
    path = tmp_path / "s.json"
    path.write_bytes(b'{"steps": [{"op": "whereis", "name": {"local": "x\xff"}}]}')
    proc = regspec("run", str(path), "--on", "model")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"{path}: not UTF-8 text: byte 49 cannot be decoded"


def test_an_internal_error_names_the_step_in_one_line(tmp_path, monkeypatch):
    """A bug of regspec's inside a target is no Erlang result: one line names the step, exit 1."""
    from regspec import cli
    from regspec.model import driver

    def broken(world, cmd):
        raise KeyError("planted")
    monkeypatch.setitem(driver._COMMAND_FUNCS, driver.Registered, broken)
    path = write(tmp_path, json.dumps({"steps": [{"op": "whereis", "name": {"local": "x"}}, {"op": "registered"}]}))
    with pytest.raises(SystemExit) as exit:
        cli.main(["run", path, "--on", "model"])
    assert exit.value.code == 1


def test_an_internal_error_prints_one_line(tmp_path, capsys, monkeypatch):
    from regspec import cli
    from regspec.model import driver

    monkeypatch.setitem(driver._COMMAND_FUNCS, driver.Registered, lambda world, cmd: {}["planted"])
    path = write(tmp_path, json.dumps({"steps": [{"op": "whereis", "name": {"local": "x"}}, {"op": "registered"}]}))
    with pytest.raises(SystemExit):
        cli.main(["run", path, "--on", "model"])
    err = capsys.readouterr().err
    assert err == f"{path}: model: step 1 (registered): internal error: KeyError: 'planted'\n"


def test_a_failed_beam_run_prints_one_line_naming_the_step(tmp_path, capsys, monkeypatch):
    from regspec import beam, cli, targets

    def failing(doc, **kw):
        raise beam.BeamError("step 1 (stop): the VM died", step=1, detail="stderr...\nmore lines")
    monkeypatch.setattr(beam, "run_scenario", failing)
    monkeypatch.setattr(targets, "available", lambda target: True)
    monkeypatch.setattr(beam, "available", lambda: True)
    path = write(tmp_path, json.dumps(CHAT))
    with pytest.raises(SystemExit) as exit:
        cli.main(["run", path, "--on", "beam"])
    assert exit.value.code == 1
    assert capsys.readouterr().err == f"{path}: beam: step 1 (stop): the VM died\n"


@pytest.mark.spec("SCN-6")
@pytest.mark.parametrize("text, pattern", BAD)
@pytest.mark.parametrize("command", [["run", "--on", "model"], ["diff", "--on", "model", "--against", "model"]])
def test_malformed_scenario_is_refused_with_exit_2(tmp_path, text, pattern, command):
    import re
    path = write(tmp_path, text)
    proc = regspec(command[0], path, *command[1:])
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert re.match(pattern.replace("FILE", re.escape(path)), proc.stderr.strip()), proc.stderr


@pytest.mark.spec("SCN-6", "VIA-4", "VIA-7")
def test_registry_named_by_backend_and_unregister_by_its_holder_are_accepted(tmp_path):
    """The contract lets registry_keys name a backend (its current server) and lets
    unregister say which collector drops a unique_registry name."""
    doc = {"steps": [
        {"op": "spawn", "as": "c", "kind": "collector"},
        {"op": "register", "name": {"via": ["unique_registry", "k"]}, "target": {"proc": "c"}},
        {"op": "registry_keys", "registry": "unique_registry", "target": {"proc": "c"}},
        {"op": "unregister", "name": {"via": ["unique_registry", "k"]}, "target": {"proc": "c"}},
        {"op": "registry_keys", "registry": "unique_registry", "target": {"proc": "c"}},
        {"op": "registry_keys", "registry": "map_registry", "target": {"pid": "P1"}},
        {"op": "registry_keys", "registry": "map_registry_nomonitor", "target": {"proc": "c"}},
        {"op": "unregister", "name": {"local": "box"}, "target": {"pid": "P1"}},
    ]}
    proc = regspec("run", write(tmp_path, json.dumps(doc)), "--on", "model")
    assert proc.returncode == 0, proc.stderr
    assert [{"pid": "P1"}, "yes", ["k"], "ok", [], [], [], {"error": "badarg"}] == \
        [r["result"] for r in json.loads(proc.stdout)]


def test_missing_file_is_refused_with_exit_2(tmp_path):
    proc = regspec("run", str(tmp_path / "nope.json"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_target_is_refused_with_exit_2(tmp_path):
    proc = regspec("run", write(tmp_path, json.dumps(CHAT)), "--on", "mars")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


@pytest.mark.spec("SCN-7")
def test_steps_beyond_the_model_answer_unsupported(tmp_path):
    doc = {"steps": [{"op": "partition", "nodes": [["a"], ["b"]]},
                     {"op": "whereis", "name": {"via": ["map_registry", "x"]}},
                     {"op": "whereis", "name": {"local": "x"}}]}
    proc = regspec("run", write(tmp_path, json.dumps(doc)))
    assert proc.returncode == 0, proc.stderr
    assert [r["result"] for r in json.loads(proc.stdout)] == [
        {"unsupported": "partition"}, "undefined", "undefined"]


def test_diff_of_a_target_with_itself_agrees(tmp_path):
    proc = regspec("diff", write(tmp_path, json.dumps(CHAT)), "--on", "model", "--against", "model")
    assert proc.returncode == 0 and "agree on all 3 steps" in proc.stdout


@needs_erl
def test_diff_reports_a_disagreement_with_exit_1(tmp_path):
    # A documented difference (SPEC.md, "Big dynamic supervisors"): past 32 children the BEAM's
    # map of children is no longer in pid order, the model's list still is.
    steps = [{"op": "start", "as": "sup", "kind": "dynamic_supervisor", "child": {"kind": "collector"}}]
    steps += [{"op": "start_child", "sup": {"proc": "sup"}, "spec": []} for _ in range(40)]
    steps.append({"op": "which_children", "sup": {"proc": "sup"}})
    proc = regspec("diff", write(tmp_path, json.dumps({"steps": steps})), "--on", "model", "--against", "beam")
    assert proc.returncode == 1
    assert "model and beam differ at 1 step(s)" in proc.stdout
    assert 'step 41 (which_children): model: [["undefined", {"pid": "P2"}, "worker"]' in proc.stdout


REFUSED = sorted((__import__("support").ROOT / "tests" / "refused").glob("*.json"))


@pytest.mark.spec("SCN-6")
@pytest.mark.parametrize("path", REFUSED, ids=lambda p: p.stem)
def test_refused_corpus_files_are_refused_before_running(path):
    doc = json.loads(path.read_text())
    step = re.search(r"step (\d+)", doc["doc"]).group(1)
    for command in (["run", str(path), "--on", "model"], ["diff", str(path)]):
        proc = regspec(*command)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.startswith(f"{path}: step {step}: ")


def test_a_crash_in_the_runtimes_own_code_names_the_step(monkeypatch):
    """A Python exception inside a runtime process is a bug of regspec's, never an Erlang exit."""
    from regspec import impl, targets
    from regspec.scenario import parse

    def broken(ctx, callbacks, state):
        raise ValueError("planted")
    monkeypatch.setattr(impl.behaviours.gen_server, "serve", broken)
    doc = {"steps": [{"op": "spawn", "kind": "collector"}, {"op": "start", "kind": "chat_room"}]}
    with pytest.raises(targets.TargetFailed) as failed:
        targets.run(parse(doc), "impl")
    assert str(failed.value).startswith("step 1 (start): internal error: RuntimeError: process P2 crashed "
                                        "in regspec's code: ValueError('planted')")
