"""Random well-formed scenarios: the model agrees with the BEAM on them.

CI runs a few dozen seeds; REGSPEC_PROFILE=thorough runs ten times more,
and longer ones. They are `otp=True` scenarios, and the CI seeds must
between them exercise supervisors, dynamic supervisors, registry servers,
:global and every name form, so agreement is not about local names only,
and every shape contract v1.1 added (V11_SHAPES).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from support import PROFILE
from regspec import beam
from regspec.generate import generate
from regspec.sessions import ModelSession, run_model as run_scenario
from regspec.model.invariants import check
from regspec.runner import run
from regspec.scenario import parse
from support import needs_erl

THOROUGH = PROFILE == "thorough"
BEAM_SEEDS = range(1000, 1000 + (400 if THOROUGH else 36))
LENGTH = 40 if THOROUGH else 24

# What the beam seeds must exercise between them, so that the agreement test
# covers supervisors, :global and via names, not only local ones.
NEW_OPS = ("start_child", "terminate_child", "which_children", "count_children", "global_register",
           "global_unregister", "global_send", "registry_keys")
START_KINDS = ("chat_room", "supervisor", "dynamic_supervisor:DynamicSupervisor",
               "dynamic_supervisor:simple_one_for_one", "registry_server")
NAME_FORMS = ("local", "global", "via:map_registry", "via:map_registry_nomonitor", "via:unique_registry")
NAMED_OPS = ("start", "call", "cast", "whereis", "kill", "monitor", "send", "register", "unregister", "stop",
             "alive")


class CheckedSession(ModelSession):
    """A model session that checks the world's invariants after every step."""

    def perform(self, step):
        result = super().perform(step)
        assert check(self.world) == ()
        return result


@pytest.mark.spec("REG-LOCAL-2", "REG-LOCAL-7", "PROC-1")
@pytest.mark.parametrize("seed", range(3000 if THOROUGH else 300))
def test_model_invariants_hold_on_random_scenarios(seed):
    scenario = parse(generate(seed, length=LENGTH, otp=True))
    run(scenario, CheckedSession(scenario.node))


@needs_erl
@pytest.mark.parametrize("seed", BEAM_SEEDS)
def test_model_agrees_with_beam_on_random_scenarios(seed):
    doc = generate(seed, length=LENGTH, otp=True)
    expected = beam.run_scenario(doc)
    assert expected == run_scenario(parse(doc)), f"replay: regspec diff <(python -c 'import json; from regspec.generate import generate; print(json.dumps(generate({seed}, length={LENGTH}, otp=True)))')"


# Busy rooms (generate(busy=True)): a work cast, then a kill that reaches the room meanwhile.
BUSY_SEEDS = range(5000, 5000 + (200 if THOROUGH else 24))


@needs_erl
@pytest.mark.spec("SCN-5")
@pytest.mark.parametrize("seed", BUSY_SEEDS)
def test_model_agrees_with_beam_on_random_scenarios_with_busy_rooms(seed):
    doc = generate(seed, length=LENGTH, otp=True, busy=True)
    assert beam.run_scenario(doc) == run_scenario(parse(doc)), f"replay: generate({seed}, length={LENGTH}, otp=True, busy=True)"


def test_busy_seeds_draw_work_casts_and_kills_after_them():
    steps = [generate(seed, length=LENGTH, otp=True, busy=True)["steps"] for seed in BUSY_SEEDS]
    pairs = [(a, b) for st in steps for a, b in zip(st, st[1:])
             if a["op"] == "cast" and isinstance(a["msg"], list) and a["msg"][0] == "work"]
    assert len(pairs) >= len(BUSY_SEEDS) and all(b["op"] == "kill" for _, b in pairs)
    assert {a["msg"][1] for a, _ in pairs} == {0, 100_000, 300_000} and all(a.get("nowait") for a, _ in pairs)


def _name_form(value):
    """"local", "global", "via:<backend>" for a name; None for a proc."""
    if isinstance(value, dict) and len(value) == 1:
        ((form, inner),) = value.items()
        if form == "via":
            return f"via:{inner[0]}"
        if form in ("local", "global"):
            return form
    return None


