"""impl/ stands in layers with no import circle.

The threaded runtime has two layers and the session glue on top:

- the process layer (erts): the runtime and its scheduler, the process
  record and its `Context`, signals, mailboxes, local names, the driver P0,
  the invariants, and the collector (a test process that uses only BIFs);
- the OTP library above it: gen, gen_server, supervisors, global and via
  names, the behaviours (the chat room), the kind table and the kinds, and
  the driver's steps that go through OTP code;
- `regspec.impl` itself (impl/__init__.py), the session glue.

The process layer never imports the library (nor the glue), at module
level or inside a function: where it needs library behaviour, the library
adds an entry to a table the lower layer owns (`collector.BODIES`,
`kind_table.START`), or passes a function in; a via backend's leg is
named by the neutral backend registry (`regspec.common.backends`). And no
module of impl/ reaches itself again through its imports.

The import graph is read from the source with `ast`: module-level and
function-level imports (and those under `if TYPE_CHECKING:`), relative and
absolute, `from . import x`, `from .x import y`, `import regspec.impl.x`,
`from regspec.impl import x`, and `importlib.import_module("regspec.impl.x")`.
"""

from __future__ import annotations

import ast

import pytest

from support import ROOT, find_cycle as support_find_cycle

IMPL_DIR = ROOT / "impl"
PACKAGE = "regspec.impl"

ERTS = {f"{PACKAGE}.{m}" for m in (
    "runtime", "process", "pcb", "signals", "mailbox", "registry_local", "driver", "invariants", "collector")}
LIBRARY = {f"{PACKAGE}.{m}" for m in (
    "gen_server", "gen", "registry_global", "registry_via", "registry_redis", "kind_table", "supervisor", "dynamic_supervisor",
    "behaviours", "kinds", "driver_names", "observe")}
GLUE = {PACKAGE}
LAYER = {**{m: "erts" for m in ERTS}, **{m: "library" for m in LIBRARY}, **{m: "glue" for m in GLUE}}
MAY_IMPORT = {"erts": {"erts"}, "library": {"erts", "library"}, "glue": {"erts", "library"}}


