"""The driver's steps: a scenario step as the command the driver P0 performs.

Implements: SCN-5, SCN-7, VIA-1, VIA-5, VIA-8, REG-GLOBAL-5, REG-GLOBAL-6, SUP-8, SUP-10, DSUP-1, DSUP-6, SCN-11

`to_command` is the model's one dispatch of the typed steps
(`regspec.common.steps`). A step that goes through OTP code (a start, a
supervisor request, a global or via name) is a generator the driver runs
(`driver.RunCode`), written as the beam driver performs it
(regspec/beam/DRIVER.md): resolve a name with its backend, then call the OTP
function. Steps on local names and pids are the driver's direct commands
(`driver.py`).
"""

from __future__ import annotations

from regspec.common import steps
from regspec.common.childspec import SUPERVISOR_KINDS, ChildSpec, with_defaults
from regspec.common.protocol import GEN_CAST, DownOf, ReplyOrDown, server_ref
from regspec.common.records import BACKEND_PIDS, Message, SystemStop, Wait
from regspec.common.steps import Step, Unsupported
from regspec.common.results import ARGUMENT_ERROR, ErlangError, link_parties, ok_error, stop_result, stop_self
from regspec.terms import Atom, ErlList, GlobalName, LocalName, Outcome, Pid, PlainObject, ViaName, term_order

from . import driver, gen, kinds, registry_global, registry_via
from .code import Atomic, ExitTo, Monitor, Receive, Demonitor, Self, Unlink
from .world import Control, World

__all__ = ["to_command"]

OK = Atom("ok")
NAMES = (GlobalName, ViaName)


def to_command(step: Step) -> object:
    """The driver command for one scenario step, its labels bound: the model's one dispatch
    of steps (raises `Unsupported` for a step this release does not cover, SCN-7)."""
    match step:
        case steps.Spawn():
            return driver.Spawn(trap_exit=step.trap_exit, link=step.link, mode=step.mode)
        case steps.Start():
            return driver.RunCode(_start, (step.spec, step.link))
        case steps.StartChild() | steps.TerminateChild() | steps.WhichChildren() | steps.CountChildren():
            return driver.RunCode(_sup_call, (step,))
        case steps.GlobalRegister():
            return driver.RunCode(registry_global.register_name, (step.name, step.target))
        case steps.GlobalUnregister():
            return driver.RunCode(registry_global.unregister_name, (step.name,))
        case steps.GlobalSend():
            return driver.RunCode(registry_global.send, (step.name, step.msg))
        case steps.RegistryKeys():
            return driver.RunCode(_registry_keys, (step.registry, step.target))
        case steps.Register(name=GlobalName() | ViaName()):
            return driver.RunCode(_register, (step.name, step.target))
        case steps.Register():
            return driver.Register(step.name.name, step.target)
        case steps.Unregister(name=GlobalName() | ViaName()):
            return driver.RunCode(_unregister, (step.name, step.target))
        case steps.Unregister():
            return driver.Unregister(step.name.name)
        case steps.Whereis(name=GlobalName() | ViaName()):
            return driver.RunCode(gen.where, (step.name,))
        case steps.Whereis():
            return driver.Whereis(step.name.name)
        case steps.Registered():
            return driver.Registered()
        case steps.Send(to=GlobalName() | ViaName()):
            return driver.RunCode(_send, (step.to, step.msg))
        case steps.Send():
            return driver.Send(step.to, step.msg)
        case steps.Call(to=GlobalName() | ViaName()):
            return driver.RunCode(_call, (step.to, step.msg, step.timeout))
        case steps.Call():
            return driver.Call(step.to, step.msg, step.timeout, step.exit_during)
        case steps.Cast(to=GlobalName() | ViaName()):
            return driver.RunCode(_cast, (step.to, step.msg))
        case steps.Cast():
            return driver.Cast(step.to, step.msg)
        case steps.Kill(target=GlobalName() | ViaName()):
            return driver.RunCode(_kill, (step.target, step.reason))
        case steps.Kill():
            return driver.Kill(step.target, step.reason)
        case steps.Stop(target=GlobalName() | ViaName()):
            return driver.RunCode(_stop, (step.target, step.reason))
        case steps.Stop():
            return driver.Stop(step.target, step.reason)
        case steps.Alive(target=GlobalName() | ViaName()):
            return driver.RunCode(_alive, (step.target,))
        case steps.Alive():
            return driver.Alive(step.target)
        case steps.Monitor(target=GlobalName() | ViaName()):
            return driver.RunCode(_monitor, (step.watcher, step.target))
        case steps.Monitor():
            target = step.target.name if isinstance(step.target, LocalName) else step.target
            return driver.Ask(step.watcher, ("monitor", target))
        case steps.Demonitor():
            return driver.Ask(step.watcher, ("demonitor", step.ref, step.flush))
        case steps.Link() | steps.Unlink() if isinstance(step.a, NAMES) or isinstance(step.b, NAMES):
            return driver.RunCode(_link, (step.op, step.a, step.b))
        case steps.Link() | steps.Unlink():
            return driver.Ask(step.a, (step.op, step.b))
        case steps.TrapExit(target=GlobalName() | ViaName()):
            return driver.RunCode(_ask_named, (step.target, ("trap_exit", step.value)))
        case steps.TrapExit():
            return driver.Ask(step.target, ("trap_exit", step.value))
        case steps.Messages(target=GlobalName() | ViaName()):
            return driver.RunCode(_ask_named, (step.target, ("messages",)))
        case steps.Messages():
            return driver.Ask(step.target, ("messages",))
    raise Unsupported   # partition, heal: one node only in this release


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
    if name.backend == "unique_registry" and (yield Atomic(_was_collector, (target,))):
        return (yield from _ask(target, ("register", name)))
    return (yield from registry_via.backend(name.backend).register_name(name.name, target))


