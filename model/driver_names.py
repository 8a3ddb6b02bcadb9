"""The driver's steps that go through OTP code: starts, global and via names, supervisors.

Implements: SCN-5, VIA-1, VIA-5, VIA-8, REG-GLOBAL-5, REG-GLOBAL-6, SUP-8, SUP-10, DSUP-1, DSUP-6, SCN-11

Each step is the generator the driver runs (`driver.RunCode`), written as
the beam driver performs it (regspec/beam/DRIVER.md): resolve a name with
its backend, then call the OTP function. Steps on local names and pids keep
their direct commands in `driver.py`.
"""

from __future__ import annotations

from regspec.common import backends
from regspec.common.childspec import SUPERVISOR_KINDS, ChildSpec, child_spec, with_defaults
from regspec.common.protocol import GEN_CAST, DownOf, ReplyOrDown, server_ref
from regspec.common.records import Message, SystemStop, Wait
from regspec.common.results import ARGUMENT_ERROR, ErlangError, link_parties, ok_error, stop_result, stop_self
from regspec.terms import Atom, GlobalName, LocalName, Outcome, Pid, PlainObject, ViaName

from . import driver, gen, kinds, registry_global, registry_via
from .code import Atomic, ExitTo, Monitor, Receive, Demonitor, Self, Unlink
from .world import Control, World

__all__ = ["to_command"]

OK = Atom("ok")
NAMES = (GlobalName, ViaName)


def to_command(op: str, a: dict):
    """A `RunCode` command for `op`, or None when the plain driver command does it."""
    if op == "start":
        spec = child_spec({k: v for k, v in a.items() if k != "as"})
        return driver.RunCode(_start, (spec, a.get("link", True)))
    if op in ("start_child", "terminate_child", "which_children", "count_children"):
        return driver.RunCode(_sup_call, (op, a))
    if op in ("global_register", "global_unregister", "global_send"):
        return driver.RunCode(_global, (op, _global_term(a["name"]), a.get("target"), a.get("msg")))
    if op == "registry_keys":
        return driver.RunCode(_registry_keys, (a["registry"], a["target"]))
    if op in ("link", "unlink") and any(isinstance(a[k], NAMES) for k in ("a", "b")):
        return driver.RunCode(_link, (op, a["a"], a["b"]))
    if op in ("messages", "trap_exit") and isinstance(a["target"], NAMES):
        request = ("messages",) if op == "messages" else ("trap_exit", a["value"])
        return driver.RunCode(_ask_named, (a["target"], request))
    named = [a.get(k) for k in ("name", "to", "target") if isinstance(a.get(k), NAMES)]
    if not named:
        return None
    if op == "register":
        return driver.RunCode(_register, (a["name"], a["target"]))
    if op == "unregister":
        return driver.RunCode(_unregister, (a["name"], a.get("target")))
    if op == "whereis":
        return driver.RunCode(gen.where, (a["name"],))
    if op == "send":
        return driver.RunCode(_send, (a["to"], a["msg"]))
    if op == "call":
        return driver.RunCode(_call, (a["to"], a["msg"], a.get("timeout", 5000)))
    if op == "cast":
        return driver.RunCode(_cast, (a["to"], a["msg"]))
    if op == "kill":
        return driver.RunCode(_kill, (a["target"], a.get("reason", Atom("kill"))))
    if op == "stop":
        return driver.RunCode(_stop, (a["target"], a.get("reason", Atom("normal"))))
    if op == "alive":
        return driver.RunCode(_alive, (a["target"],))
    if op == "monitor":
        return driver.RunCode(_monitor, (a["watcher"], a["target"]))
    return None


def _global_term(name: object) -> object:
    return name.name if isinstance(name, (GlobalName, LocalName, ViaName)) else name


def _start(spec: ChildSpec, link: bool):
    result = yield from kinds.start_kind(with_defaults(spec))
    if not link and isinstance(result, tuple) and result[0] == OK:
        yield Unlink(result[1])
    return ok_error(result)


def _resolve(target: object):
    if isinstance(target, Pid):
        return target
    return (yield from gen.where(target))


def _register(name: object, target: object):
    if isinstance(name, GlobalName):
        return (yield from registry_global.register_name(name.name, target))
    if backends.get(name.backend).self_register and (yield Atomic(_was_collector, (target,))):
        return (yield from _ask(target, ("register", name)))
    return (yield from registry_via.backend(name.backend).register_name(name.name, target))


