"""The scenario kinds as OTP starts them, in the threaded runtime: `start_kind`.

Implements: SCN-4, SCN-5, SUP-11, DSUP-3, VIA-6

The same dispatch as `regspec.model.kinds.start_kind`, from the calling
process's thread (the driver or a supervisor, which becomes the parent).
Child specs are the shared `ChildSpec` records (`regspec.common.childspec`).

Each kind is an entry of `kind_table` naming its start function, added
when this module is imported; supervisors start their children through
that table, so they never import this module (kinds -> supervisor is the
only direction).
"""

from __future__ import annotations

from regspec.common.childspec import DEFAULT_BACKEND, ChildSpec, with_defaults
from regspec.terms import Atom, Pid

from . import dynamic_supervisor, gen, gen_server, kind_table, registry_via, supervisor
from .behaviours import WorkingRoom, chat_room_init, collector   # importing behaviours also gives the driver the chat room's body
from .process import Context

__all__ = ["start_kind"]

OK = Atom("ok")

start_kind = kind_table.start_kind   # the table's dispatch, with the entries below


def _start_collector(ctx: Context, spec: ChildSpec) -> tuple:
    body = collector(spec.opt("mode", "eager"))
    return gen.start(ctx, "collector", spec.name, _collector_init, lambda c, state: body(c),
                     (bool(spec.opt("trap_exit", False)),))


def _start_chat_room(ctx: Context, spec: ChildSpec) -> tuple:
    return gen.start(ctx, "chat_room", spec.name, chat_room_init,
                     lambda c, state: gen_server.serve(c, WorkingRoom(c), state), (spec.opt("init_work", 0),))


def _start_supervisor(ctx: Context, spec: ChildSpec) -> tuple:
    children = tuple(with_defaults(c) for c in spec.opt("children", ()))
    return gen.start(ctx, "supervisor", spec.name, supervisor.init, supervisor.loop,
                     (Atom(spec.opt("strategy", "one_for_one")), spec.opt("max_restarts", 3),
                      spec.opt("max_seconds", 5), children))


def _start_dynamic_supervisor(ctx: Context, spec: ChildSpec) -> tuple:
    name = spec.name
    template = spec.opt("child")
    template = with_defaults(template) if template is not None else None  # Elixir's usual: no template
    intensity, period = spec.opt("max_restarts", 3), spec.opt("max_seconds", 5)
    if spec.opt("impl", "DynamicSupervisor") == "simple_one_for_one":
        return gen.start(ctx, "supervisor", name, supervisor.init_dynamic, supervisor.loop,
                         (intensity, period, template))
    result = gen.start(ctx, "dynamic_supervisor", name, dynamic_supervisor.init, dynamic_supervisor.loop,
                       (intensity, period, template))
    if result[0] == OK:   # its caller checks start_child's spec against the template (DSUP-6)
        ctx.atomic(lambda rt, me, pid: rt.dynamic_templates.__setitem__(pid, template), result[1])
    return result


def _start_registry_server(ctx: Context, spec: ChildSpec) -> tuple:
    return registry_via.start_server(ctx, spec.opt("backend", DEFAULT_BACKEND), spec.name)


def _start_registry_partition(ctx: Context, spec: ChildSpec) -> tuple:
    return registry_via.start_partition(ctx, spec.opt("registry"), spec.name)


def _collector_init(ctx: Context, starter: Pid, trap_exit: bool) -> tuple:
    """A collector started gen-style: it traps exits if asked (its name was taken before)."""
    if trap_exit:
        ctx.trap_exit(True)
    return ()


kind_table.add_kind("collector", _start_collector)
kind_table.add_kind("chat_room", _start_chat_room)
kind_table.add_kind("supervisor", _start_supervisor)
kind_table.add_kind("dynamic_supervisor", _start_dynamic_supervisor)
kind_table.add_kind("registry_server", _start_registry_server)
kind_table.add_kind("registry_partition", _start_registry_partition)
