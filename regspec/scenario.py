"""Load and validate scenarios (docs/scenario-format.md, contract v1.1).

A scenario is checked whole before any target runs it (SCN-6): a malformed
one raises `ScenarioError` naming the step and the problem, and nothing runs.

>>> s = parse({"steps": [{"op": "spawn", "kind": "collector", "as": "c"},
...                      {"op": "register", "name": {"local": "box"}, "target": {"proc": "c"}}]})
>>> [step.op for step in s.steps]
['spawn', 'register']
>>> s.steps[1]
Register(label=None, nowait=False, name=LocalName(name=box), target=ProcLabel(label='c'))
>>> parse({"steps": [{"op": "whereis", "name": {"local": 42}}]})
Traceback (most recent call last):
  ...
regspec.scenario.ScenarioError: step 0: 'name': a local name must be an atom (a JSON string), got: 42
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from .canonical import decode
from .common import backends
from .common.chat_room import MAX_WORK
from .common.childspec import DEFAULT_BACKEND, KINDS, child_spec
from .common.steps import STEP_TYPES, RefLabel, Step
from .terms import Atom, GlobalName, LocalName, ViaName

__all__ = ["Scenario", "ScenarioError", "UnknownOperation", "parse", "load", "to_step", "OPS", "KINDS",
           "backends_named"]


class ScenarioError(ValueError):
    """A malformed scenario; `step` is the index of the offending step or None."""

    def __init__(self, reason: str, step: int | None = None):
        self.reason = reason
        self.step = step
        super().__init__(reason if step is None else f"step {step}: {reason}")


class UnknownOperation(ScenarioError):
    """A step whose `op` the contract does not define."""


@attrs.frozen
class Scenario:
    """A validated scenario: its steps as typed records (`regspec.common.steps`) and its nodes."""

    steps: tuple
    nodes: tuple = ("a",)
    name: str | None = None
    doc: str | None = None

    @property
    def node(self) -> str:
        return self.nodes[0]

    def to_json(self) -> dict:
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name
        if self.doc is not None:
            out["doc"] = self.doc
        out["nodes"] = list(self.nodes)
        out["steps"] = [dict(s.source) for s in self.steps]
        return out


# The via backends are those registered in `regspec.common.backends` when a scenario is parsed;
# the kinds are `regspec.common.childspec.KINDS`.

_COMMON = {"op", "as", "nowait"}
# op -> (required fields, optional fields)
OPS: dict[str, tuple[frozenset, frozenset]] = {
    name: (frozenset(req), frozenset(opt))
    for name, req, opt in [
        ("spawn", ["kind"], ["trap_exit", "link", "mode"]),
        ("start", ["kind"], ["name", "link", "trap_exit", "mode", "strategy", "max_restarts", "max_seconds",
                             "children", "impl", "child", "backend", "init_work"]),
        ("stop", ["target"], ["reason"]),
        ("register", ["name", "target"], []),
        ("unregister", ["name"], ["target"]),
        ("whereis", ["name"], []),
        ("registered", [], []),
        ("send", ["to", "msg"], []),
        ("call", ["to", "msg"], ["timeout"]),
        ("cast", ["to", "msg"], []),
        ("kill", ["target"], ["reason"]),
        ("monitor", ["watcher", "target"], []),
        ("demonitor", ["watcher", "ref"], ["flush"]),
        ("link", ["a", "b"], []),
        ("unlink", ["a", "b"], []),
        ("trap_exit", ["target", "value"], []),
        ("messages", ["target"], []),
        ("alive", ["target"], []),
        ("start_child", ["sup", "spec"], []),
        ("terminate_child", ["sup"], ["id", "pid"]),
        ("which_children", ["sup"], []),
        ("count_children", ["sup"], []),
        ("global_register", ["name", "target"], []),
        ("global_unregister", ["name"], []),
        ("global_send", ["name", "msg"], []),
        ("registry_keys", ["registry", "target"], []),
        ("partition", ["nodes"], []),
        ("heal", ["nodes"], []),
    ]
}

_CHILD_FIELDS = {"id", "kind", "name", "restart", "shutdown", "as", "link", "trap_exit", "mode", "strategy",
                 "max_restarts", "max_seconds", "children", "impl", "child", "backend", "init_work"}
MAX_TIMEOUT = 2**32 - 1  # a receive's `after` takes no more
MAX_ATOM = 255  # characters in an atom: the BEAM refuses longer ones (system_limit)
_PID_RE = re.compile(r"^P\d+$")
_STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")


def _server_backends() -> tuple[str, ...]:
    """The backends a `registry_server` may start and `registry_keys` may name: those with a server."""
    return tuple(b.name for b in backends.all_backends() if b.server)


def _server_backend(value: Any, prefix: str, or_else: str = "") -> None:
    """`value` names a registered backend that has a registry server."""
    allowed = _server_backends()
    if value in allowed:
        return
    known = isinstance(value, str) and value in backends.names()
    problem = "via backend {} has no registry server" if known else "unknown backend {}"
    raise ScenarioError(f"{prefix}{problem.format(json.dumps(value))} (expected one of {', '.join(allowed)}{or_else})")
_DYNAMIC_IMPLS = ("DynamicSupervisor", "simple_one_for_one")


class _Checker:
    """Validates one scenario, tracking `as` labels bound so far."""

    def __init__(self) -> None:
        self.procs: set[str] = set()  # labels bound to processes
        self.refs: set[str] = set()   # labels bound to monitor refs
        self.driver_names: list = []  # the names a step gives the driver, P0
        # The start_child arguments each dynamic supervisor's template makes a local name of, by
        # how a step names the supervisor (its label or name, as JSON; "*": of any template).
        self.local_args: dict[str, set[int]] = {"*": set()}

    def bind(self, label: str, where: str, refs: bool = False) -> None:
        """`as` binds each label once per scenario."""
        if label in self.procs or label in self.refs:
            raise ScenarioError(f"{where}: label {label!r} is already bound by an earlier \"as\" "
                                f"(each label is bound once per scenario)")
        (self.refs if refs else self.procs).add(label)

    # -- values -----------------------------------------------------------
    def value(self, v: Any, where: str, template: bool = False) -> None:
        if isinstance(v, str):
            _atom(v, where)
            return
        if isinstance(v, bool) or isinstance(v, int):
            return
        if isinstance(v, float):
            raise ScenarioError(f"{where}: floats are not supported, got: {v!r}")
        if isinstance(v, list):
            for i, item in enumerate(v):
                self.value(item, f"{where}[{i}]", template)
            return
        if isinstance(v, dict):
            if len(v) != 1:
                raise ScenarioError(f"{where}: a tagged value has exactly one key (str, list, atom, proc, pid, ref, arg), got: {json.dumps(v)}")
            ((key, inner),) = v.items()
            if key in ("str", "atom"):
                if not isinstance(inner, str):
                    raise ScenarioError(f"{where}: {{{key!r}: ...}} needs a string, got: {json.dumps(inner)}")
                if key == "atom":
                    _atom(inner, where)
            elif key == "list":
                if not isinstance(inner, list):
                    raise ScenarioError(f"{where}: {{'list': ...}} needs an array, got: {json.dumps(inner)}")
                self.value(inner, where, template)
            elif key == "proc":
                self.proc_label(inner, where)
            elif key == "pid":
                if not isinstance(inner, str) or not _PID_RE.match(inner):
                    raise ScenarioError(f"{where}: {{'pid': ...}} needs a string like 'P3', got: {json.dumps(inner)}")
            elif key == "ref":
                self.ref_label(inner, where)
            elif key == "arg":
                if not template:
                    raise ScenarioError(f"{where}: {{'arg': n}} is allowed only inside a dynamic supervisor's child template")
                if isinstance(inner, bool) or not isinstance(inner, int) or inner < 0:
                    raise ScenarioError(f"{where}: {{'arg': n}} needs a non-negative integer, got: {json.dumps(inner)}")
            else:
                raise ScenarioError(f"{where}: unknown tagged value {key!r} (expected str, list, atom, proc, pid, ref or arg)")
            return
        raise ScenarioError(f"{where}: not a scenario value: {json.dumps(v)}")

    def proc_label(self, label: Any, where: str) -> None:
        if not isinstance(label, str):
            raise ScenarioError(f"{where}: {{'proc': ...}} needs a label string, got: {json.dumps(label)}")
        if label not in self.procs:
            raise ScenarioError(f"{where}: unbound proc {label!r} (no earlier step binds it with \"as\")")

    def ref_label(self, label: Any, where: str) -> None:
        if not isinstance(label, str):
            raise ScenarioError(f"{where}: {{'ref': ...}} needs a label or 'R<n>', got: {json.dumps(label)}")
        if label not in self.refs and not re.match(r"^R\d+$", label):
            raise ScenarioError(f"{where}: unbound ref {label!r} (no earlier monitor binds it with \"as\")")

    def name(self, v: Any, where: str, template: bool = False) -> None:
        if not isinstance(v, dict) or len(v) != 1 or next(iter(v)) not in ("local", "global", "via"):
            raise ScenarioError(f"{where}: expected a name {{'local': atom}}, {{'global': term}} or {{'via': [backend, term]}}, got: {json.dumps(v)}")
        ((form, inner),) = v.items()
        if form == "local":
            if isinstance(inner, dict) and set(inner) == {"atom"} and isinstance(inner["atom"], str):
                _local_name(inner["atom"], where)
                return
            if isinstance(inner, dict) and set(inner) == {"arg"}:
                self.value(inner, where, template)  # the atom passed to start_child (templates only)
                return
            if not isinstance(inner, str):
                raise ScenarioError(f"{where}: a local name must be an atom (a JSON string), got: {json.dumps(inner)}")
            _local_name(inner, where)
        elif form == "global":
            self.value(inner, where, template)
        else:
            if not isinstance(inner, list) or len(inner) != 2:
                raise ScenarioError(f"{where}: a via name is [backend, term], got: {json.dumps(inner)}")
            if not isinstance(inner[0], str) or inner[0] not in backends.names():
                raise ScenarioError(f"{where}: unknown via backend {json.dumps(inner[0])} (expected one of {', '.join(backends.names())})")
            self.value(inner[1], where, template)

    def target(self, v: Any, where: str) -> None:
        """A process (proc or pid) or a name."""
        if isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("proc", "pid"):
            self.value(v, where)
        elif isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("local", "global", "via"):
            self.name(v, where)
        else:
            raise ScenarioError(f"{where}: expected a proc, pid or name, got: {json.dumps(v)}")

    # -- steps ------------------------------------------------------------
    def step(self, step: Any) -> None:
        if not isinstance(step, dict):
            raise ScenarioError(f"a step is a JSON object, got: {json.dumps(step)}")
        op = step.get("op")
        if op is None:
            raise ScenarioError("missing field 'op'")
        if not isinstance(op, str) or op not in OPS:
            raise UnknownOperation(f"unknown op {json.dumps(op)}")
        required, optional = OPS[op]
        for f in sorted(required):
            if f not in step:
                raise ScenarioError(f"{op}: missing field {f!r}")
        extra = set(step) - required - optional - _COMMON
        if extra:
            raise ScenarioError(f"{op}: unknown field {sorted(extra)[0]!r}")
        for flag in ("nowait", "trap_exit", "link", "value", "flush"):
            if flag in step and not isinstance(step[flag], bool):
                raise ScenarioError(f"'{flag}' must be true or false, got: {json.dumps(step[flag])}")
        if "as" in step and not isinstance(step["as"], str):
            raise ScenarioError(f"'as' must be a label string, got: {json.dumps(step['as'])}")
        if "as" in step and (step["as"] in self.procs or step["as"] in self.refs):
            self.bind(step["as"], "'as'")   # refused before the step's child specs bind theirs
        getattr(self, f"op_{op}", self.op_generic)(step)
        if "as" in step:
            self.bind(step["as"], "'as'", refs=op == "monitor")

    def process(self, step: dict, field: str) -> None:
        """A field that takes a process itself (a proc or pid), not a name."""
        v = step[field]
        if not (isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("proc", "pid")):
            raise ScenarioError(f"'{field}': expected a proc or pid, got: {json.dumps(v)}")
        self.value(v, f"{field!r}")

    def op_register(self, step: dict) -> None:
        self.name(step["name"], "'name'")
        self.process(step, "target")
        if step["target"] == _DRIVER:
            self.driver_names.append(_name(step["name"]))

    def op_kill(self, step: dict) -> None:
        self.op_generic(step)
        # exit(P0, kill) kills the driver on the BEAM (no trap stops `kill`): the run could not go on.
        if decode(step.get("reason", "kill")) != Atom("kill"):
            return
        target = step["target"]
        if target == _DRIVER:
            raise ScenarioError("kill: the reason kill would kill the driver, P0, which runs the steps")
        if next(iter(target)) in ("local", "global", "via") and _name(target) in self.driver_names:
            raise ScenarioError(f"kill: the reason kill aimed at {json.dumps(target)}, a name an earlier step gave "
                                f"the driver, P0, would kill it")

    def op_unregister(self, step: dict) -> None:
        self.name(step["name"], "'name'")
        if "target" in step:
            self.process(step, "target")

    def op_generic(self, step: dict) -> None:
        for f in ("target", "to", "watcher", "a", "b", "sup", "registry"):
            if f in step:
                self.target(step[f], f"{f!r}")
        for f in ("msg", "reason"):
            if f in step:
                self.value(step[f], f"{f!r}")
        if "name" in step:
            self.name(step["name"], "'name'")

    def op_spawn(self, step: dict) -> None:
        if step["kind"] != "collector":
            raise ScenarioError(f"spawn: 'kind' must be \"collector\", got: {json.dumps(step['kind'])}")
        self.mode(step)

    def mode(self, step: dict) -> None:
        if "mode" in step and step["mode"] not in ("eager", "mailbox"):
            raise ScenarioError(f"'mode' must be \"eager\" or \"mailbox\", got: {json.dumps(step['mode'])}")

    def op_start(self, step: dict) -> None:
        self.kind(step, "'kind'")
        if "name" in step:
            self.name(step["name"], "'name'")
        self.mode(step)
        if "children" in step:
            if not isinstance(step["children"], list):
                raise ScenarioError(f"'children' must be an array of child specs, got: {json.dumps(step['children'])}")
            for i, child in enumerate(step["children"]):
                self.child_spec(child, f"'children'[{i}]")
        if "child" in step:
            self.child_spec(step["child"], "'child'", template=True)
            self.template(step)
        if "backend" in step:
            _server_backend(step["backend"], "")
        self.kind_fields(step, "start")

    def kind(self, spec: dict, where: str) -> None:
        if spec.get("kind") not in KINDS:
            raise ScenarioError(f"{where}: unknown kind {json.dumps(spec.get('kind'))} (expected one of {', '.join(KINDS)})")

    def child_spec(self, spec: Any, where: str, template: bool = False) -> None:
        if not isinstance(spec, dict):
            raise ScenarioError(f"{where}: a child spec is a JSON object, got: {json.dumps(spec)}")
        if "kind" not in spec:
            raise ScenarioError(f"{where}: missing field 'kind'")
        self.kind(spec, f"{where}.kind")
        extra = set(spec) - _CHILD_FIELDS
        if extra:
            raise ScenarioError(f"{where}: unknown field {sorted(extra)[0]!r}")
        if "id" in spec:
            self.value(spec["id"], f"{where}.id", template)
        if "name" in spec:
            self.name(spec["name"], f"{where}.name", template)
        if spec.get("restart", "permanent") not in ("permanent", "transient", "temporary"):
            raise ScenarioError(f"{where}.restart: expected permanent, transient or temporary, got: {json.dumps(spec['restart'])}")
        shutdown = spec.get("shutdown", 0)
        if shutdown not in ("brutal_kill", "infinity") and (isinstance(shutdown, bool) or not isinstance(shutdown, int) or shutdown < 0):
            raise ScenarioError(f"{where}.shutdown: expected milliseconds, \"brutal_kill\" or \"infinity\", got: {json.dumps(shutdown)}")
        if "as" in spec and not isinstance(spec["as"], str):
            raise ScenarioError(f"{where}.as: must be a label string, got: {json.dumps(spec['as'])}")
        self.kind_fields(spec, where)
        if "children" in spec:
            if not isinstance(spec["children"], list):
                raise ScenarioError(f"{where}.children: must be an array of child specs, got: {json.dumps(spec['children'])}")
            # A template's {"arg": n} reaches into the nested children too.
            for i, child in enumerate(spec["children"]):
                self.child_spec(child, f"{where}.children[{i}]", template)
        if "child" in spec:
            self.child_spec(spec["child"], f"{where}.child", template=True)
            self.template(spec)
        if "as" in spec:
            self.bind(spec["as"], f"{where}.as")

    def template(self, sup: dict) -> None:
        """Note which start_child arguments `sup`'s child template registers as local names."""
        args, todo = set(), [sup["child"]]
        while todo:
            spec = todo.pop()
            name = spec.get("name")
            if isinstance(name, dict) and isinstance(name.get("local"), dict) and set(name["local"]) == {"arg"}:
                args.add(name["local"]["arg"])
            todo.extend(c for c in spec.get("children", ()) if isinstance(c, dict))
        refs = ([{"proc": sup["as"]}] if isinstance(sup.get("as"), str) else []) + \
            ([sup["name"]] if isinstance(sup.get("name"), dict) else [])
        for ref in refs:
            self.local_args[json.dumps(ref, sort_keys=True)] = args
        self.local_args["*"] |= args

    def kind_fields(self, spec: dict, where: str) -> None:
        """The kind's own fields that take one of a few atoms or a count."""
        if "backend" in spec:
            _server_backend(spec["backend"], f"{where}.backend: ")
        for field, allowed in (("strategy", _STRATEGIES), ("impl", _DYNAMIC_IMPLS), ("mode", ("eager", "mailbox"))):
            if field in spec and spec[field] not in allowed:
                raise ScenarioError(f"{where}.{field}: expected one of {', '.join(allowed)}, got: {json.dumps(spec[field])}")
        for f in ("max_restarts", "max_seconds"):
            if f in spec and (isinstance(spec[f], bool) or not isinstance(spec[f], int) or spec[f] < 0):
                raise ScenarioError(f"{where}.{f}: must be a non-negative integer, got: {json.dumps(spec[f])}")
        for f in ("trap_exit", "link"):
            if f in spec and not isinstance(spec[f], bool):
                raise ScenarioError(f"{where}.{f}: must be true or false, got: {json.dumps(spec[f])}")
        if "init_work" in spec:
            # SCN-5: a chat room's own field, the n of the loop its init runs.
            n = spec["init_work"]
            if spec.get("kind") != "chat_room":
                raise ScenarioError(f"{where}.init_work: a field of a chat_room only, not of a "
                                    f"{json.dumps(spec.get('kind'))}")
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_WORK:
                raise ScenarioError(f"{where}.init_work: must be an integer from 0 to {MAX_WORK}, got: {json.dumps(n)}")
        if spec.get("impl") == "simple_one_for_one" and "child" not in spec:
            raise ScenarioError(f"{where}: a simple_one_for_one supervisor needs its 'child' template")
        name = spec.get("name")
        if spec.get("kind") == "registry_server" and isinstance(name, dict) and "via" in name \
                and name["via"][0] == spec.get("backend", DEFAULT_BACKEND):
            # Its lookups would go through itself for ever (on the BEAM, until the watchdog).
            raise ScenarioError(f"{where}: a registry_server cannot be named through its own backend "
                                f"{json.dumps(name['via'][0])}")

    def op_call(self, step: dict) -> None:
        self.op_generic(step)
        t = step.get("timeout", 5000)
        if t != "infinity" and (isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= MAX_TIMEOUT):
            raise ScenarioError(f"'timeout' must be an integer of ms from 0 to {MAX_TIMEOUT} (the BEAM's limit) "
                                f"or \"infinity\", got: {json.dumps(t)}")

    def op_monitor(self, step: dict) -> None:
        self.process(step, "watcher")
        self.target(step["target"], "'target'")

    def op_demonitor(self, step: dict) -> None:
        self.process(step, "watcher")
        self.value(step["ref"], "'ref'")
        if not (isinstance(step["ref"], dict) and set(step["ref"]) == {"ref"}):
            raise ScenarioError(f"'ref' must be {{'ref': label}}, got: {json.dumps(step['ref'])}")

    def op_terminate_child(self, step: dict) -> None:
        self.target(step["sup"], "'sup'")
        if ("id" in step) == ("pid" in step):
            raise ScenarioError("terminate_child: give exactly one of 'id' and 'pid'")
        if "pid" in step:
            self.process(step, "pid")

    def op_start_child(self, step: dict) -> None:
        self.target(step["sup"], "'sup'")
        spec = step["spec"]
        if isinstance(spec, list):
            self.value(spec, "'spec'")
            args = self.local_args.get(json.dumps(step["sup"], sort_keys=True), self.local_args["*"])
            for i in sorted(args):
                arg = spec[i] if i < len(spec) else None
                atom = arg["atom"] if isinstance(arg, dict) and set(arg) == {"atom"} else arg
                if isinstance(atom, str):   # the child registers it as its local name
                    _local_name(atom, f"'spec'[{i}]")
        else:
            self.child_spec(spec, "'spec'")

    def op_global_register(self, step: dict) -> None:
        # :global.register_name/2 takes the bare term; {"global": term} means the same.
        self.global_name(step["name"])
        if "target" in step:
            self.process(step, "target")
            if step["target"] == _DRIVER:
                name = step["name"]
                self.driver_names.append(_name(name if isinstance(name, dict) and set(name) == {"global"}
                                               else {"global": name}))
        if "msg" in step:
            self.value(step["msg"], "'msg'")

    op_global_unregister = op_global_send = op_global_register

    def global_name(self, v: Any) -> None:
        if isinstance(v, dict) and len(v) == 1 and next(iter(v)) == "global":
            v = v["global"]
        self.value(v, "'name'")

    def op_registry_keys(self, step: dict) -> None:
        # The contract allows a backend's name here: it means that backend's
        # current server (the one a via name of that backend reaches).
        registry = step["registry"]
        if isinstance(registry, str):
            _server_backend(registry, "'registry': ", ", or a proc, pid or name of a registry server")
        else:
            self.target(registry, "'registry'")
        self.target(step["target"], "'target'")

    def op_partition(self, step: dict) -> None:
        nodes = step["nodes"]
        if not (isinstance(nodes, list) and len(nodes) == 2 and all(isinstance(g, list) and all(isinstance(n, str) for n in g) for g in nodes)):
            raise ScenarioError(f"'nodes' must be two lists of node names, got: {json.dumps(nodes)}")

    op_heal = op_partition