def _unregister(name: object, target: object):
    if isinstance(name, GlobalName):
        return (yield from registry_global.unregister_name(name.name))
    if name.backend == "unique_registry" and (yield Atomic(_was_collector, (target,))):
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


def _sup_call(step: Step):
    op = step.op
    sup = yield from _resolve(step.sup)
    if op == "start_child":
        spec = step.spec
        request = (Atom("start_child"), with_defaults(spec) if isinstance(spec, ChildSpec) else spec)
    elif op == "terminate_child":
        request = (Atom("terminate_child"), step.pid if step.pid is not None else step.id)
    else:
        request = Atom(op)
    if not isinstance(sup, Pid):
        raise ErlangError("exit", Atom("noproc"))
    if not (yield Atomic(_supervisor_or_dead, (sup,))):
        return Outcome("error", Atom("not_a_supervisor"))   # SCN-11
    if op == "start_child" and (yield Atomic(_kind_of, (sup,))) == "dynamic_supervisor":
        # DSUP-6: DynamicSupervisor.start_child checks the child spec in the caller, before any call:
        # args need a template (a list is no child spec), and a shutdown must be positive.
        checked = request[1] if isinstance(spec, ChildSpec) else (yield Atomic(_template_of, (sup,)))
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
    return world, proc.kind in SUPERVISOR_KINDS and pid not in world.registry_servers \
        and pid not in BACKEND_PIDS.values()


def _template_of(world: World, me: Pid, pid: Pid):
    """A DynamicSupervisor's child template, or None (dead or alive: the caller knows its spec)."""
    return world, world.processes[pid].state.template


def _kind_of(world: World, me: Pid, pid: Pid):
    proc = world.processes.get(pid)
    return world, proc.kind if proc is not None else None


def _registry_keys(registry: object, target: object):
    found = yield Atomic(_registry_of, (registry,))
    if found is None:
        raise ErlangError("exit", Atom("noproc"))
    backend_name, ref = found
    target = yield from _resolve(target)   # VIA-8: a name is looked up first; a free one is undefined
    if backend_name == "unique_registry":
        return (yield Atomic(_unique_keys, (ref, target)))
    return (yield from gen.gen_call(ref, (Atom("keys"), target)))


def _registry_of(world: World, me: Pid, registry: object):
    if isinstance(registry, Atom) and registry.name in registry_via.VIA_BACKENDS:
        return world, (registry.name, world.via_servers[registry.name])
    if isinstance(registry, (LocalName, GlobalName, ViaName)):
        if isinstance(registry, LocalName):
            registry = world.names.get(registry.name)
        else:
            return world, None
    return world, world.registry_servers.get(registry)


def _unique_keys(world: World, me: Pid, registry: Atom, pid: object):
    if not isinstance(pid, Pid):
        return world, ErlangError("error", Atom("function_clause"))   # Registry.keys(reg, pid) when is_pid(pid)
    table = world.unique.get(registry)
    if table is None or not world.is_alive(table.sup):
        return world, ErlangError("error", ARGUMENT_ERROR)
    keys = sorted((k for k in table.keys if table.keys[k] == pid), key=term_order)
    return world, ErlList(tuple(keys))