def module_name(path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def sources(planted: dict[str, str] | None = None) -> dict[str, str]:
    """Each module of impl/ by its dotted name, with `planted` lines appended to the named modules."""
    out = {module_name(p): p.read_text(encoding="utf-8") for p in sorted(IMPL_DIR.glob("*.py"))}
    for module, line in (planted or {}).items():
        out[module] = out.get(module, "") + "\n\n" + line + "\n"
    return out


def _resolve(importer: str, level: int, module: str | None) -> str:
    """The absolute name a `from ... import` starts from."""
    if level == 0:
        return module or ""
    # impl/ is flat: every module's package is regspec.impl (the package's own __init__ included).
    base = PACKAGE.split(".")
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imports_of(importer: str, source: str, modules: set[str]) -> set[tuple[str, int]]:
    """(module of impl/, line) for every import in `source` that reaches one, at any depth."""
    found: set[tuple[str, int]] = set()

    def reach(name: str, line: int) -> None:
        # `import regspec.impl.x.y` loads regspec.impl.x; the longest known prefix is the target.
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            candidate = ".".join(parts[:i])
            if candidate in modules:
                found.add((candidate, line))
                return

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                reach(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(importer, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                reach(sub if sub in modules else base, node.lineno)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            fn = node.func
            called = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else None
            if called in ("import_module", "__import__"):
                reach(node.args[0].value, node.lineno)
    return found


def graph(planted: dict[str, str] | None = None) -> dict[str, set[tuple[str, int]]]:
    """importer -> {(imported module of impl/, line)}."""
    src = sources(planted)
    modules = set(src)
    return {m: imports_of(m, s, modules) for m, s in src.items()}


def edges(g: dict) -> dict[str, set[str]]:
    return {m: {t for t, _ in targets} for m, targets in g.items()}


def find_cycle(g: dict) -> list[str]:
    """One import circle as [a, b, ..., a], or [] when there is none."""
    return support_find_cycle(edges(g))


def layer_violations(g: dict) -> list[str]:
    """Every import of a layer the importer may not use, as 'importer (layer) line N: target (layer)'."""
    out = []
    for importer, targets in sorted(g.items()):
        for target, line in sorted(targets):
            if LAYER.get(target) not in MAY_IMPORT.get(LAYER.get(importer), set()):
                out.append(f"{importer} ({LAYER.get(importer)}) line {line}: {target} ({LAYER.get(target)})")
    return out


def show_cycle(cycle: list[str]) -> str:
    return " -> ".join(f"impl/{'__init__' if m == PACKAGE else m.rsplit('.', 1)[1]}.py" for m in cycle)


# -- the rules ---------------------------------------------------------------------

def test_every_module_has_a_layer():
    """A new file of impl/ must be placed in a layer here before the rules below can check it."""
    unplaced = sorted(set(sources()) - set(LAYER))
    assert unplaced == [], f"modules of impl/ in no layer: {unplaced}"
    gone = sorted(set(LAYER) - set(sources()))
    assert gone == [], f"layers name modules impl/ no longer has: {gone}"


def test_no_import_circle():
    cycle = find_cycle(graph())
    assert cycle == [], f"import circle in impl/: {show_cycle(cycle)}"


def test_the_process_layer_never_imports_the_library():
    found = layer_violations(graph())
    assert found == [], "an import goes up the layers of impl/:\n" + "\n".join(found)


def test_the_graph_sees_the_imports_that_hold_the_layers_together():
    """The rules are only as good as the graph: known edges of each form are in it."""
    adj = edges(graph())
    assert "regspec.impl.supervisor" in adj["regspec.impl.kinds"]        # `from . import x, y`
    assert "regspec.impl.pcb" in adj["regspec.impl.signals"]             # `from .x import y`
    assert "regspec.impl.signals" in adj["regspec.impl.process"]         # `from . import x`
    assert "regspec.impl.driver_names" in adj["regspec.impl"]            # the package's own __init__
    assert "regspec.impl.kinds" not in adj["regspec.impl.supervisor"]    # kinds -> supervisor only


# -- each rule fails when it is broken --------------------------------------------------

PLANTED_CYCLES = [
    pytest.param("regspec.impl.supervisor", "def planted():\n    from . import kinds",
                 {"regspec.impl.supervisor", "regspec.impl.kinds"}, id="lazy-relative"),
    pytest.param("regspec.impl.signals", "import regspec.impl.process",
                 {"regspec.impl.signals", "regspec.impl.process"}, id="absolute-import"),
    pytest.param("regspec.impl.registry_global", "def planted():\n    from regspec.impl import gen",
                 {"regspec.impl.registry_global", "regspec.impl.gen"}, id="lazy-from-package"),
    pytest.param("regspec.impl.pcb", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                 "    from .signals import handle", {"regspec.impl.pcb", "regspec.impl.signals"},
                 id="type-checking-only"),
    pytest.param("regspec.impl.gen_server", "def planted():\n    from .gen import gen_call",
                 {"regspec.impl.gen_server", "regspec.impl.gen"}, id="lazy-from-module"),
    pytest.param("regspec.impl.gen", "import importlib\nimportlib.import_module('regspec.impl.registry_via')",
                 {"regspec.impl.gen", "regspec.impl.registry_via"}, id="dynamic-import"),
]


@pytest.mark.parametrize("module, line, members", PLANTED_CYCLES)
def test_a_planted_circle_is_found(module, line, members):
    cycle = find_cycle(graph({module: line}))
    assert cycle, f"the circle planted in {module} was not found"
    assert cycle[0] == cycle[-1] and members <= set(cycle), show_cycle(cycle)


PLANTED_UPWARD = [
    pytest.param("regspec.impl.driver", "def planted():\n    from .gen import gen_call", id="lazy-relative"),
    pytest.param("regspec.impl.runtime", "from regspec.impl import kinds", id="from-package"),
    pytest.param("regspec.impl.collector", "def planted():\n    import regspec.impl.registry_via",
                 id="lazy-absolute"),
    pytest.param("regspec.impl.signals", "from .. import impl", id="imports-the-glue"),
    pytest.param("regspec.impl.mailbox", "from . import kind_table", id="imports-the-kind-table"),
]


@pytest.mark.parametrize("module, line", PLANTED_UPWARD)
def test_a_planted_upward_import_is_found(module, line):
    found = layer_violations(graph({module: line}))
    assert [f.split(" ", 1)[0] for f in found] == [module], "\n".join(found)
