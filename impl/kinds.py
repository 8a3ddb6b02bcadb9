"""The scenario kinds as OTP starts them, in the threaded runtime: `start_kind`.

Implements: SCN-4, SCN-5, SUP-11, DSUP-3, VIA-6

The same dispatch as `regspec.model.kinds.start_kind`, from the calling
process's thread (the driver or a supervisor, which becomes the parent).
Child specs are the shared `ChildSpec` records (`regspec.common.childspec`).
"""

from __future__ import annotations

from regspec.common.chat_room import ChatRoom
from regspec.common.childspec import ChildSpec, substitute_spec, with_defaults
from regspec.terms import Atom, Pid

from . import gen, gen_server
from .behaviours import collector
from .process import Context

__all__ = ["start_kind"]

OK = Atom("ok")


def start_kind(ctx: Context, spec: ChildSpec, args: tuple = ()) -> tuple:
    """Start one process of `spec.kind`: `{ok, Pid}` or `{error, Reason}`."""
    from . import dynamic_supervisor, registry_via, supervisor

    spec = substitute_spec(spec, args)
    name = spec.name
    kind = spec.kind
    if kind == "collector":
        body = collector(spec.opt("mode", "eager"))
        result = gen.start(ctx, "collector", name, _collector_init, lambda c, state: body(c),
                           (bool(spec.opt("trap_exit", False)),))
    elif kind == "chat_room":
        result = gen.start(ctx, "chat_room", name, lambda c, starter: (),
                           lambda c, state: gen_server.serve(c, ChatRoom, state))
    elif kind == "supervisor":
        children = tuple(with_defaults(c) for c in spec.opt("children", ()))
        result = gen.start(ctx, "supervisor", name, supervisor.init, supervisor.loop,
                           (Atom(spec.opt("strategy", "one_for_one")), spec.opt("max_restarts", 3),
                            spec.opt("max_seconds", 5), children))
    elif kind == "dynamic_supervisor":
        template = spec.opt("child")
        template = with_defaults(template) if template is not None else None  # Elixir's usual: no template
        intensity, period = spec.opt("max_restarts", 3), spec.opt("max_seconds", 5)
        if spec.opt("impl", "DynamicSupervisor") == "simple_one_for_one":
            result = gen.start(ctx, "supervisor", name, supervisor.init_dynamic, supervisor.loop,
                               (intensity, period, template))
        else:
            result = gen.start(ctx, "dynamic_supervisor", name, dynamic_supervisor.init, dynamic_supervisor.loop,
                               (intensity, period, template))
            if result[0] == OK:   # its caller checks start_child's spec against the template (DSUP-6)
                ctx.atomic(lambda rt, me, pid: rt.dynamic_templates.__setitem__(pid, template), result[1])
    elif kind == "registry_server":
        result = registry_via.start_server(ctx, spec.opt("backend", "map_registry"), name)
    elif kind == "registry_partition":
        result = registry_via.start_partition(ctx, spec.opt("registry"), name)
    else:  # pragma: no cover - the validator allows only the kinds above
        raise ValueError(f"unknown kind {kind!r}")
    if result[0] == OK and spec.label is not None:
        ctx.atomic(_bind, spec.label, result[1])
    return result


def _collector_init(ctx: Context, starter: Pid, trap_exit: bool) -> tuple:
    """A collector started gen-style: it traps exits if asked (its name was taken before)."""
    if trap_exit:
        ctx.trap_exit(True)
    return ()


def _bind(rt, me: Pid, label: str, pid: Pid) -> None:
    rt.bindings.setdefault(label, pid)
