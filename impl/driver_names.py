"""The driver's steps that go through OTP code, in the threaded runtime: starts, global and via names, supervisors.

Implements: SCN-5, VIA-1, VIA-5, REG-GLOBAL-5, SUP-8, SUP-10, DSUP-1

The same steps as `regspec.model.driver_names`, run by the driver's thread
through its `DriverContext` (`Driver.run_code`): a receive there schedules
the other processes until the awaited message arrives.
"""

from __future__ import annotations

from regspec.common import backends
from regspec.common.childspec import SUPERVISOR_KINDS, child_spec, with_defaults
from regspec.common.protocol import GEN_CAST, DownOf, ReplyOrDown, server_ref
from regspec.common.records import SystemStop, Wait
from regspec.common.results import ARGUMENT_ERROR, ErlangError, link_parties, ok_error, stop_result, stop_self
from regspec.terms import Atom, GlobalName, LocalName, Outcome, Pid, PlainObject, ViaName

from . import gen, kinds, registry_global, registry_via
from .collector import Control, refusal
from .process import Context

__all__ = ["to_command"]

OK = Atom("ok")
NAMES = (GlobalName, ViaName)


def to_command(op: str, a: dict):
    """`fn(driver)` running the step as driver code, or None when a plain driver action does it."""
    if op == "start":
        spec = child_spec({k: v for k, v in a.items() if k != "as"})
        return _code(_start, spec, a.get("link", True))
    if op in ("start_child", "terminate_child", "which_children", "count_children"):
        return _code(_sup_call, op, a)
    if op in ("global_register", "global_unregister", "global_send"):
        return _code(_global, op, _global_term(a["name"]), a.get("target"), a.get("msg"))
    if op == "registry_keys":
        return _code(_registry_keys, a["registry"], a["target"])
    if op in ("link", "unlink") and any(isinstance(a[k], NAMES) for k in ("a", "b")):
        return _code(_link, op, a["a"], a["b"])
    if op in ("messages", "trap_exit") and isinstance(a["target"], NAMES):
        request = ("messages",) if op == "messages" else ("trap_exit", a["value"])
        return _code(_ask_named, a["target"], request)
    if not any(isinstance(a.get(k), NAMES) for k in ("name", "to", "target")):
        return None
    if op == "register":
        return _code(_register, a["name"], a["target"])
    if op == "unregister":
        return _code(_unregister, a["name"], a.get("target"))
    if op == "whereis":
        return _code(gen.where, a["name"])
    if op == "send":
        return _code(_send, a["to"], a["msg"])
    if op == "call":
        return _code(_call, a["to"], a["msg"], a.get("timeout", 5000))
    if op == "cast":
        return _code(_cast, a["to"], a["msg"])
    if op == "kill":
        return _code(_kill, a["target"], a.get("reason", Atom("kill")))
    if op == "stop":
        return _code(_stop, a["target"], a.get("reason", Atom("normal")))
    if op == "alive":
        return _code(_alive, a["target"])
    if op == "monitor":
        return _code(_monitor, a["watcher"], a["target"])
    return None


def _code(fn, *args):
    return lambda driver: driver.run_code(fn, *args)


def _global_term(name: object) -> object:
    return name.name if isinstance(name, (GlobalName, LocalName, ViaName)) else name


def _start(ctx: Context, spec, link: bool) -> object:
    result = kinds.start_kind(ctx, with_defaults(spec))
    if not link and result[0] == OK:
        ctx.unlink(result[1])
    return ok_error(result)


def _resolve(ctx: Context, target: object) -> object:
    return target if isinstance(target, Pid) else gen.where(ctx, target)


def _was_collector(rt, me: Pid, target: object) -> bool:
    """A collector, alive or not: a dead one is asked anyway and answers noproc, as on the beam."""
    proc = rt.process(target)
    return proc is not None and proc.kind == "collector"


def _is_collector(rt, me: Pid, target: object) -> bool:
    proc = rt.process(target)
    return proc is not None and proc.alive and proc.kind == "collector"


def _register(ctx: Context, name: object, target: object) -> object:
    if isinstance(name, GlobalName):
        return registry_global.register_name(ctx, name.name, target)
    if backends.get(name.backend).self_register and ctx.atomic(_was_collector, target):
        return _ask(ctx, target, ("apply", _register_self, name))
    return registry_via.backend(name.backend).register_name(ctx, name.name, target)


