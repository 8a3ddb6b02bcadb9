"""The driver's steps: a scenario step as the command the driver P0 performs.

Implements: SCN-5, SCN-7, SCN-8, SCN-11, GS-3, GS-4, GS-5, GS-7, PROC-5, VIA-1, VIA-5, VIA-8, REG-GLOBAL-5, REG-GLOBAL-6,
SUP-8, SUP-10, DSUP-1, DSUP-6

`to_command` is the model's one dispatch of the typed steps
(`regspec.common.steps`). A step that goes through OTP code is a generator
the driver runs (`driver.RunCode`), written as the beam driver performs it (regspec/beam/DRIVER.md): resolve a name with
its backend, then call the OTP function. Every step that may wait is here,
for any target: `call` (gen_server:call), `stop` (proc_lib:stop),
`alive` (is_process_alive), and the collector requests (`ask`, `monitor`,
`link`), the starts, supervisor requests and `:global`, and the steps that
have a plain `driver.py` command for pids and local names (register,
whereis, send, cast, kill, ...) when they name a global or via name.
"""

from __future__ import annotations

from regspec.common import backends, steps
from regspec.common.childspec import SUPERVISOR_KINDS, ChildSpec, with_defaults
from regspec.common.protocol import GEN_CAST, DownOf, ReplyOrDown, server_ref
from regspec.common.records import Message, SystemStop
from regspec.common.steps import Step, Unsupported
from regspec.common.results import ARGUMENT_ERROR, ErlangError, link_parties, ok_error, stop_result, stop_self
from regspec.terms import Atom, GlobalName, LocalName, Outcome, Pid, PlainObject, ViaName

from . import code, driver, gen, kinds, registry_global, registry_via
from .code import Atomic, ExitTo, Monitor, Receive, Demonitor, Self, Unlink
from .world import Control, World

__all__ = ["to_command", "call", "stop", "alive", "ask", "monitor", "link"]

OK = Atom("ok")
NOPROC = Atom("noproc")
NAMES = (GlobalName, ViaName)


def to_command(step: Step) -> object:
    """The driver command for one scenario step, its labels bound: the model's one dispatch
    of steps (raises `Unsupported` for a step this release does not cover, SCN-7)."""
    make = _COMMANDS.get(type(step))
    if make is None:
        raise Unsupported   # partition, heal: one node only in this release
    return make(step)


def _unregister_command(step: steps.Unregister):
    if isinstance(step.name, NAMES):
        return driver.RunCode(_unregister, (step.name, step.target))
    return driver.Unregister(step.name.name)


def _register_command(step: steps.Register):
    if isinstance(step.name, NAMES):
        return driver.RunCode(_register, (step.name, step.target))
    return driver.Register(step.name.name, step.target)


def _whereis_command(step: steps.Whereis):
    if isinstance(step.name, NAMES):
        return driver.RunCode(gen.where, (step.name,))
    return driver.Whereis(step.name.name)


def _send_command(step: steps.Send):
    if isinstance(step.to, NAMES):
        return driver.RunCode(_send, (step.to, step.msg))
    return driver.Send(step.to, step.msg)


def _cast_command(step: steps.Cast):
    if isinstance(step.to, NAMES):
        return driver.RunCode(_cast, (step.to, step.msg))
    return driver.Cast(step.to, step.msg)


def _kill_command(step: steps.Kill):
    if isinstance(step.target, NAMES):
        return driver.RunCode(_kill, (step.target, step.reason))
    return driver.Kill(step.target, step.reason)


# -- the steps that wait, for any target --------------------------------------------

def call(to: object, msg: object, timeout: object = 5000, exit_during: object = None) -> driver.RunCode:
    """`gen_server:call(To, Msg, Timeout)`: the reply, or exit noproc, calling_self, timeout or
    the callee's exit reason (GS-3, GS-4, GS-5).

    `exit_during`, when set, is the reason of an exit signal that reaches
    the server while the call is pending (right behind the request, as if
    another process killed it meanwhile): how the state machine kills a
    process inside a call. Scenario files cannot hold it.
    """
    return driver.RunCode(_call, (to, msg, timeout, exit_during))


def stop(target: object, reason: object = Atom("normal")) -> driver.RunCode:
    """`gen_server:stop(Target, Reason, infinity)` (GS-7)."""
    return driver.RunCode(_stop, (target, reason))


