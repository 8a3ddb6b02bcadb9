"""The library's catalogue of kinds: how each starts, what each runs, and the processes from before step 0.

Implements: SCN-1, SCN-4, SCN-5, SUP-11, DSUP-3, DSUP-6, VIA-6

Every kind starts with a `*_link` call from the calling process (the driver
or a supervisor), which becomes its parent. A `ChildSpec` is a child spec
of the contract with names decoded. Child specs, their defaults and the
substitution of a template's arguments are shared with the runtime
(`regspec.common.childspec`); starting a kind is the model's own.

This module is where the OTP library is installed into the tables of the
layers below, as OTP code is loaded and then named by data (a child spec's
`{M, F, A}`, a process's initial call, `{via, Module, Name}`):

- `starters.STARTERS`: how each kind starts (supervisors start their
  children through it, without importing this module);
- `behaviours.BEHAVIOURS`: what a process of each library kind runs on a
  message (erts looks it up by the process's kind), and
  `behaviours.ACTIONS`: the Registry functions a collector applies;
- `gen.NAME_MODULES`: the module behind global names (a via backend's
  module is its model leg, named by `regspec.common.backends`).

`boot(world)` adds the processes that exist before step 0 to a world of
the erts layer (`world.new_world`, only the driver): the registry server
of each backend that has one (the unique Registry with its partition),
the global name server.
"""

from __future__ import annotations

from regspec.common.chat_room import ChatRoom
from regspec.common.childspec import DEFAULT_BACKEND, ChildSpec, with_defaults
from regspec.terms import Atom, Pid

from . import (behaviours, dynamic_supervisor, gen, gen_server, registry_global, registry_via, starters,
               supervisor)
from .code import Compute, Self, TrapExit
from .starters import start_kind
from .world import World

__all__ = ["start_kind", "chat_room_init", "collector_init", "boot", "install"]


# -- how each kind starts --------------------------------------------------------

def start_collector(spec: ChildSpec):
    return (yield from gen.start("collector", spec.name, collector_init, (bool(spec.opt("trap_exit", False)),),
                                 fields=(("mode", spec.opt("mode", "eager")),)))


def start_chat_room(spec: ChildSpec):
    return (yield from gen.start("chat_room", spec.name, chat_room_init, (spec.opt("init_work", 0),)))


def start_supervisor(spec: ChildSpec):
    children = tuple(with_defaults(c) for c in spec.opt("children", ()))
    return (yield from gen.start(
        "supervisor", spec.name, supervisor.init,
        (Atom(spec.opt("strategy", "one_for_one")), spec.opt("max_restarts", 3), spec.opt("max_seconds", 5),
         children)))


def start_dynamic_supervisor(spec: ChildSpec):
    template = spec.opt("child")
    template = with_defaults(template) if template is not None else None  # DSUP-6: Elixir's usual, no template
    intensity, period = spec.opt("max_restarts", 3), spec.opt("max_seconds", 5)
    if spec.opt("impl", "DynamicSupervisor") == "simple_one_for_one":
        return (yield from gen.start("supervisor", spec.name, supervisor.init_dynamic, (intensity, period, template)))
    return (yield from gen.start("dynamic_supervisor", spec.name, dynamic_supervisor.init,
                                 (intensity, period, template)))


def start_registry_server(spec: ChildSpec):
    return (yield from registry_via.start_server(spec.opt("backend", DEFAULT_BACKEND), spec.name))


def start_registry_partition(spec: ChildSpec):
    return (yield from registry_via.start_partition(spec.opt("registry"), spec.name))


def chat_room_init(me: Pid, starter: Pid, init_work: int = 0):
    """The article's Chat.Server init: no messages yet, after `init_work` steps of a loop (SCN-5):
    the room computes with its name taken and its starter waiting for the ack."""
    yield Compute(init_work)
    return ()


def collector_init(me: Pid, starter: Pid, trap_exit: bool):
    """A collector started gen-style: it traps exits if asked (its name was taken before)."""
    if trap_exit:
        yield TrapExit(True)
    yield Self()
    return ()


# -- what each library kind runs ---------------------------------------------------

def chat_room_loop(world: World, pid: Pid) -> World:
    """The article's Chat.Server: the gen_server loop over the shared `ChatRoom` callbacks."""
    return gen_server.loop(world, pid, ChatRoom)


def collector_register(world: World, me: Pid, name: object):
    """A collector takes a via name itself, for a backend where only the caller can (unique_registry:
    Registry.register in the holder)."""
    return registry_via.backend(name.backend).register_self(world, me, name.name)


def collector_unregister(world: World, me: Pid, name: object):
    return registry_via.backend(name.backend).unregister_self(world, me, name.name)


def install() -> None:
    """Enter every kind, action and name module of the library into the tables (done once, at import).

    A via backend's module is its model leg, looked up in the backend registry (`gen.name_module`);
    each leg's own `install()` runs when a world is booted (`registry_via.boot`).
    """
    for kind, starter in (("collector", start_collector), ("chat_room", start_chat_room),
                          ("supervisor", start_supervisor), ("dynamic_supervisor", start_dynamic_supervisor),
                          ("registry_server", start_registry_server),
                          ("registry_partition", start_registry_partition)):
        starters.register_starter(kind, starter)
    for kind, behaviour in (
            ("supervisor", behaviours.Behaviour(handle=supervisor.handle)),
            ("dynamic_supervisor", behaviours.Behaviour(handle=dynamic_supervisor.handle)),
            ("registry_server", behaviours.Behaviour(handle=registry_via.handle_map_registry)),
            ("registry_partition", behaviours.Behaviour(handle=registry_via.handle_partition)),
            ("global_name_server", behaviours.Behaviour(handle=registry_global.handle_global_server)),
            ("chat_room", behaviours.Behaviour(loop=chat_room_loop))):
        behaviours.register_kind(kind, behaviour)
    behaviours.register_action("register", collector_register)
    behaviours.register_action("unregister", collector_unregister)
    gen.register_name_module(gen.GLOBAL, registry_global)


def boot(world: World) -> World:
    """`world` (the driver alone, from `world.new_world`) with the processes from before step 0 (SCN-1)."""
    world = registry_via.boot(world)
    return registry_global.boot(world)


install()
