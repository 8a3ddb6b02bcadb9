"""The driver's steps in the threaded runtime: a scenario step as the action the driver P0 performs.

Implements: SCN-5, SCN-7, SCN-8, SCN-11, PROC-5, GS-3, GS-4, GS-7, VIA-1, VIA-5, REG-GLOBAL-5, SUP-8, SUP-10, DSUP-1

`to_command` is the runtime's one dispatch of the typed steps
(`regspec.common.steps`), the same steps as `regspec.model.driver_names`
performs in its own way. Every step that waits (on global and via names,
starts, supervisors, and the following on any target) is OTP code the
driver's thread runs through its `DriverContext` (`Driver.run_code`, the
driver's one way to block): a receive there schedules the other processes
until the awaited message arrives.

- `call` is gen_server:call (gen:do_call: monitor, request, the reply or
  the DOWN, a timeout firing once nothing else can happen);
- `stop` is gen_server:stop (monitor, `sys:terminate`, await the DOWN);
- `alive` is is_process_alive, answered after the target handled the
  driver's earlier signals (PROC-5);
- `ask` sends a collector its control request under a monitor and awaits
  the tagged answer or the DOWN; a request no live collector can take is
  refused first (SCN-8, SCN-11).
"""

from __future__ import annotations

from operator import methodcaller

from regspec.common import backends, steps
from regspec.common.childspec import SUPERVISOR_KINDS, ChildSpec, with_defaults
from regspec.common.protocol import GEN_CAST, DownOf, ReplyOrDown, server_ref
from regspec.common.records import SystemStop
from regspec.common.steps import Step, Unsupported
from regspec.common.results import ARGUMENT_ERROR, ErlangError, link_parties, ok_error, stop_result, stop_self
from regspec.terms import Atom, GlobalName, LocalName, Outcome, Pid, PlainObject, ViaName

from . import gen, gen_server, kinds, registry_global, registry_via
from .collector import Control, refusal
from .process import Context

__all__ = ["to_command", "call", "stop", "alive", "ask"]

OK = Atom("ok")
NAMES = (GlobalName, ViaName)


def to_command(step: Step):
    """The driver action for one scenario step, its labels bound, as `fn(driver)`: the runtime's one
    dispatch of steps (raises `Unsupported` for a step this release does not cover, SCN-7)."""
    match step:
        case steps.Spawn():
            return lambda d: d.spawn(trap_exit=step.trap_exit, link=step.link, mode=step.mode)
        case steps.Start():
            return _code(_start, step.spec, step.link)
        case steps.StartChild() | steps.TerminateChild() | steps.WhichChildren() | steps.CountChildren():
            return _code(_sup_call, step)
        case steps.GlobalRegister():
            return _code(registry_global.register_name, step.name, step.target)
        case steps.GlobalUnregister():
            return _code(registry_global.unregister_name, step.name)
        case steps.GlobalSend():
            return _code(registry_global.send, step.name, step.msg)
        case steps.RegistryKeys():
            return _code(_registry_keys, step.registry, step.target)
        case steps.Register(name=GlobalName() | ViaName()):
            return _code(_register, step.name, step.target)
        case steps.Register():
            return lambda d: d.register(name=step.name.name, target=step.target)
        case steps.Unregister(name=GlobalName() | ViaName()):
            return _code(_unregister, step.name, step.target)
        case steps.Unregister():
            return lambda d: d.unregister(name=step.name.name)
        case steps.Whereis(name=GlobalName() | ViaName()):
            return _code(gen.where, step.name)
        case steps.Whereis():
            return lambda d: d.whereis(name=step.name.name)
        case steps.Registered():
            return lambda d: d.registered()
        case steps.Send(to=GlobalName() | ViaName()):
            return _code(_send, step.to, step.msg)
        case steps.Send():
            return lambda d: d.send(to=step.to, msg=step.msg)
        case steps.Cast(to=GlobalName() | ViaName()):
            return _code(_cast, step.to, step.msg)
        case steps.Cast():
            return lambda d: d.cast(to=step.to, msg=step.msg)
        case steps.Kill(target=GlobalName() | ViaName()):
            return _code(_kill, step.target, step.reason)
        case steps.Kill():
            return lambda d: d.kill(target=step.target, reason=step.reason)
        case steps.Call():
            return call(step.to, step.msg, step.timeout, step.exit_during)
        case steps.Stop():
            return stop(step.target, step.reason)
        case steps.Alive(target=GlobalName() | ViaName()):
            return _code(_alive, step.target)
        case steps.Alive():
            return alive(step.target)
        case steps.Monitor(target=GlobalName() | ViaName()):
            return _code(_monitor, step.watcher, step.target)
        case steps.Monitor():
            target = step.target.name if isinstance(step.target, LocalName) else step.target
            return ask(step.watcher, ("monitor", target))
        case steps.Demonitor():
            return ask(step.watcher, ("demonitor", step.ref, step.flush))
        case steps.Link() | steps.Unlink() if isinstance(step.a, NAMES) or isinstance(step.b, NAMES):
            return _code(_link, step.op, step.a, step.b)
        case steps.Link() | steps.Unlink():
            return ask(step.a, (step.op, step.b))
        case steps.TrapExit(target=GlobalName() | ViaName()):
            return _code(_ask_named, step.target, ("trap_exit", step.value))
        case steps.TrapExit():
            return ask(step.target, ("trap_exit", step.value))
        case steps.Messages(target=GlobalName() | ViaName()):
            return _code(_ask_named, step.target, ("messages",))
        case steps.Messages():
            return ask(step.target, ("messages",))
    raise Unsupported   # partition, heal: one node only in this release


