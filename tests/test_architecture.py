"""The import graph of the package, read from the source: model/ and impl/ stay two independent programs.

The differential tests compare the model with the threaded runtime, so
neither may run the other's code. What they share lives in
`regspec/common` (records and pure bookkeeping), which depends on neither.

The graph is computed with `ast` from every `.py` file of the package
(`regspec/`, `model/` as `regspec.model`, `impl/` as `regspec.impl`): every
`import` and `from ... import`, at module level and inside functions (a
lazy import counts as much as any), relative ones resolved, and
`importlib.import_module("...")` / `__import__("...")` with a literal name.
No import circle may run anywhere in the package (rule f), across model/,
impl/, common/ and the glue alike; tests/test_layers_model.py and
tests/test_layers_impl.py add the layer rules inside model/ and impl/.

Each rule is checked twice: on the source as it is (no violation), and on
the source with one violation planted in memory (the rule reports it), so
a rule that can no longer fail is noticed.

The via backend registry (`regspec.common.backends`) holds each backend's
legs by name and imports them only when asked: the model asks for model
legs only (`model_leg`), the runtime for impl legs only (`impl_leg`), so
the registry never hands one program the other's code (rule e).
"""

from __future__ import annotations

import ast
import functools
import sys

import attrs
import pytest

from support import ROOT, find_cycle

# Where each package's source lives (pyproject.toml's package-dir).
SOURCE_DIRS = {"regspec": ROOT / "regspec", "regspec.model": ROOT / "model", "regspec.impl": ROOT / "impl"}
MODEL, IMPL, COMMON = "regspec.model", "regspec.impl", "regspec.common"
# What regspec/common may import besides itself.
COMMON_MAY_IMPORT = {"regspec.terms", "attrs", "__future__"} | set(sys.stdlib_module_names)


@attrs.frozen
class Import:
    """One import in `importer` (line `line`): `module` is what it imports from, `name` the name taken
    from it (None for a plain `import`), `target` the module it loads (`module`, or `module.name`
    when that is a submodule)."""

    importer: str
    line: int
    module: str
    name: str | None
    target: str