MAX_DEPTH = 100
_DRIVER = {"pid": "P0"}


def _atom(s: str, where: str) -> None:
    if len(s) > MAX_ATOM:
        raise ScenarioError(f"{where}: an atom has at most {MAX_ATOM} characters (the BEAM's limit), "
                            f"got one of {len(s)}: {json.dumps(s[:20])[:-1]}...\"")


# Local names a BEAM node holds before step 0: the runtime system's own (erl -noshell, OTP 25),
# Elixir's, and the harness's (regspec's registry servers and their parts). On the BEAM `whereis`
# finds them and `register` fails; the model and the runtime have no such processes, so a
# scenario may not use them (tests/test_hostile.py checks the list against a real node).
RESERVED_NAMES = frozenset({
    "application_controller", "code_server", "erl_prim_loader", "erl_signal_server", "erts_code_purger",
    "file_server_2", "global_group", "global_group_check", "global_name_server", "inet_db", "init",
    "kernel_refc", "kernel_safe_sup", "kernel_sup", "logger", "logger_handler_watcher", "logger_proxy",
    "logger_std_h_default", "logger_sup", "rex", "socket_registry", "standard_error", "standard_error_sup",
    "user", "elixir_code_server", "elixir_config", "elixir_sup",
})
RESERVED_PREFIXES = ("regspec.", "Elixir.regspec.")


