"""The conformance kit on the BEAM (`regspec conformance --beam FILE`, `--on beam`; regspec.conformance_beam):
the good backends pass in their class on real Erlang/OTP, the article's Chat.Registry (Elixir) passes, the
one without monitors fails exactly BACKEND-5 with a short counterexample, and bad usage is one line, exit 2.

One VM per scenario (about 0.3 s), so the budget here is small (EXAMPLES per rule) and the seed fixed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from regspec import cli, conformance, conformance_beam

pytestmark = pytest.mark.skipif(not (shutil.which("erl") and shutil.which("erlc") and shutil.which("elixirc")),
                                reason="the BEAM checks need erl, erlc and elixirc on PATH")

ROOT = Path(__file__).resolve().parent.parent
CHAT = ROOT / "examples" / "chat_registry"
SEED = 1
EXAMPLES = 4


@pytest.mark.spec("BACKEND-1", "BACKEND-2", "BACKEND-3", "BACKEND-4", "BACKEND-5", "BACKEND-6")
@pytest.mark.parametrize("target, window", [("map_registry", "down"), ("unique_registry", "none"),
                                            (str(CHAT / "chat_registry.ex"), "down")],
                         ids=["map_registry", "unique_registry", "Chat.Registry"])
def test_the_good_backends_conform_on_the_beam_in_their_class(target, window):
    verdict = conformance_beam.check(target, window=window, examples=EXAMPLES, seed=SEED)
    assert verdict.profile.window == window
    assert verdict.conforms, conformance.render(verdict)
    assert [r.verdict for r in verdict.rules] == ["pass"] * 6
    assert all(r.examples > 0 for r in verdict.rules)


@pytest.mark.spec("BACKEND-5", "VIA-3")
def test_the_chat_registry_without_monitors_fails_exactly_the_dead_holder_rule():
    verdict = conformance_beam.check(CHAT / "chat_registry_nomonitor.ex", window="down", examples=EXAMPLES,
                                     seed=SEED)
    assert verdict.failed() == {"BACKEND-5"}, conformance.render(verdict)
    (failure,) = verdict.failures
    assert failure.size <= 6
    assert failure.scenario["steps"][failure.step]["op"] == "whereis"
    assert failure.model == "undefined" and failure.subject != failure.model
    assert "chat_registry" in conformance.render(verdict)


@pytest.mark.spec("BACKEND-1", "BACKEND-4")
def test_the_articles_send_is_a_one_line_report_naming_send():
    # The article's send/2 returns {:badarg, {name, msg}} for a free name instead of exiting.
    verdict = conformance_beam.check(CHAT / "chat_registry_article_send.ex", window="down", seed=SEED)
    assert verdict.failed() == {"BACKEND-4"}
    (failure,) = verdict.failures
    assert failure.violation.function == "send"
    assert str(failure.violation) == ("send returned {badarg,{regspec_probe,{regspec_probe,hello}}} (expected an exit "
                                      "{badarg, {Name, Msg}} or error badarg (a free name)): breaks BACKEND-4")


@pytest.mark.spec("BACKEND-1")
def test_a_module_missing_functions_is_reported_before_any_vm_runs(tmp_path):
    src = tmp_path / "half.erl"
    src.write_text("-module(half).\n-export([register_name/2, send/2]).\n"
                   "register_name(_, _) -> yes.\nsend(_, _) -> ok.\n")
    verdict = conformance_beam.check(src, seed=SEED)
    assert verdict.failed() == {"BACKEND-1"}
    assert [str(f.violation) for f in verdict.failures] == [
        f"{f} is missing (expected a function of the via protocol): breaks BACKEND-1"
        for f in ("unregister_name/1", "whereis_name/1")]


@pytest.mark.spec("BACKEND-1")
def test_a_start_link_that_fails_is_a_report_naming_it(tmp_path):
    src = tmp_path / "nostart.erl"
    src.write_text("-module(nostart).\n-export([start_link/0, register_name/2, unregister_name/1, "
                   "whereis_name/1, send/2]).\nstart_link() -> {error, no_database}.\n"
                   "register_name(_, _) -> yes.\nunregister_name(_) -> ok.\nwhereis_name(_) -> undefined.\n"
                   "send(_, _) -> ok.\n")
    verdict = conformance_beam.check(src, seed=SEED)
    assert verdict.failed() == {"BACKEND-1"}
    (failure,) = verdict.failures
    assert str(failure.violation) == ("start_link answered {error,no_database} (expected {ok, Pid}): "
                                      "breaks BACKEND-1")


def test_the_cli_checks_a_file_on_the_beam(capsys):
    assert cli.main(["conformance", "--beam", str(CHAT / "chat_registry_article_send.ex"), "--seed", "1"]) == 1
    out = capsys.readouterr().out
    assert "chat_registry = Elixir.Chat.Registry of chat_registry_article_send.ex, on the beam" in out
    assert "send returned {badarg," in out and "does NOT conform" in out


@pytest.mark.parametrize("args, message", [
    (["--beam", "no/such/file.ex"], "--beam no/such/file.ex: no such file"),
    (["--beam", "README.md"], "expected an Erlang (.erl) or Elixir (.ex) source file"),
    (["map_registry", "--beam", "x.erl"], "give a TARGET or --beam FILE, not both"),
    (["map_registry_nomonitor_missing", "--on", "beam"], "no via backend"),
])
def test_bad_usage_is_one_line_and_exit_2(args, message, capsys):
    assert cli.main(["conformance", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_file_that_does_not_compile_is_one_line_and_exit_2(tmp_path, capsys):
    for name, text in (("broken.ex", "defmodule Broken do\n  def f( do\nend\n"),
                       ("broken.erl", "-module(broken).\nf( -> ok.\n")):
        (tmp_path / name).write_text(text)
        assert cli.main(["conformance", "--beam", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("elixirc failed" in err or "erlc failed" in err), err