def _unregister(ctx: Context, name: object, target: object) -> object:
    if isinstance(name, GlobalName):
        return registry_global.unregister_name(ctx, name.name)
    if backends.get(name.backend).self_register and ctx.atomic(_was_collector, target):
        return _ask(ctx, target, ("apply", _unregister_self, name))
    return registry_via.backend(name.backend).unregister_name(ctx, name.name)


def _register_self(ctx: Context, name: ViaName) -> object:
    """Run by the collector itself, for a backend where only the caller may take a name for itself
    (unique_registry: Registry.register)."""
    return registry_via.backend(name.backend).register_name(ctx, name.name, ctx.pid)


def _unregister_self(ctx: Context, name: ViaName) -> object:
    return registry_via.backend(name.backend).unregister_name(ctx, name.name)


def _ask(ctx: Context, target: Pid, request: tuple) -> object:
    """A control request the collector performs itself, awaited under a monitor."""
    mon = ctx.monitor(target)
    ctx.send(target, Control(mon, request, ctx.pid))
    msg = ctx.receive(ReplyOrDown(mon, mon).matches)
    if DownOf(mon).matches(msg):
        return ctx.atomic(_not_asked, target, request)   # it died first
    ctx.demonitor(mon, True)
    value = msg[1]
    if isinstance(value, Outcome) and value.tag == "error":
        raise ErlangError("error", value.value)
    return value


def _link(ctx: Context, op: str, a: object, b: object) -> object:
    """link/unlink where `a` or `b` is a global or via name: the driver looks it up first
    (SPEC.md, known differences: who looks a name up); then the collector calls it."""
    found = {}   # to choose the caller, a name that cannot be looked up counts as free
    for t in (a, b):
        if isinstance(t, NAMES):
            try:
                found[t] = gen.where(ctx, t)
            except ErlangError:
                found[t] = Atom("undefined")
    caller, other = ctx.atomic(_link_parties, a, b, found)
    if not ctx.atomic(_is_collector, caller):
        return ctx.atomic(_not_asked, caller, (op, other))
    if isinstance(other, NAMES):
        other = gen.where(ctx, other)   # the caller's own lookup: its failure is the step's answer
    return _ask(ctx, caller, (op, other))


def _link_parties(rt, me: Pid, a: object, b: object, found: dict) -> tuple:
    def resolve(t):
        t = found.get(t, t)
        holder = rt.names.whereis(t.name) if isinstance(t, LocalName) else t
        return holder if isinstance(holder, Pid) else None
    return link_parties(a, b, resolve, lambda p: _was_collector(rt, me, p))


def _ask_named(ctx: Context, target: object, request: tuple) -> object:
    """A collector request whose target is a global or via name: the driver looks it up first."""
    pid = _resolve(ctx, target)
    if not ctx.atomic(_is_collector, pid):
        return ctx.atomic(_not_asked, pid, request)
    return _ask(ctx, pid, request)


def _not_asked(rt, me: Pid, pid: object, request: tuple) -> object:
    """What a request answers when no live collector can take it (SCN-8, SCN-11)."""
    return refusal(rt.process(pid), request)


def _send(ctx: Context, to: object, msg: object) -> object:
    try:
        gen.send(ctx, to, msg)
    except ErlangError as e:
        if e.reason == Atom("badarg") or (isinstance(e.reason, tuple) and e.reason and e.reason[0] == Atom("badarg")):
            return Outcome("error", Atom("badarg"))
        raise
    return OK


def _call(ctx: Context, to: object, msg: object, timeout: object) -> object:
    printed = (Atom("via"), Atom(to.backend), to.name) if isinstance(to, ViaName) else server_ref(to)
    return gen.gen_call(ctx, to, msg, None if timeout == "infinity" else timeout, printed_as=printed)


def _cast(ctx: Context, to: object, msg: object) -> object:
    try:
        gen.send(ctx, to, (GEN_CAST, msg))
    except ErlangError:
        pass  # gen_server:cast catches everything
    return OK


def _kill(ctx: Context, target: object, reason: object) -> object:
    pid = _resolve(ctx, target)
    if not isinstance(pid, Pid):
        raise ErlangError("error", Atom("badarg"))
    ctx.exit_signal(pid, reason)
    return Atom("true")


def _stop(ctx: Context, target: object, reason: object) -> object:
    pid = _resolve(ctx, target)
    if not isinstance(pid, Pid):
        raise ErlangError("exit", Atom("noproc"))
    if pid == ctx.pid:
        return stop_self(pid, reason)
    mon = ctx.monitor(pid)
    ctx.send(pid, SystemStop(reason))
    msg = ctx.receive(DownOf(mon).matches)
    return stop_result(Wait("stop", mon, pid, reason=reason), msg[4])


