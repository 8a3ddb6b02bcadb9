"""The beam target: run a scenario on real Erlang/OTP and read its results.

Real OTP is the ground truth of regspec. This module stays dumb: it turns
the scenario's JSON document into Erlang term text as is (object -> map
with binary keys, string -> binary, array -> list, number -> number,
true/false/null -> atoms), runs ``driver.erl`` in a fresh VM with one
scheduler (``+S 1:1``: reproducible), and parses the JSON the driver
prints. DRIVER.md says how the driver executes each op.

The via backends of a run are those registered in
``regspec.common.backends`` that have a beam leg: their sources are
compiled with the driver's, and the driver gets their table (name, module,
traits). A step naming any other backend fails the run before step 0.

Example::

    >>> from regspec import beam
    >>> beam.run_scenario({"steps": [{"op": "spawn", "kind": "collector"},
    ...                              {"op": "registered"}]})  # doctest: +SKIP
    [{'step': 0, 'result': {'pid': 'P1'}}, {'step': 1, 'result': []}]
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from regspec.common import backends as _backends

__all__ = ["BeamError", "available", "run_scenario", "run_main"]

_SOURCE_DIR = Path(__file__).resolve().parent
_DEFAULT_ELIXIR_EBIN = Path("/usr/lib/elixir/lib/elixir/ebin")


class BeamError(RuntimeError):
    """erl or erlc failed, crashed, timed out or printed no valid result.

    ``str(e)`` is one line: ``step 5 (stop): <reason>`` when the driver
    named the step, else what went wrong. ``e.step`` is that step's index
    (None when unknown) and ``e.detail`` the full stderr and stdout.

    >>> e = BeamError.from_output(2, "regspec beam: step 5 (stop): boom\\n", "")
    >>> str(e), e.step
    ('step 5 (stop): boom', 5)
    """

    _LIMIT = 400     # characters of a reason kept in the one-line message

    def __init__(self, message: str, *, detail: str = "", step: int | None = None):
        line = " ".join(message.split())
        if len(line) > self._LIMIT:
            line = line[:self._LIMIT] + " ..."
        super().__init__(line)
        self.detail = detail or message
        self.step = step

    @classmethod
    def from_output(cls, status: int, stderr: str, stdout: str) -> BeamError:
        """The error of a VM that exited with `status`."""
        detail = f"erl exited with status {status}; stderr:\n{stderr}\nstdout:\n{stdout}"
        m = _STEP_LINE.search(stderr)
        if m:
            # The watchdog's line goes on with the driver's stack: in detail.
            reason = m.group("reason").split("; the driver is at ")[0]
            return cls(f"step {m.group('step')} ({m.group('op')}){reason}",
                       detail=detail, step=int(m.group("step")))
        first = next((line for line in stderr.splitlines() if line.strip()), "no stderr")
        return cls(f"erl exited with status {status}: {first.removeprefix('regspec beam: ')}",
                   detail=detail)


# The driver's "regspec beam: step N (op): reason" and the watchdog's
# "regspec beam: step N (op) did not finish within ...".
_STEP_LINE = re.compile(r"^regspec beam: step (?P<step>\d+) \((?P<op>[^)]*)\)(?P<reason>.*)$",
                        re.MULTILINE)


def available() -> bool:
    """Whether ``erl`` and ``erlc`` are on PATH."""
    return shutil.which("erl") is not None and shutil.which("erlc") is not None


def run_scenario(scenario: dict, *, timeout: float = 120.0, backends=None) -> list[dict]:
    """Run one well-formed scenario document on a fresh BEAM.

    Args:
        scenario: the parsed JSON document (``steps``, maybe ``nodes``,
            ``name``, ``doc``); it is not validated here.
        timeout: seconds the whole VM run may take.
        backends: the via backends the run knows (``Backend`` records);
            default: every registered one that has a beam leg.

    Returns:
        ``[{"step": 0, "result": ...}, ...]``, one entry per step, in the
        canonical output form of the scenario contract.

    Raises:
        BeamError: erl is missing, compiling failed, or the VM crashed,
            timed out or printed something that is not the expected JSON;
            a step names a via backend the run has no beam leg for.
    """
    stdout, stderr = run_main("driver", [scenario], timeout=timeout, backends=backends)
    detail = f"stdout:\n{stdout}\nstderr:\n{stderr}"
    try:
        results = json.loads(stdout)
    except ValueError:
        raise BeamError(f"erl printed no valid JSON: {stdout[:200]!r}", detail=detail) from None
    if not isinstance(results, list) or len(results) != len(scenario["steps"]):
        raise BeamError(f"erl printed an unexpected result: {stdout[:200]}", detail=detail)
    return results


def run_main(module: str, terms: list, *, timeout: float = 120.0, backends=None,
             schedulers: str | None = "1:1") -> tuple[str, str]:
    """Run ``module:main([File])`` in a fresh VM, File holding `terms` (JSON values written as
    the driver reads them), then the table of the run's via backends; stdout and stderr of a
    run that exited 0.

    The driver (`run_scenario`) and the conformance kit's contention run (``regspec_contend``,
    `regspec.conformance_beam`) are run this way. `schedulers` is erl's ``+S`` (None: erl's
    default, one per core).

    Raises:
        BeamError: compiling failed, or the VM exited non-zero or timed out.
    """
    if backends is None:
        backends = [b for b in _backends.all_backends() if b.beam is not None]
    backends = [b for b in backends if b.beam is not None]
    ebin = _compiled(tuple(backends))
    table = [{"name": b.name, "module": b.beam_module, "server": b.server, "self_register": b.self_register,
              "server_type": b.server_type} for b in backends]
    fd, term_file = tempfile.mkstemp(prefix="regspec-scenario-", suffix=".term")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            for term in [*terms, table]:
                f.write(_to_erlang(term))
                f.write(".\n")
        cmd = [
            "erl", "-noshell", "-noinput",
            *(["+S", schedulers] if schedulers else []),
            # No busy-waiting schedulers: parallel runs share the cores.
            "+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none",
            "-kernel", "logger_level", "none",
            "-pa", str(ebin), "-pa", str(_elixir_ebin()),
            "-run", module, "main", term_file,
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise BeamError(f"erl timed out after {timeout} s",
                            detail=f"erl timed out after {timeout} s; stderr:\n"
                                   f"{_text(e.stderr)}") from None
        except OSError as e:
            raise BeamError(f"cannot run erl: {e}") from None
    finally:
        os.unlink(term_file)
    stdout, stderr = _text(proc.stdout), _text(proc.stderr)
    if proc.returncode != 0:
        raise BeamError.from_output(proc.returncode, stderr, stdout)
    return stdout, stderr


def _to_erlang(value) -> str:
    """Erlang term text for a JSON value, kept generic (no contract meaning).

    >>> _to_erlang({"op": "send", "msg": ["hi", {"str": "r\\u00e9"}, 1, True, None]})
    '#{<<"op">> => <<"send">>, <<"msg">> => [<<"hi">>, #{<<"str">> => <<"r\\\\x{e9}"/utf8>>}, 1, true, null]}'
    """
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no Erlang term for the number {value!r}")
        mantissa, e, exponent = repr(value).partition("e")
        if "." not in mantissa:
            mantissa += ".0"        # Erlang floats need digits after a point
        return mantissa + e + exponent
    if isinstance(value, str):
        return _binary(value)
    if isinstance(value, list):
        return "[" + ", ".join(_to_erlang(v) for v in value) + "]"
    if isinstance(value, dict):
        return "#{" + ", ".join(f"{_binary(k)} => {_to_erlang(v)}"
                                for k, v in value.items()) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


def _binary(s: str) -> str:
    out = []
    ascii_only = True
    for ch in s:
        c = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= c < 0x7F:
            out.append(ch)
        else:
            ascii_only = ascii_only and c < 0x80
            out.append(f"\\x{{{c:x}}}")
    body = "".join(out)
    return f'<<"{body}">>' if ascii_only else f'<<"{body}"/utf8>>'


def _text(b) -> str:
    if b is None:
        return ""
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else b


# Compiling ---------------------------------------------------------------

_compiled_dirs: dict[tuple, Path] = {}


def _compiled(backends: tuple = ()) -> Path:
    """The folder of compiled beams: the driver's sources and the backends' beam legs (``.erl``
    with erlc, ``.ex`` with elixirc), compiled once per hash of them all."""
    sources = sorted(_SOURCE_DIR.glob("*.erl"))
    own = {src.stem for src in sources}
    legs = []
    for b in backends:
        path = Path(b.beam).resolve()
        if path in sources or path in legs:
            continue
        if path.suffix not in (".erl", ".ex") or not path.is_file():
            raise BeamError(f"the beam leg of via backend {b.name!r} is not an .erl or .ex file: {b.beam}")
        if b.beam_module in own:
            raise BeamError(f"the beam leg of via backend {b.name!r} defines module {b.beam_module}, "
                            f"which the driver has already")
        legs.append(path)
    key = (tuple(sources), tuple(legs), tuple((b.name, b.beam_module) for b in backends))
    cached = _compiled_dirs.get(key)
    if cached is not None and cached.is_dir():
        return cached
    if not available():
        raise BeamError("erl and erlc are not on PATH")
    tools = ["erl", "erlc"] + (["elixirc"] if any(p.suffix == ".ex" for p in legs) else [])
    digest = hashlib.sha256()
    for tool in tools:
        found = shutil.which(tool)
        if found is None:
            raise BeamError(f"{tool} is not on PATH")
        path = os.path.realpath(found)
        digest.update(f"{path}:{os.stat(path).st_mtime_ns}\n".encode())
    for src in sources + legs:
        digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    root = Path(os.environ.get("REGSPEC_CACHE")
                or Path.home() / ".cache" / "regspec") / "beam"
    final = root / digest.hexdigest()[:20]
    if not final.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
        try:
            erls = [*sources, *(p for p in legs if p.suffix == ".erl")]
            _compile(["erlc", "-o", str(tmp), *map(str, erls)], "erlc")
            for ex in (p for p in legs if p.suffix == ".ex"):
                _compile(["elixirc", "--ignore-module-conflict", "-o", str(tmp), str(ex)], "elixirc")
            for b in backends:
                if not (tmp / f"{b.beam_module}.beam").is_file():
                    raise BeamError(f"the beam leg of via backend {b.name!r} ({b.beam}) defines no module "
                                    f"{b.beam_module}")
            os.chmod(tmp, 0o755)
            try:
                os.rename(tmp, final)      # atomic; loses to a concurrent winner
            except OSError:
                if not final.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    _compiled_dirs[key] = final
    return final


def _compile(cmd: list[str], tool: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        out = _text(proc.stdout) + _text(proc.stderr)
        first = next((line for line in out.splitlines() if line.strip()), "")
        raise BeamError(f"{tool} failed: {first}", detail=f"{tool} failed:\n{out}")


_ebin_cache: Path | None = None


def _elixir_ebin() -> Path:
    """Elixir's ebin folder ($REGSPEC_ELIXIR_EBIN, Debian's, or asked of elixir)."""
    global _ebin_cache
    if _ebin_cache is None:
        env = os.environ.get("REGSPEC_ELIXIR_EBIN")
        if env:
            _ebin_cache = Path(env)
        elif _DEFAULT_ELIXIR_EBIN.is_dir():
            _ebin_cache = _DEFAULT_ELIXIR_EBIN
        else:
            try:
                out = subprocess.run(
                    ["elixir", "-e", "IO.puts(:code.lib_dir(:elixir))"],
                    capture_output=True, timeout=60, check=True).stdout
            except (OSError, subprocess.SubprocessError) as e:
                raise BeamError(f"cannot find Elixir's ebin folder: {e}") from None
            _ebin_cache = Path(out.decode().strip()) / "ebin"
    return _ebin_cache