def _shapes(steps):
    """What each step exercises: its op, start kind, strategy, (op, name form), ..."""
    for step in steps:
        op = step["op"]
        yield op
        if op == "start":
            yield "kind:" + step["kind"] + (":" + step["impl"] if "impl" in step else "")
        if step.get("strategy"):
            yield "strategy:" + step["strategy"]
        if step.get("nowait"):
            yield "nowait"
        if op == "start_child":
            yield "start_child:" + ("args" if isinstance(step["spec"], list) else "spec")
        if op == "terminate_child":
            yield "terminate_child:" + ("pid" if "pid" in step else "id")
        for field in ("name", "to", "target"):
            form = _name_form(step.get(field))
            if form:
                yield (op, form.partition(":")[0])
                yield form


def test_beam_seeds_exercise_every_generated_operation():
    counts = Counter(s for seed in BEAM_SEEDS for s in _shapes(generate(seed, length=LENGTH, otp=True)["steps"]))
    wanted = [*NEW_OPS, *(f"kind:{k}" for k in START_KINDS), *NAME_FORMS, "nowait",
              "start_child:args", "start_child:spec", "terminate_child:id", "terminate_child:pid",
              *(f"strategy:{s}" for s in ("one_for_one", "one_for_all", "rest_for_one")),
              *((op, form) for op in NAMED_OPS for form in ("local", "global", "via"))]
    missing = [w for w in wanted if not counts[w]]
    assert not missing, f"no beam seed exercises: {missing}"


# What contract v1.1 added (or stated), and what regspec/generate.py once
# left out because the model got it wrong: the beam seeds must draw each.
V11_SHAPES = (
    # :global steps take the bare term as well as {"global": term}
    *(f"{op}:{form}" for op in ("global_register", "global_unregister", "global_send") for form in ("bare", "tagged")),
    # {"arg": n} anywhere in a template; atoms for local names; an index past the arguments
    "template:local_arg", "template:global_arg", "template:via_arg", "template:arg_id",
    "template:supervisor_arg_children", "start_child:atom_args", "start_child:arg_past_args",
    # a DynamicSupervisor without a template: whole child specs of every kind, restart,
    # shutdown, with and without name and as; an args array (ArgumentError)
    "dynsup:no_template", "dynsup_spec:args",
    *(f"dynsup_spec:kind:{k}" for k in ("chat_room", "collector", "supervisor")),
    *(f"dynsup_spec:restart:{r}" for r in ("permanent", "transient", "temporary")),
    *(f"dynsup_spec:shutdown:{s}" for s in (100, 5000, "brutal_kill", "infinity")), "child_spec:shutdown:0",
    "dynsup_spec:named", "dynsup_spec:unnamed", "dynsup_spec:as", "dynsup_spec:no_as",
    # stop of a collector, with every reason
    *(f"stop_collector:{r}" for r in ("normal", "shutdown", "boom", "kill", '["shutdown", "x"]')),
    # messages of a collector killed or stopped before
    "messages:dead:eager", "messages:dead:mailbox",
    # registry_keys of a name, or of a label bound to no process
    *(f"registry_keys:{f}" for f in ("local", "global", "via", "unbound")),
    # a step on a child label of a supervisor whose start failed
    "failed_supervisor:child_label_used",
    # once left out
    "alive:local", "demonitor:failed_monitor", "link:a_unbound", "unlink:a_unbound",
    "register:unique_registry:dead_collector", "registry_keys:unique_registry:unbound",
    "register:map_registry:unbound", "monitor:via:dead_watcher:dead_registry",
    # collector steps by name; collector and supervisor steps on a process of another
    # kind; a call or stop of the driver
    "messages:name", "trap_exit:name", "link:name", "unlink:name", "not_a_collector", "not_a_supervisor",
    "calling_self",
)