def _unregister(name: object, target: object):
    if isinstance(name, GlobalName):
        return (yield from registry_global.unregister_name(name.name))
    if backends.get(name.backend).self_register and (yield Atomic(_was_collector, (target,))):
        return (yield from _ask(target, ("unregister", name)))
    return (yield from registry_via.backend(name.backend).unregister_name(name.name))


def _was_collector(world: World, me: Pid, target: object):
    """A collector, alive or not: a dead one is asked anyway and answers noproc, as on the beam."""
    proc = world.processes.get(target) if isinstance(target, Pid) else None
    return world, proc is not None and proc.kind == "collector"


def _is_collector(world: World, me: Pid, target: object):
    return world, world.is_alive(target) and world.processes[target].kind == "collector"


def _ask(target: Pid, request: tuple):
    """A control request the collector performs itself (see behaviours._control)."""
    mon = yield Monitor(target)
    yield Atomic(_send_control, (target, mon, request))
    msg = yield Receive(ReplyOrDown(mon, mon))
    if DownOf(mon).matches(msg):
        return (yield Atomic(_not_asked, (target, request)))   # it died first
    yield Demonitor(mon, flush=True)
    value = msg[1]
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "error":
        raise ErlangError("error", value[1])
    return value


def _ask_named(target: object, request: tuple):
    """A collector request whose target is a global or via name: the driver looks it up first."""
    pid = yield from _resolve(target)
    if not (yield Atomic(_is_collector, (pid,))):
        return (yield Atomic(_not_asked, (pid, request)))
    return (yield from _ask(pid, request))


def _not_asked(world: World, me: Pid, pid: object, request: tuple):
    """What a request answers when no live collector can take it (SCN-8, SCN-11)."""
    return world, driver.refusal(world, pid, request)


def _send_control(world: World, me: Pid, target: Pid, tag, request):
    return world.send(me, target, Message(Control(tag, request))), OK


def _link(op: str, a: object, b: object):
    """link/unlink where `a` or `b` is a global or via name: the driver looks it up first
    (SPEC.md, known differences: who looks a name up); then the collector calls it."""
    found = []   # to choose the caller, a name that cannot be looked up counts as free
    for t in (a, b):
        if isinstance(t, NAMES):
            try:
                found.append((t, (yield from gen.where(t))))
            except ErlangError:
                found.append((t, Atom("undefined")))
    caller, other = yield Atomic(_link_parties, (a, b, tuple(found)))
    if not (yield Atomic(_is_collector, (caller,))):
        return (yield Atomic(_not_asked, (caller, (op, other))))
    if isinstance(other, NAMES):
        other = yield from gen.where(other)   # the caller's own lookup: its failure is the step's answer
    return (yield from _ask(caller, (op, other)))


def _link_parties(world: World, me: Pid, a: object, b: object, found: tuple):
    looked_up = dict(found)
    resolve = lambda t: driver.resolve(world, looked_up.get(t, t))
    return world, link_parties(a, b, resolve, lambda p: getattr(world.processes.get(p), "kind", None) == "collector")


def _send(to: object, msg: object):
    try:
        yield from gen.send(to, msg)
    except ErlangError as e:
        if e.reason == Atom("badarg") or (isinstance(e.reason, tuple) and e.reason and e.reason[0] == Atom("badarg")):
            return Outcome("error", Atom("badarg"))
        raise
    return OK


def _call(to: object, msg: object, timeout: object):
    return (yield from gen.gen_call(to, msg, None if timeout == "infinity" else timeout,
                                    printed_as=server_ref(to) if not isinstance(to, ViaName)
                                    else (Atom("via"), Atom(to.backend), to.name)))


def _cast(to: object, msg: object):
    try:
        yield from gen.send(to, (GEN_CAST, msg))
    except ErlangError:
        pass  # gen_server:cast catches everything
    return OK


def _kill(target: object, reason: object):
    pid = yield from _resolve(target)
    if not isinstance(pid, Pid):
        raise ErlangError("error", Atom("badarg"))
    yield ExitTo(pid, reason)
    return Atom("true")


def _stop(target: object, reason: object):
    pid = yield from _resolve(target)
    if not isinstance(pid, Pid):
        raise ErlangError("exit", Atom("noproc"))
    if pid == (yield Self()):
        return stop_self(pid, reason)
    mon = yield Monitor(pid)
    yield Atomic(_send_system_stop, (pid, reason))
    msg = yield Receive(DownOf(mon))
    return stop_result(Wait("stop", mon, pid, reason=reason), msg[4])


def _send_system_stop(world: World, me: Pid, pid: Pid, reason: object):
    return world.send(me, pid, Message(SystemStop(reason))), OK


