"""model/ stands in layers with no import circle: erts below, the OTP library above, the session on top.

The graph is computed with `ast` from model/'s source: every `import` and
`from ... import`, at module level and inside functions (a lazy import is an
edge like any other), relative (`from . import x`, `from .x import y`) and
absolute (`regspec.model.x`) ones alike; a `from __future__`-only type
import would count too.

- ERTS: the world (and its tables), the scheduler, the effect/receive mechanism, signals,
  local names, the driver, invariants, and `behaviours` (the table of
  behaviours by kind, and the collector, a plain process of BIFs).
- LIBRARY: gen, gen_server, the supervisors, global and via registries,
  `starters` (the start table), `kinds` (the catalogue that fills the
  tables and boots the processes from before step 0), driver_names.
- SESSION: `regspec.model` itself (model/__init__.py).

Rules: (a) no circle anywhere in model/; (b) no erts module imports a
library module (or the session). Each rule is checked on the source as it
is and on the source with one violation planted in memory.
"""

from __future__ import annotations

import ast

import pytest

from support import ROOT

MODEL = "regspec.model"
FOLDER = ROOT / "model"

ERTS = {f"{MODEL}.{m}" for m in ("world", "tables", "scheduler", "code", "signals", "registry_local", "driver",
                                 "invariants", "behaviours")}
LIBRARY = {f"{MODEL}.{m}" for m in ("gen", "gen_server", "supervisor", "dynamic_supervisor", "registry_global",
                                    "registry_via", "kinds", "driver_names", "starters", "observe")}
SESSION = {MODEL}


def sources(planted: dict[str, str] | None = None) -> dict[str, str]:
    """Module name -> source text of every file of model/; `planted` appends lines to some modules."""
    out = {}
    for path in sorted(FOLDER.glob("*.py")):
        name = MODEL if path.stem == "__init__" else f"{MODEL}.{path.stem}"
        out[name] = path.read_text()
    for module, extra in (planted or {}).items():
        out[module] += "\n" + extra + "\n"
    return out


def edges(planted: dict[str, str] | None = None) -> dict[str, set[str]]:
    """Importer -> the model modules it imports, wherever the import stands."""
    src = sources(planted)
    graph: dict[str, set[str]] = {m: set() for m in src}
    for module, text in src.items():
        package = MODEL   # every file of model/ is the package regspec.model or a module of it
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in src else base for a in node.names]
            else:
                continue
            for target in targets:
                # `import regspec.model.x.y` loads regspec.model.x: take the longest model module it names
                while target not in src and "." in target and target.startswith(MODEL + "."):
                    target = target.rpartition(".")[0]
                if target in src and target != module:
                    graph[module].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (or a module importing itself): Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def erts_imports_library(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((m, t) for m in ERTS for t in graph[m] if t in LIBRARY or t in SESSION)


def files(modules) -> str:
    return ", ".join(f"model/{'__init__' if m == MODEL else m.rpartition('.')[2]}.py" for m in modules)


def test_every_file_of_model_has_a_layer():
    assert set(sources()) == ERTS | LIBRARY | SESSION
    assert not ERTS & LIBRARY


def test_the_graph_sees_every_kind_of_import():
    graph = edges({f"{MODEL}.world": "def planted():\n    from .gen import where\n    import regspec.model.kinds\n"
                                     "    from regspec.model import supervisor\n    from . import registry_via"})
    assert {f"{MODEL}.{m}" for m in ("gen", "kinds", "supervisor", "registry_via")} <= graph[f"{MODEL}.world"]
    assert f"{MODEL}.registry_local" in edges()[f"{MODEL}.signals"]   # module level, `from .x import y`


def test_no_circle_in_model():
    found = circles(edges())
    assert found == [], "import circle(s) in model/:\n" + "\n".join(files(c) for c in found)


def test_the_erts_layer_never_imports_the_library():
    found = erts_imports_library(edges())
    assert found == [], "erts imports the library:\n" + "\n".join(f"{files([a])} -> {files([b])}" for a, b in found)


@pytest.mark.parametrize("module, line, expected", [
    (f"{MODEL}.world", "def planted():\n    from . import code", [["world", "registry_local", "signals", "code"]]),
    (f"{MODEL}.registry_via", "def planted():\n    from regspec.model.kinds import start_kind",
     [["kinds", "registry_via"]]),
    (f"{MODEL}.gen", "from . import registry_global", [["gen", "registry_global"]]),
    (f"{MODEL}.supervisor", "from .kinds import start_kind", [["kinds", "registry_via", "supervisor"]]),
], ids=["erts-lazy", "library-lazy-absolute", "library-module-level", "supervisor-imports-kinds"])
def test_a_planted_circle_is_found(module, line, expected):
    found = circles(edges({module: line}))
    assert [[m.rpartition(".")[2] for m in c] for c in found] == [sorted(e) for e in expected]
    assert all(files(c) for c in found)


@pytest.mark.parametrize("module, line, target", [
    (f"{MODEL}.world", "def planted():\n    from .registry_via import MapRegistry", "registry_via"),
    (f"{MODEL}.behaviours", "def planted():\n    import regspec.model.supervisor", "supervisor"),
    (f"{MODEL}.scheduler", "from regspec.model import kinds", "kinds"),
    (f"{MODEL}.driver", "from regspec import model", None),
], ids=["world-lazy-relative", "behaviours-lazy-absolute", "scheduler-from-package", "driver-imports-session"])
def test_a_planted_upward_import_is_found(module, line, target):
    found = erts_imports_library(edges({module: line}))
    assert found == [(module, f"{MODEL}.{target}" if target else MODEL)]


def test_the_library_fills_the_tables_and_boots_the_world():
    """The inversion at work: erts's world holds only the driver; the library's kinds are in the tables
    and `kinds.boot` adds the processes from before step 0, as the session starts from them."""
    from regspec.common import backends
    from regspec.common.records import DRIVER, GLOBAL_SERVER, UNIQUE_PARTITION
    from regspec.model import behaviours, gen, kinds, new_world, starters, world

    assert set(world.new_world().processes) == {DRIVER}
    booted = new_world()
    assert booted == kinds.boot(world.new_world())
    assert set(booted.processes) == {DRIVER, GLOBAL_SERVER, UNIQUE_PARTITION,
                                     *(backends.server_pid(b) for b in backends.names())}
    kinds_started = {"collector", "chat_room", "supervisor", "dynamic_supervisor", "registry_server",
                     "registry_partition"}
    assert set(starters.STARTERS) == kinds_started
    assert set(behaviours.BEHAVIOURS) == kinds_started | {"global_name_server"}
    assert all(booted.processes[p].kind in behaviours.BEHAVIOURS for p in booted.processes if p != DRIVER)
    assert set(gen.NAME_MODULES) == {"global"}   # a via backend's module is its leg, from the backend registry
    assert all(gen.name_module(b) is backends.model_leg(b) for b in backends.names())