def _local_name(s: str, where: str) -> None:
    _atom(s, where)
    if s in RESERVED_NAMES or s.startswith(RESERVED_PREFIXES):
        raise ScenarioError(f"{where}: the local name {json.dumps(s)} is taken on every BEAM node before step 0 "
                            f"(reserved: the runtime system's, Elixir's and regspec's own names)")


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (without recursion: any input is safe)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (list, dict)):
            deepest = max(deepest, d)
            todo.extend((item, d + 1) for item in (v.values() if isinstance(v, dict) else v))
    return deepest


def parse(doc: Any) -> Scenario:
    """Validate a parsed JSON document and return a `Scenario`.

    Raises:
        ScenarioError: naming the step (when there is one) and the problem.
    """
    if not isinstance(doc, dict):
        raise ScenarioError(f"a scenario is a JSON object, got: {json.dumps(doc)[:60]}")
    extra = set(doc) - {"name", "doc", "nodes", "steps"}
    if extra:
        raise ScenarioError(f"unknown top-level field {sorted(extra)[0]!r}")
    if "steps" not in doc:
        raise ScenarioError("missing top-level field 'steps'")
    steps = doc["steps"]
    if not isinstance(steps, list):
        raise ScenarioError("'steps' must be an array")
    nodes = doc.get("nodes", ["a"])
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) and n for n in nodes):
        raise ScenarioError(f"'nodes' must be a non-empty array of node names, got: {json.dumps(nodes)}")
    for f in ("name", "doc"):
        if f in doc and not isinstance(doc[f], str):
            raise ScenarioError(f"'{f}' must be a string")
    checker = _Checker()
    for i, step in enumerate(steps):
        if _depth(step) > MAX_DEPTH:
            raise ScenarioError(f"a value is nested more than {MAX_DEPTH} levels deep", step=i)
        try:
            checker.step(step)
        except ScenarioError as e:
            raise type(e)(e.reason, step=i) from None
        except RecursionError:
            raise ScenarioError("a value is nested too deeply", step=i) from None
    return Scenario(steps=tuple(to_step(s) for s in steps), nodes=tuple(nodes), name=doc.get("name"), doc=doc.get("doc"))