def _code(fn, *args):
    return methodcaller("run_code", fn, *args)   # `driver.run_code(fn, *args)`, called in C


# -- the steps on pids and local names: `fn(driver)` --------------------------------------

def call(to: object, msg: object, timeout: object = 5000, exit_during: object = None):
    """`gen_server:call(To, Msg, Timeout)` (GS-3, GS-4, GS-5); `exit_during` is `gen_server.do_call`'s hook."""
    return _code(_call, to, msg, timeout, exit_during)


def stop(target: object, reason: object = Atom("normal")):
    """`gen_server:stop(Target, Reason, infinity)` (GS-7)."""
    return _code(_stop, target, reason)


def alive(target: object):
    """`is_process_alive(Target)`, answered after the driver's earlier signals to it (PROC-5)."""
    return _code(_alive_after_signals, target)


def ask(target: object, request: tuple):
    """A request the collector `target` performs itself (monitor, demonitor, link, unlink, trap_exit, messages)."""
    return _code(_ask_local, target, request)


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


def _ask_local(ctx: Context, target: object, request: tuple) -> object:
    """A control request to a collector named by pid or local name; link and unlink go to the
    collector among the two parties (`link_parties`)."""
    if request[0] in ("link", "unlink"):
        target, other = ctx.atomic(_link_parties, target, request[1], {})
        request = (request[0], other)
    pid = _resolve(ctx, target)
    refused = ctx.atomic(_not_asked, pid, request)
    if refused is not None:
        return refused
    return _ask(ctx, pid, request)


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


def _call(ctx: Context, to: object, msg: object, timeout: object, exit_during: object = None) -> object:
    timeout = None if timeout == "infinity" else timeout
    if isinstance(to, Pid):   # no name to look up: gen:call goes straight to do_call
        return gen_server.do_call(ctx, to, msg, to, timeout, exit_during)
    printed = (Atom("via"), Atom(to.backend), to.name) if isinstance(to, ViaName) else server_ref(to)
    return gen.gen_call(ctx, to, msg, timeout, printed_as=printed, exit_during=exit_during)


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
    return stop_result(pid, reason, msg[4])


def _alive(ctx: Context, target: object) -> object:
    """`alive` of a global or via name: whether the process its lookup finds is alive now, as
    `regspec.model.driver_names` asks it (no PROC-5 request; the lookup itself may let the
    system run)."""
    pid = _resolve(ctx, target)
    if not isinstance(pid, Pid):
        return Atom("false")
    return Atom("true") if ctx.atomic(lambda rt, me: rt.is_alive(pid)) else Atom("false")


def _alive_after_signals(ctx: Context, target: object) -> object:
    """`alive` of a pid or local name: is_process_alive (PROC-5)."""
    pid = _resolve(ctx, target)
    if not isinstance(pid, Pid):
        return Atom("false")
    return Atom("true") if ctx.is_process_alive(pid) else Atom("false")   # PROC-5


def _monitor(ctx: Context, watcher: object, target: object) -> object:
    if not ctx.atomic(_is_collector, watcher):
        # A dead watcher answers before any lookup; a live non-collector too (SCN-11).
        return ctx.atomic(_not_asked, watcher, ("monitor", target))
    pid = _resolve(ctx, target)
    if not isinstance(pid, Pid):
        return Outcome("error", Atom("noproc"))
    return _ask(ctx, watcher, ("monitor", pid))


def _sup_call(ctx: Context, step: Step) -> object:
    op = step.op
    sup = _resolve(ctx, step.sup)
    if op == "start_child":
        spec = step.spec
        arg = with_defaults(spec) if isinstance(spec, ChildSpec) else spec
        request = (Atom("start_child"), arg)
    elif op == "terminate_child":
        request = (Atom("terminate_child"), step.pid if step.pid is not None else step.id)
    else:
        request = Atom(op)
    if not isinstance(sup, Pid):
        raise ErlangError("exit", Atom("noproc"))
    if not ctx.atomic(_supervisor_or_dead, sup):
        return Outcome("error", Atom("not_a_supervisor"))   # SCN-11
    if op == "start_child" and ctx.atomic(lambda rt, me: sup in rt.dynamic_templates):
        # DSUP-6: DynamicSupervisor.start_child checks the child spec in the caller, before any call:
        # args need a template (a list is no child spec), and a shutdown must be positive.
        checked = arg if isinstance(spec, ChildSpec) else ctx.atomic(lambda rt, me: rt.dynamic_templates[sup])
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