def alive(target: object) -> driver.RunCode:
    """`is_process_alive(Target)` after resolving a name; false for a free name (PROC-5)."""
    return driver.RunCode(_alive, (target,))


def ask(target: object, request: tuple) -> driver.RunCode:
    """A request the collector `target` performs itself: messages, trap_exit, demonitor (SCN-8, SCN-11)."""
    return driver.RunCode(_ask_target, (target, request))


def monitor(watcher: object, target: object) -> driver.RunCode:
    """The collector `watcher` monitors `target` (a local name it resolves itself, MON-3)."""
    return driver.RunCode(_monitor, (watcher, target))


def link(op: str, a: object, b: object) -> driver.RunCode:
    """`link`/`unlink` between `a` and `b`, called by the collector among them."""
    return driver.RunCode(_link, (op, a, b))


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


def _send(to: object, msg: object):
    try:
        yield from gen.send(to, msg)
    except ErlangError as e:
        if e.reason == Atom("badarg") or (isinstance(e.reason, tuple) and e.reason and e.reason[0] == Atom("badarg")):
            return Outcome("error", Atom("badarg"))
        raise
    return OK


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


def _call(to: object, msg: object, timeout: object, exit_during: object):
    """gen_server:call's parts (`gen.gen_call`), with the state machine's exit signal between them."""
    timeout = None if timeout == "infinity" else timeout
    try:
        pid = yield from gen.call_pid(to)
        mref = yield from gen.send_request(pid, msg, timeout)
        if exit_during is not None:
            yield ExitTo(pid, exit_during)
        return (yield from gen.receive_reply(mref, timeout))
    except ErlangError as e:
        printed = (Atom("via"), Atom(to.backend), to.name) if isinstance(to, ViaName) else server_ref(to)
        raise gen.call_exit(e, printed, msg, timeout) from None


def _stop(target: object, reason: object):
    """proc_lib:stop: monitor the server, ask it to terminate and wait for its DOWN (GS-7)."""
    pid = yield from _resolve(target)
    if not isinstance(pid, Pid):
        raise ErlangError("exit", NOPROC)   # GS-7: nothing to stop
    if pid == (yield Self()):
        return stop_self(pid, reason)   # GS-3: sys:terminate refuses to call the caller itself
    mon = yield Monitor(pid)
    yield Atomic(_send_system_stop, (pid, reason))
    msg = yield Receive(DownOf(mon))
    return stop_result(pid, reason, msg[4])


def _send_system_stop(world: World, me: Pid, pid: Pid, reason: object):
    return world.send(me, pid, Message(SystemStop(reason))), OK


def _alive(target: object):
    pid = yield from _resolve(target)
    if not isinstance(pid, Pid):
        return Atom("false")
    return (yield from code.is_process_alive(pid))   # PROC-5


# -- collector requests --------------------------------------------------------------

def _ask_target(target: object, request: tuple):
    """A request to the collector `target`: a name is looked up first (a local one as the beam
    driver resolves it; a global or via one by the driver, SPEC.md's known differences)."""
    pid = yield from _resolve(target)
    refused = yield Atomic(_refused, (pid, request))
    if refused is not None:
        return refused
    return (yield from _ask(pid, request))


def _monitor(watcher: object, target: object):
    watcher = yield from _resolve(watcher)
    refused = yield Atomic(_refused, (watcher, ("monitor", target)))
    if refused is not None:
        return refused   # a dead watcher answers before any lookup; a live non-collector too (SCN-11)
    if isinstance(target, NAMES):
        target = yield from gen.where(target)   # the driver looks a global or via name up
        if not isinstance(target, Pid):
            return Outcome("error", NOPROC)
    # A local name goes as it is: the collector looks it up when it monitors (MON-3).
    return (yield from _ask(watcher, ("monitor", target.name if isinstance(target, LocalName) else target)))


