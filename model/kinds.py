"""The scenario kinds as OTP starts them: `start_kind`, for the driver and supervisors.

Implements: SCN-4, SCN-5, SCN-9, SUP-11, DSUP-3, DSUP-6, DSUP-7, VIA-6

Every kind starts with a `*_link` call from the calling process (the driver
or a supervisor), which becomes its parent. A `ChildSpec` is a child spec
of the contract with names decoded; in a dynamic supervisor's template a
name may hold `TemplateArg(n)`, replaced by the n-th start argument. Child
specs, their defaults and the substitution are shared with the runtime
(`regspec.common.childspec`); starting a kind is the model's own.

A child spec's `as` label binds the first pid the child ever had
(`world.bindings`), so a scenario can name a supervised child; when the
supervisor itself fails to start, the runner binds none of its children
(SCN-9).
"""

from __future__ import annotations

import attrs

from regspec.common.childspec import ChildSpec, substitute_spec, with_defaults
from regspec.terms import Atom, Pid

from . import gen
from .code import Atomic, Self, TrapExit
from .world import World

__all__ = ["start_kind", "chat_room_init", "collector_init"]

OK = Atom("ok")


def start_kind(spec: ChildSpec, args: tuple = ()):
    """Start one process of `spec.kind` from the running process: `{ok, Pid}` or `{error, Reason}`."""
    from . import dynamic_supervisor, registry_via, supervisor

    spec = substitute_spec(spec, args)
    name = spec.name
    kind = spec.kind
    if kind == "collector":
        result = yield from gen.start("collector", name, collector_init, (bool(spec.opt("trap_exit", False)),),
                                      fields=(("mode", spec.opt("mode", "eager")),))
    elif kind == "chat_room":
        result = yield from gen.start("chat_room", name, chat_room_init)
    elif kind == "supervisor":
        children = tuple(with_defaults(c) for c in spec.opt("children", ()))
        result = yield from gen.start(
            "supervisor", name, supervisor.init,
            (Atom(spec.opt("strategy", "one_for_one")), spec.opt("max_restarts", 3), spec.opt("max_seconds", 5),
             children))
    elif kind == "dynamic_supervisor":
        template = spec.opt("child")
        template = with_defaults(template) if template is not None else None  # DSUP-6: Elixir's usual, no template
        intensity, period = spec.opt("max_restarts", 3), spec.opt("max_seconds", 5)
        if spec.opt("impl", "DynamicSupervisor") == "simple_one_for_one":
            result = yield from gen.start("supervisor", name, supervisor.init_dynamic, (intensity, period, template))
        else:
            result = yield from gen.start("dynamic_supervisor", name, dynamic_supervisor.init,
                                          (intensity, period, template))
    elif kind == "registry_server":
        result = yield from registry_via.start_server(spec.opt("backend", "map_registry"), name)
    elif kind == "registry_partition":
        result = yield from registry_via.start_partition(spec.opt("registry"), name)
    else:  # pragma: no cover - the validator allows only the kinds above
        raise ValueError(f"unknown kind {kind!r}")
    if result[0] == OK and spec.label is not None:
        yield Atomic(_bind, (spec.label, result[1]))
    return result


def _bind(world: World, me: Pid, label: str, pid: Pid):
    if label in world.bindings:
        return world, OK
    return attrs.evolve(world, bindings=world.bindings.set(label, pid)), OK


def chat_room_init(me: Pid, starter: Pid):
    """The article's Chat.Server init: no messages yet."""
    return ()
    yield  # pragma: no cover - makes this a generator


def collector_init(me: Pid, starter: Pid, trap_exit: bool):
    """A collector started gen-style: it traps exits if asked (its name was taken before)."""
    if trap_exit:
        yield TrapExit(True)
    yield Self()
    return ()