def _alive(target: object):
    pid = yield from _resolve(target)
    if not isinstance(pid, Pid):
        return Atom("false")
    return (yield Atomic(lambda w, me, p: (w, Atom("true") if w.is_alive(p) else Atom("false")), (pid,)))


def _monitor(watcher: object, target: object):
    if not (yield Atomic(_is_collector, (watcher,))):
        # A dead watcher answers before any lookup; a live non-collector too (SCN-11).
        return (yield Atomic(_not_asked, (watcher, ("monitor", target))))
    pid = yield from _resolve(target)
    if not isinstance(pid, Pid):
        return Outcome("error", Atom("noproc"))
    return (yield from _ask(watcher, ("monitor", pid)))


def _sup_call(op: str, a: dict):
    sup = yield from _resolve(a["sup"])
    if op == "start_child":
        spec = a["spec"]
        request = (Atom("start_child"), with_defaults(child_spec(spec)) if isinstance(spec, dict) else tuple(spec))
    elif op == "terminate_child":
        request = (Atom("terminate_child"), a["pid"] if "pid" in a else a["id"])
    else:
        request = Atom(op)
    if not isinstance(sup, Pid):
        raise ErlangError("exit", Atom("noproc"))
    if not (yield Atomic(_supervisor_or_dead, (sup,))):
        return Outcome("error", Atom("not_a_supervisor"))   # SCN-11
    if op == "start_child" and (yield Atomic(_kind_of, (sup,))) == "dynamic_supervisor":
        # DSUP-6: DynamicSupervisor.start_child checks the child spec in the caller, before any call:
        # args need a template (a list is no child spec), and a shutdown must be positive.
        checked = request[1] if isinstance(spec, dict) else (yield Atomic(_template_of, (sup,)))
        if checked is None:
            raise ErlangError("error", ARGUMENT_ERROR)
        if isinstance(checked.shutdown, int) and checked.shutdown <= 0:
            return Outcome("error", (Atom("invalid_shutdown"), checked.shutdown))
    if op == "terminate_child" and not isinstance(request[1], Pid) and (yield Atomic(_kind_of, (sup,))) == "dynamic_supervisor":
        raise ErlangError("error", Atom("function_clause"))  # DynamicSupervisor.terminate_child(sup, pid) when is_pid(pid)
    value = yield from gen.gen_call(sup, request, None)
    if op == "count_children":
        items = {k.name: v for k, v in value.items}
        return PlainObject(tuple((k, items[k]) for k in ("specs", "active", "supervisors", "workers")))
    return ok_error(value)


def _supervisor_or_dead(world: World, me: Pid, pid: Pid):
    """A scenario's supervisor, or a process that is gone (which answers noproc itself)."""
    proc = world.processes.get(pid)
    if proc is None or not proc.alive:
        return world, True
    return world, proc.kind in SUPERVISOR_KINDS and pid not in world.registry_servers


def _template_of(world: World, me: Pid, pid: Pid):
    """A DynamicSupervisor's child template, or None (dead or alive: the caller knows its spec)."""
    return world, world.processes[pid].state.template


def _kind_of(world: World, me: Pid, pid: Pid):
    proc = world.processes.get(pid)
    return world, proc.kind if proc is not None else None


def _global(op: str, name: object, target: object, msg: object):
    """The global_* steps; `name` is the bare term (REG-GLOBAL-6)."""
    if op == "global_register":
        return (yield from registry_global.register_name(name, target))
    if op == "global_unregister":
        return (yield from registry_global.unregister_name(name))
    return (yield from registry_global.send(name, msg))


def _registry_keys(registry: object, target: object):
    found = yield Atomic(_registry_of, (registry,))
    if found is None:
        raise ErlangError("exit", Atom("noproc"))
    backend_name, ref = found
    target = yield from _resolve(target)   # VIA-8: a name is looked up first; a free one is undefined
    return (yield from registry_via.backend(backend_name).keys(ref, target))


def _registry_of(world: World, me: Pid, registry: object):
    """(backend, server) of registry_keys' `registry`: a backend's name (its current server), or a
    registry server (from before step 0 too), by pid or local name."""
    if isinstance(registry, Atom) and registry.name in backends.names():
        return world, (registry.name, world.via_servers[registry.name])
    if isinstance(registry, (LocalName, GlobalName, ViaName)):
        if isinstance(registry, LocalName):
            registry = world.names.get(registry.name)
        else:
            return world, None
    return world, world.registry_servers.get(registry)