def load(path: str) -> Scenario:
    """Read and validate a scenario file."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ScenarioError(f"cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ScenarioError(f"not UTF-8 text: byte {e.start} cannot be decoded") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ScenarioError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise ScenarioError("invalid JSON: nested too deeply") from None
    except ValueError as e:  # e.g. an integer with more digits than Python converts
        raise ScenarioError(f"invalid JSON: {e}") from None
    return parse(doc)


# -- from JSON to typed steps -------------------------------------------------

_TARGET_FIELDS = ("target", "to", "watcher", "a", "b", "sup", "registry", "pid")
_TERM_FIELDS = ("msg", "reason", "id", "exit_during")
_GLOBAL_OPS = ("global_register", "global_unregister", "global_send")


def to_step(step: dict) -> Step:
    """A well-formed step (as `parse` checks it) as its typed record, every value a term.

    `exit_during` is no contract field: the state machine uses it to kill a
    server while a call to it is pending.
    """
    op = step["op"]
    fields: dict[str, Any] = {}
    if op == "start":
        fields["spec"] = child_spec(_child_fields({k: v for k, v in step.items() if k not in _COMMON}))
    else:
        for key, value in step.items():
            if key not in _COMMON:
                fields[key] = _field(op, key, value)
    return STEP_TYPES[op](label=step.get("as"), nowait=bool(step.get("nowait", False)), source=step, **fields)


def _field(op: str, key: str, value: Any) -> Any:
    if key == "name" and op in _GLOBAL_OPS:
        # The bare term, as :global takes it; {"global": term} means the same (REG-GLOBAL-6).
        if isinstance(value, dict) and set(value) == {"global"}:
            value = value["global"]
        return decode(value)
    if key == "name":
        return _name(value)
    if key in _TARGET_FIELDS:
        return _name(value) if next(iter(value)) in ("local", "global", "via") else decode(value)
    if key in _TERM_FIELDS:
        return decode(value)
    if key == "ref":
        return RefLabel(value["ref"])
    if key == "spec":
        return child_spec(_child_fields(value)) if isinstance(value, dict) else tuple(decode(v) for v in value)
    if key == "nodes":
        return tuple(value)
    return value   # plain JSON: kind, mode, flags, timeout, value


def _name(value: dict) -> object:
    ((form, inner),) = value.items()
    if form == "local":
        return LocalName(decode(inner))
    if form == "global":
        return GlobalName(decode(inner))
    return ViaName(inner[0], decode(inner[1]))


def _child_fields(spec: dict) -> dict:
    """A child spec's (or start step's) fields with its name, id and nested children decoded."""
    out = {}
    for key, inner in spec.items():
        if key == "name":
            out[key] = _name(inner)
        elif key == "id":
            out[key] = decode(inner)
        elif key == "children":
            out[key] = [_child_fields(c) for c in inner]
        elif key == "child":
            out[key] = _child_fields(inner)
        else:
            out[key] = inner
    return out


def backends_named(scenario: Scenario) -> list[tuple[int, str, str]]:
    """`(step, op, backend)` for each via backend a step names, in step order: the backends of its via
    names (child specs and templates included), of a `registry_server` (the default one too) and
    `registry_keys`' backend name.

    >>> backends_named(parse({"steps": [{"op": "start", "kind": "registry_server"},
    ...     {"op": "whereis", "name": {"via": ["unique_registry", "k"]}}]}))
    [(0, 'start', 'map_registry'), (1, 'whereis', 'unique_registry')]
    """
    out = []
    for i, step in enumerate(s.source for s in scenario.steps):
        found: list[str] = []
        _backends_in(step, found)
        if step["op"] == "registry_keys" and isinstance(step["registry"], str):
            found.append(step["registry"])
        out += [(i, step["op"], b) for b in dict.fromkeys(found)]
    return out


def _backends_in(v: Any, found: list) -> None:
    if isinstance(v, dict):
        if set(v) == {"via"} and isinstance(v["via"], list) and v["via"] and isinstance(v["via"][0], str):
            found.append(v["via"][0])
        if v.get("kind") == "registry_server":
            found.append(v.get("backend", DEFAULT_BACKEND))
        for x in v.values():
            _backends_in(x, found)
    elif isinstance(v, list):
        for x in v:
            _backends_in(x, found)