def _specs(step):
    """The child specs a start or start_child step holds, nested ones and templates too."""
    todo = [step["spec"]] if isinstance(step.get("spec"), dict) else [step]
    while todo:
        spec = todo.pop()
        if spec is not step:
            yield spec
        todo.extend(spec.get("children", []))
        if isinstance(spec.get("child"), dict):
            todo.append(spec["child"])


def _args(value, form=None):
    """The {"arg": n} indexes in a template value (only inside names of `form`, if given)."""
    if isinstance(value, dict):
        if set(value) == {"arg"}:
            return [value["arg"]] if form is None else []
        if form is not None and set(value) == {form}:
            return _args(value[form])
        return [n for v in value.values() for n in _args(v, form)]
    if isinstance(value, list):
        return [n for v in value for n in _args(v, form)]
    return []


def _key(ref):
    """A supervisor or registry reference (a proc or a name) as a dict key."""
    return ref["proc"] if isinstance(ref, dict) and "proc" in ref else json.dumps(ref, sort_keys=True)


def _v11_shapes(steps, results):
    """The V11_SHAPES a scenario draws. `results` (the model's) tell which labels
    are bound to no process: those of creating steps that failed."""
    collectors = {}      # label -> mode
    ended = set()        # labels stopped or killed with reason kill
    templates = {}       # a dynamic supervisor's label or name -> its templates (None: none)
    backends = {}        # a registry server's label or name -> its backend
    unbound, orphans, dead_backends = set(), set(), set()
    for step, result in zip(steps, (r["result"] for r in results)):
        op = step["op"]
        target = step.get("target")
        label = target.get("proc") if isinstance(target, dict) else None

        def collector(ref):
            return isinstance(ref, dict) and ref.get("proc") in collectors

        if op.startswith("global_"):
            yield f"{op}:{'tagged' if isinstance(step['name'], dict) else 'bare'}"
        if op == "start" and step["kind"] == "dynamic_supervisor":
            template = step.get("child")
            if template is None:
                yield "dynsup:no_template"
            else:
                yield from (f"template:{form}_arg" for form in ("local", "global", "via") if _args(template, form))
                if _args(template.get("id")):
                    yield "template:arg_id"
                if template["kind"] == "supervisor" and any(_args(c.get("name")) for c in template["children"]):
                    yield "template:supervisor_arg_children"
            for ref in [{"proc": step.get("as")}, step.get("name")]:
                templates.setdefault(_key(ref), []).append(template)
        if op == "start_child" and isinstance(step["spec"], list):
            ts = templates.get(_key(step["sup"]), [])
            if None in ts:
                yield "dynsup_spec:args"
            if any(t and _args(t, "local") for t in ts) and step["spec"] and isinstance(step["spec"][0], str):
                yield "start_child:atom_args"
            if any(t and max(_args(t), default=-1) >= len(step["spec"]) for t in ts):
                yield "start_child:arg_past_args"
        elif op == "start_child" and templates.get(_key(step["sup"])) and None in templates[_key(step["sup"])]:
            spec = step["spec"]
            yield f"dynsup_spec:kind:{spec['kind']}"
            yield f"dynsup_spec:restart:{spec.get('restart', 'permanent')}"
            yield f"dynsup_spec:shutdown:{spec.get('shutdown', 'default')}"
            yield "dynsup_spec:named" if "name" in spec else "dynsup_spec:unnamed"
            yield "dynsup_spec:as" if "as" in spec or "as" in step else "dynsup_spec:no_as"
        if op in ("start", "start_child") and any(spec.get("shutdown") == 0 for spec in _specs(step)):
            yield "child_spec:shutdown:0"
        if op == "stop" and collector(target):
            reason = step.get("reason", "normal")
            yield f"stop_collector:{reason if isinstance(reason, str) else json.dumps(reason)}"
        if op == "messages" and label in ended and collector(target):
            if collectors[label] == "eager" and isinstance(result, list):
                yield "messages:dead:eager"
            if collectors[label] == "mailbox" and result == {"error": "noproc"}:
                yield "messages:dead:mailbox"
        if op == "registry_keys" and label in unbound:
            yield "registry_keys:unbound"
            if "unique_registry" in (step["registry"], backends.get(_key(step["registry"]))):
                yield "registry_keys:unique_registry:unbound"
        elif op == "registry_keys" and label is None:
            yield f"registry_keys:{next(iter(target))}"
        if any(isinstance(v, dict) and v.get("proc") in orphans for v in step.values()):
            yield "failed_supervisor:child_label_used"
        if op in ("messages", "trap_exit") and label is None:
            yield f"{op}:name"
        if op in ("link", "unlink") and not ("proc" in step["a"] and "proc" in step["b"]):
            yield f"{op}:name"
        if result in ({"error": "not_a_collector"}, {"error": "not_a_supervisor"}):
            yield result["error"]
        if op in ("call", "stop") and {"pid": "P0"} in (step.get("to"), target):
            yield "calling_self"
        if op == "alive" and isinstance(target, dict) and "local" in target:
            yield "alive:local"
        if op == "demonitor" and step["ref"]["ref"] in unbound:
            yield "demonitor:failed_monitor"
        if op in ("link", "unlink") and step["a"].get("proc") in unbound and collector(step["b"]):
            yield f"{op}:a_unbound"
        if op == "register" and "via" in step["name"]:
            if step["name"]["via"][0] == "unique_registry" and label in ended and collector(target):
                yield "register:unique_registry:dead_collector"
            elif step["name"]["via"][0] != "unique_registry" and label in unbound:
                yield "register:map_registry:unbound"
        if op == "monitor" and isinstance(target, dict) and "via" in target:
            if step["watcher"]["proc"] in ended and target["via"][0] in dead_backends:
                yield "monitor:via:dead_watcher:dead_registry"

        # What the step leaves behind.
        if op == "stop" or op == "kill" and step.get("reason", "kill") == "kill":
            ended.add(label)  # surely dead (another kill reason may be trapped or ignored)
        if op in ("kill", "stop"):
            if _key(target) in backends:
                dead_backends.add(backends[_key(target)])
        if op == "spawn" or op == "start" and step["kind"] == "collector":
            collectors[step["as"]] = step.get("mode", "eager")
        for spec in _specs(step):
            if spec["kind"] == "collector" and "as" in spec:
                collectors[spec["as"]] = spec.get("mode", "eager")
        if op == "start" and step["kind"] == "registry_server":
            for ref in [{"proc": step["as"]}, step.get("name")]:
                backends[_key(ref)] = step.get("backend", "map_registry")
        if isinstance(result, dict) and ("error" in result or "exit" in result):
            labels = {spec["as"] for spec in _specs(step) if "as" in spec}
            unbound |= labels | ({step["as"]} if "as" in step else set())
            children = {spec["as"] for spec in _specs(step) if "as" in spec and spec is not step.get("spec")}
            if op == "start" and step["kind"] == "supervisor" or \
                    op == "start_child" and isinstance(step["spec"], dict) and step["spec"]["kind"] == "supervisor":
                orphans |= children


def test_beam_seeds_draw_every_v11_shape():
    counts = Counter()
    for seed in BEAM_SEEDS:
        doc = generate(seed, length=LENGTH, otp=True)
        counts.update(_v11_shapes(doc["steps"], run_scenario(parse(doc))))
    missing = [w for w in V11_SHAPES if not counts[w]]
    assert not missing, f"no beam seed draws: {missing}"


# generate(seed) without otp, seeds 0-199 at lengths 14, 24, 30, 40.
DEFAULT_DIGEST = "24bf238c082913e7be874c9b7dcd4043a9d3a5a73e5bffb84cb4585dacbb4051"


def test_default_scenarios_are_the_ones_the_runtime_tests_know():
    # generate(seed) without otp must not change: tests/unit/test_impl_agreement.py
    # and tests/test_determinism.py pick their seeds by it.
    digest = hashlib.sha256(json.dumps([generate(seed, length=length) for seed in range(200)
                                        for length in (14, 24, 30, 40)], sort_keys=True).encode()).hexdigest()
    assert digest == DEFAULT_DIGEST