def sources() -> dict[str, tuple[str, bool]]:
    """Module name -> (source text, whether it is a package's __init__)."""
    out = {}
    for package, folder in SOURCE_DIRS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            out[".".join([package, *parts])] = (path.read_text(), is_package)
    return out


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def is_private(name: str | None) -> bool:
    return name is not None and name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def imports_of(importer: str, tree: ast.Module, is_package: bool, known: set[str]) -> list[Import]:
    """Every import in one module's source, wherever it stands."""
    package = importer if is_package else importer.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Import(importer, node.lineno, a.name, None, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([node.module] if node.module else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append(Import(importer, node.lineno, base, a.name, sub if sub in known else base))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and _is_dynamic_import(node.func):
            out.append(Import(importer, node.lineno, node.args[0].value, None, node.args[0].value))
    return out


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def private_attributes_of(importer: str, tree: ast.Module, imports: list[Import], known: set[str]) -> list[Import]:
    """`module._name` where `module` is bound by an import (`imports`) to a module of another package."""
    bound = {}
    for imp in imports:
        if imp.name is None:
            bound[imp.target.split(".")[0]] = imp.target.split(".")[0]
        elif imp.target != imp.module:   # `from package import submodule`
            bound[imp.name] = imp.target
    nodes = list(ast.walk(tree))
    for node in nodes:   # `import a.b as c` binds c to a.b
        if isinstance(node, ast.Import):
            bound.update({a.asname: a.name for a in node.names if a.asname})
    out = []
    for node in nodes:
        if not isinstance(node, ast.Attribute):
            continue
        chain, value = [node.attr], node.value
        while isinstance(value, ast.Attribute):
            chain.insert(0, value.attr)
            value = value.value
        if not isinstance(value, ast.Name) or value.id not in bound:
            continue
        module = bound[value.id]
        while chain and f"{module}.{chain[0]}" in known:
            module = f"{module}.{chain.pop(0)}"
        if chain and is_private(chain[0]):
            out.append(Import(importer, node.lineno, module, chain[0], module))
    return out


@functools.lru_cache(maxsize=None)
def _edges_of(module: str, text: str, is_package: bool, known: frozenset) -> tuple[Import, ...]:
    tree = ast.parse(text)
    imports = imports_of(module, tree, is_package, known)
    return tuple(imports + private_attributes_of(module, tree, imports, known))


def graph(planted: dict[str, str] | None = None) -> list[Import]:
    """Every import of the package; `planted` appends source lines to some modules first."""
    src = sources()
    for module, extra in (planted or {}).items():
        text, is_package = src[module]
        src[module] = (text + "\n" + extra + "\n", is_package)
    known = frozenset(src)
    return [e for module, (text, is_package) in sorted(src.items()) for e in _edges_of(module, text, is_package, known)]


# -- the rules: each returns its violations ---------------------------------------------

def impl_imports_model(edges: list[Import]) -> list[Import]:
    """(a) No module under impl/ imports the model."""
    return [e for e in edges if within(e.importer, IMPL) and within(e.target, MODEL)]


def model_imports_impl(edges: list[Import]) -> list[Import]:
    """(b) No module under model/ imports the runtime."""
    return [e for e in edges if within(e.importer, MODEL) and within(e.target, IMPL)]


def common_imports_too_much(edges: list[Import]) -> list[Import]:
    """(c) regspec/common imports only regspec.terms, itself, the standard library and attrs:
    never the model, the runtime or the beam target."""
    return [e for e in edges if within(e.importer, COMMON) and not within(e.target, COMMON)
            and e.target not in COMMON_MAY_IMPORT and e.target.split(".")[0] not in COMMON_MAY_IMPORT]


def private_imports(edges: list[Import]) -> list[Import]:
    """(d) impl/ and model/ take no private name (a leading `_`) from any other package."""
    out = []
    for e in edges:
        own = next((p for p in (MODEL, IMPL) if within(e.importer, p)), None)
        if own is not None and not within(e.module, own) and is_private(e.name):
            out.append(e)
    return out


def programs_import_glue(edges: list[Import]) -> list[Import]:
    """(e) model/ and impl/ take from the rest of regspec only the terms and the shared module: never the
    glue (scenario, runner, sessions, targets, cli), which sits on top of both and imports them."""
    return [e for e in edges if any(within(e.importer, p) for p in (MODEL, IMPL))
            and within(e.target, "regspec") and not any(within(e.target, p) for p in (MODEL, IMPL, COMMON))
            and e.target not in ("regspec", "regspec.terms")]


def import_circles(edges: list[Import]) -> list[Import]:
    """(f) No import circle anywhere in the package, function-level imports included: the imports of
    one circle (a module importing a package it belongs to, as `from regspec.common import x` inside
    regspec.common, is no circle: the package is loaded before its modules)."""
    adj: dict[str, dict[str, Import]] = {}
    for e in edges:
        if within(e.target, "regspec") and e.target != e.importer and not within(e.importer, e.target):
            adj.setdefault(e.importer, {}).setdefault(e.target, e)
    loop = find_cycle(adj)
    return [adj[a][b] for a, b in zip(loop, loop[1:])]


RULES = [impl_imports_model, model_imports_impl, common_imports_too_much, private_imports, programs_import_glue, import_circles]


LEG_OF = {MODEL: "model_leg", IMPL: "impl_leg"}


def legs_of_the_other_program(planted: dict[str, str] | None = None) -> list[str]:
    """(e) model/ never names `impl_leg`, impl/ never `model_leg` (called, imported or passed on)."""
    src = sources()
    for module, extra in (planted or {}).items():
        text, is_package = src[module]
        src[module] = (text + "\n" + extra + "\n", is_package)
    out = []
    for module, (text, _) in sorted(src.items()):
        own = next((p for p in (MODEL, IMPL) if within(module, p)), None)
        if own is None:
            continue
        other = LEG_OF[IMPL if own == MODEL else MODEL]
        for node in ast.walk(ast.parse(text)):
            named = (node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name)
                     else None)
            if isinstance(node, ast.ImportFrom):
                named = other if any(a.name == other for a in node.names) else None
            if named == other:
                out.append(f"{module} line {node.lineno}: {other}")
    return out


def test_each_program_asks_the_backend_registry_for_its_own_legs():
    assert legs_of_the_other_program() == []
    assert "model_leg" in sources()["regspec.model.gen"][0] and "impl_leg" in sources()["regspec.impl.gen"][0]


@pytest.mark.parametrize("module, line", [
    ("regspec.model.registry_via", "def planted():\n    return backends.impl_leg('map_registry')"),
    ("regspec.impl.gen", "from regspec.common.backends import model_leg"),
    ("regspec.impl.driver_names", "LEG = getattr(backends, 'x') or backends.model_leg"),
], ids=["model-calls-impl-leg", "impl-imports-model-leg", "impl-names-model-leg"])
def test_a_planted_request_for_the_other_programs_leg_is_found(module, line):
    found = legs_of_the_other_program({module: line})
    assert [f.split(" ")[0] for f in found] == [module], found


def show(found: list[Import]) -> str:
    return "\n".join(f"{e.importer} line {e.line}: {e.module}{'.' + e.name if e.name else ''}" for e in found)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_the_package_keeps_the_rule(rule):
    found = rule(graph())
    assert found == [], f"{rule.__doc__.strip()}\n{show(found)}"


def test_the_graph_sees_every_kind_of_import():
    """The rules above are only as good as the graph: it must see module-level and relative imports
    (imports inside functions: the planted cases below)."""
    edges = {(e.importer, e.target) for e in graph()}
    assert ("regspec.impl.signals", "regspec.common.records") in edges            # module level
    assert ("regspec.model.driver", "regspec.model.registry_local") in edges      # `from . import x`
    # inside a function, relative (planted: model/ and impl/ keep no lazy import, see test_layers_*)
    lazy = graph({"regspec.model.world": "def planted():\n    from .registry_via import MapRegistry"})
    assert ("regspec.model.world", "regspec.model.registry_via") in {(e.importer, e.target) for e in lazy}
    assert ("regspec.common.supervision", "regspec.common.childspec") in edges    # common's own
    assert ("regspec.sessions", "regspec.model") in edges                         # glue may import both
    assert ("regspec.sessions", "regspec.impl") in edges


PLANTED = [
    pytest.param(impl_imports_model, "regspec.impl.driver",
                 "def planted():\n    from regspec.model.world import World", id="impl-lazy-import-of-model"),
    pytest.param(impl_imports_model, "regspec.impl.gen", "from ..model import world",
                 id="impl-relative-import-of-model"),
    pytest.param(impl_imports_model, "regspec.impl.kinds", "from regspec import model",
                 id="impl-imports-model-package"),
    pytest.param(impl_imports_model, "regspec.impl.runtime",
                 "import importlib\nimportlib.import_module('regspec.model.code')", id="impl-dynamic-import-of-model"),
    pytest.param(model_imports_impl, "regspec.model.driver",
                 "def planted():\n    import regspec.impl.runtime", id="model-lazy-import-of-impl"),
    pytest.param(model_imports_impl, "regspec.model.code", "from ..impl.signals import handle",
                 id="model-relative-import-of-impl"),
    pytest.param(common_imports_too_much, "regspec.common.records", "from regspec.model import world",
                 id="common-imports-model"),
    pytest.param(common_imports_too_much, "regspec.common.supervision",
                 "def planted():\n    from regspec.impl.process import Context", id="common-imports-impl"),
    pytest.param(common_imports_too_much, "regspec.common.results", "from regspec import beam",
                 id="common-imports-beam"),
    pytest.param(common_imports_too_much, "regspec.common.protocol", "from ..runner import run",
                 id="common-imports-glue"),
    pytest.param(programs_import_glue, "regspec.model.driver_names", "from regspec.scenario import to_step",
                 id="model-imports-the-parser"),
    pytest.param(programs_import_glue, "regspec.impl.driver",
                 "def planted():\n    from regspec import runner", id="impl-imports-the-runner"),
    pytest.param(import_circles, "regspec.canonical", "def planted():\n    from .runner import Stepper",
                 id="glue-lazy-circle"),
    pytest.param(private_imports, "regspec.impl.supervisor", "from regspec.common.supervision import _planted",
                 id="impl-imports-private-name"),
    pytest.param(private_imports, "regspec.model.world",
                 "def planted():\n    from regspec.terms import _planted", id="model-imports-private-name"),
    pytest.param(private_imports, "regspec.impl.registry_via",
                 "def planted():\n    from regspec.common import supervision\n    return supervision._planted()",
                 id="impl-uses-private-attribute"),
]


@pytest.mark.parametrize("rule, module, line", PLANTED)
def test_a_planted_violation_is_found(rule, module, line):
    found = rule(graph({module: line}))
    importers = [e.importer for e in found]
    if rule is import_circles:   # a circle is every import along it, the planted one among them
        assert module in importers and len(importers) > 1, show(found)
    else:
        assert importers == [module], show(found)