def _alive(ctx: Context, target: object) -> object:
    pid = _resolve(ctx, target)
    if not isinstance(pid, Pid):
        return Atom("false")
    return Atom("true") if ctx.atomic(lambda rt, me: rt.is_alive(pid)) else Atom("false")


def _monitor(ctx: Context, watcher: object, target: object) -> object:
    if not ctx.atomic(_is_collector, watcher):
        # A dead watcher answers before any lookup; a live non-collector too (SCN-11).
        return ctx.atomic(_not_asked, watcher, ("monitor", target))
    pid = _resolve(ctx, target)
    if not isinstance(pid, Pid):
        return Outcome("error", Atom("noproc"))
    return _ask(ctx, watcher, ("monitor", pid))


def _sup_call(ctx: Context, op: str, a: dict) -> object:
    sup = _resolve(ctx, a["sup"])
    if op == "start_child":
        spec = a["spec"]
        arg = with_defaults(child_spec(spec)) if isinstance(spec, dict) else tuple(spec)
        request = (Atom("start_child"), arg)
    elif op == "terminate_child":
        request = (Atom("terminate_child"), a["pid"] if "pid" in a else a["id"])
    else:
        request = Atom(op)
    if not isinstance(sup, Pid):
        raise ErlangError("exit", Atom("noproc"))
    if not ctx.atomic(_supervisor_or_dead, sup):
        return Outcome("error", Atom("not_a_supervisor"))   # SCN-11
    if op == "start_child" and ctx.atomic(lambda rt, me: sup in rt.dynamic_templates):
        # DSUP-6: DynamicSupervisor.start_child checks the child spec in the caller, before any call:
        # args need a template (a list is no child spec), and a shutdown must be positive.
        checked = arg if isinstance(spec, dict) else ctx.atomic(lambda rt, me: rt.dynamic_templates[sup])
        if checked is None:
            raise ErlangError("error", ARGUMENT_ERROR)
        if isinstance(checked.shutdown, int) and checked.shutdown <= 0:
            return Outcome("error", (Atom("invalid_shutdown"), checked.shutdown))
    if op == "terminate_child" and not isinstance(request[1], Pid) \
            and ctx.atomic(lambda rt, me: getattr(rt.process(sup), "kind", None)) == "dynamic_supervisor":
        # DynamicSupervisor.terminate_child(sup, pid) when is_pid(pid)
        raise ErlangError("error", Atom("function_clause"))
    value = gen.gen_call(ctx, sup, request)
    if op == "count_children":
        items = {k.name: v for k, v in value.items}
        return PlainObject(tuple((k, items[k]) for k in ("specs", "active", "supervisors", "workers")))
    return ok_error(value)


def _supervisor_or_dead(rt, me: Pid, pid: Pid) -> bool:
    """A scenario's supervisor, or a process that is gone (which answers noproc itself)."""
    proc = rt.process(pid)
    if proc is None or not proc.alive:
        return True
    return proc.kind in SUPERVISOR_KINDS and pid not in rt.registry_servers


def _global(ctx: Context, op: str, name: object, target: object, msg: object) -> object:
    if op == "global_register":
        return registry_global.register_name(ctx, name, target)
    if op == "global_unregister":
        return registry_global.unregister_name(ctx, name)
    return registry_global.send(ctx, name, msg)


def _registry_keys(ctx: Context, registry: object, target: object) -> object:
    found = ctx.atomic(_registry_of, registry)
    if found is None:
        raise ErlangError("exit", Atom("noproc"))
    backend_name, ref = found
    target = _resolve(ctx, target)   # VIA-8: a name is looked up first; a free one is undefined
    return registry_via.backend(backend_name).keys(ctx, ref, target)


def _registry_of(rt, me: Pid, registry: object):
    """(backend, server) of registry_keys' `registry`: a backend's name (its current server), or a
    registry server (from before step 0 too), by pid or local name."""
    if isinstance(registry, Atom) and registry.name in backends.names():
        return registry.name, rt.via_servers[registry.name]
    if isinstance(registry, LocalName):
        registry = rt.names.whereis(registry.name)
    elif isinstance(registry, (GlobalName, ViaName)):
        return None
    return rt.registry_servers.get(registry)