def _link(op: str, a: object, b: object):
    """link/unlink: the collector among `a` and `b` calls it (`link_parties`). A global or via
    name is looked up by the driver first (SPEC.md, known differences: who looks a name up); a local
    one by the collector."""
    found = []   # to choose the caller, a name that cannot be looked up counts as free
    for t in (a, b):
        if isinstance(t, NAMES):
            try:
                found.append((t, (yield from gen.where(t))))
            except ErlangError:
                found.append((t, Atom("undefined")))
    caller, other = yield Atomic(_link_parties, (a, b, tuple(found)))
    refused = yield Atomic(_refused, (caller, (op, other)))
    if refused is not None:
        return refused
    if isinstance(other, NAMES):
        other = yield from gen.where(other)   # the caller's own lookup: its failure is the step's answer
    return (yield from _ask(caller, (op, other)))


def _link_parties(world: World, me: Pid, a: object, b: object, found: tuple):
    """The calling collector's pid (None for an unbound one) and the other party as the step named it."""
    looked_up = dict(found)
    resolve = lambda t: driver.resolve(world, looked_up.get(t, t))
    caller, other = link_parties(a, b, resolve,
                                 lambda p: getattr(world.processes.get(p), "kind", None) == "collector")
    return world, (resolve(caller), other)


def _was_collector(world: World, me: Pid, target: object):
    """A collector, alive or not: a dead one is asked anyway and answers noproc, as on the beam."""
    proc = world.processes.get(target) if isinstance(target, Pid) else None
    return world, proc is not None and proc.kind == "collector"


def _refused(world: World, me: Pid, pid: object, request: tuple):
    """What a request answers when no live collector can take it, or None (SCN-8, SCN-11)."""
    return world, driver.refusal(world, pid, request)


def _ask(target: Pid, request: tuple):
    """A control request the collector performs itself (see behaviours._control), under a monitor
    as gen:call does, so a collector that dies first ends the wait instead of hanging it."""
    mon = yield Monitor(target)
    yield Atomic(_send_control, (target, mon, request))
    msg = yield Receive(ReplyOrDown(mon, mon))
    if DownOf(mon).matches(msg):
        return (yield Atomic(_refused, (target, request)))   # it died first
    yield Demonitor(mon, flush=True)
    value = msg[1]
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "error":
        raise ErlangError("error", value[1])
    return value


def _send_control(world: World, me: Pid, target: Pid, tag, request):
    return world.send(me, target, Message(Control(tag, request))), OK


# -- supervisors, :global, registries -------------------------------------------------

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
    return world, proc.kind in SUPERVISOR_KINDS and pid not in world.registry_servers


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


# The dispatch of `to_command`: step type -> the command for a step of that type.
_COMMANDS = {
    steps.Spawn: lambda step: driver.Spawn(trap_exit=step.trap_exit, link=step.link, mode=step.mode),
    steps.Start: lambda step: driver.RunCode(_start, (step.spec, step.link)),
    steps.StartChild: lambda step: driver.RunCode(_sup_call, (step,)),
    steps.TerminateChild: lambda step: driver.RunCode(_sup_call, (step,)),
    steps.WhichChildren: lambda step: driver.RunCode(_sup_call, (step,)),
    steps.CountChildren: lambda step: driver.RunCode(_sup_call, (step,)),
    steps.GlobalRegister: lambda step: driver.RunCode(registry_global.register_name, (step.name, step.target)),
    steps.GlobalUnregister: lambda step: driver.RunCode(registry_global.unregister_name, (step.name,)),
    steps.GlobalSend: lambda step: driver.RunCode(registry_global.send, (step.name, step.msg)),
    steps.RegistryKeys: lambda step: driver.RunCode(_registry_keys, (step.registry, step.target)),
    steps.Register: _register_command,
    steps.Unregister: _unregister_command,
    steps.Whereis: _whereis_command,
    steps.Registered: lambda step: driver.Registered(),
    steps.Send: _send_command,
    steps.Cast: _cast_command,
    steps.Kill: _kill_command,
    steps.Call: lambda step: call(step.to, step.msg, step.timeout, step.exit_during),
    steps.Stop: lambda step: stop(step.target, step.reason),
    steps.Alive: lambda step: alive(step.target),
    steps.Monitor: lambda step: monitor(step.watcher, step.target),
    steps.Demonitor: lambda step: ask(step.watcher, ("demonitor", step.ref, step.flush)),
    steps.Link: lambda step: link(step.op, step.a, step.b),
    steps.Unlink: lambda step: link(step.op, step.a, step.b),
    steps.TrapExit: lambda step: ask(step.target, ("trap_exit", step.value)),
    steps.Messages: lambda step: ask(step.target, ("messages",)),
}
