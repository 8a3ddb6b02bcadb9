"""The via protocol in the threaded runtime, the legs of the three built-in backends, and their servers.

Implements: VIA-1, VIA-2, VIA-3, VIA-4, VIA-5, VIA-6, VIA-7

A via backend's impl leg is an object with the four methods gen expects
of a `{via, Module, Name}` module, here taking the calling process's
`Context`:

    register_name(ctx, name, pid) -> yes | no
    unregister_name(ctx, name)    -> ok
    whereis_name(ctx, name)       -> pid | undefined
    send(ctx, name, msg)          -> pid, or raises exit {badarg, {Name, Msg}}

and, for a backend with a registry server, `prestart(rt, pid)`,
`start_server(ctx, name)` and `keys(ctx, server, pid)` (docs/backends.md).
The backends are registered in `regspec.common.backends`, which names each
leg; gen looks a via name's leg up there (`gen.via_backend`). The three of
the contract (`MAP_REGISTRY`, `MAP_REGISTRY_NOMONITOR`, `UNIQUE_REGISTRY`)
behave as in `regspec.model.registry_via`:

- `map_registry`: calls to a gen_server holding a map. It monitors each
  registration and keeps which monitor belongs to which name: a DOWN drops
  that name, and `unregister_name` demonitors it, so the DOWN of a former
  holder can never drop the name from its new holder (VIA-2);
- `map_registry_nomonitor`: the same server without monitors, so a dead
  pid keeps its names (VIA-3);
- `unique_registry`: Elixir's Registry, a table read by the caller with
  liveness checked on lookup (VIA-4); registrants are linked to the
  registry's partition, which drops their keys when they exit (VIA-5).
"""

from __future__ import annotations

import attrs

from regspec.common import backends
from regspec.common.childspec import ChildSpec, with_defaults
from regspec.common.protocol import GEN_CALL, GEN_CAST, server_ref
from regspec.common.records import GLOBAL_SERVER, UNIQUE_PARTITION, FrozenMap, LinkRequest, SystemStop, UnlinkRequest
from regspec.common.results import ARGUMENT_ERROR, ErlangError
from regspec.common.supervision import unique_registry_sup_state
from regspec.terms import Atom, ErlList, LocalName, Pid, term_order

from . import gen, registry_global, supervisor
from .process import Context

__all__ = ["MAP_REGISTRY", "MAP_REGISTRY_NOMONITOR", "UNIQUE_REGISTRY", "backend", "current_server", "MapBackend",
           "UniqueBackend", "UniqueTable", "start_server", "start_partition", "prestart", "unique_register",
           "unique_unregister"]

UNDEFINED = Atom("undefined")
YES = Atom("yes")
NO = Atom("no")
OK = Atom("ok")
EXIT = Atom("EXIT")
DOWN = Atom("DOWN")
BOOT_REGISTRY = Atom("regspec.unique_registry")   # the name of the unique Registry from before step 0


def current_server(ctx: Context, backend: str) -> object:
    """Where the backend's via names go now: its server's pid or name (VIA-6)."""
    return ctx.atomic(lambda rt, me: rt.via_servers[backend])


class MapBackend:
    """`map_registry` and `map_registry_nomonitor`: calls to the backend's current map server."""

    def __init__(self, name: str, monitor: bool):
        self.name = name
        self.monitor = monitor

    def _call(self, ctx: Context, request: tuple) -> object:
        server = current_server(ctx, self.name)
        return gen.gen_call(ctx, server, request, printed_as=server_ref(server))

    def whereis_name(self, ctx: Context, name: object) -> object:
        return self._call(ctx, (Atom("whereis_name"), name))

    def register_name(self, ctx: Context, name: object, pid: object) -> Atom:
        return self._call(ctx, (Atom("register_name"), name, pid))

    def unregister_name(self, ctx: Context, name: object) -> Atom:
        server = current_server(ctx, self.name)
        pid = server if isinstance(server, Pid) else gen.where(ctx, server)
        if isinstance(pid, Pid):  # a cast never fails
            ctx.send(pid, (GEN_CAST, (Atom("unregister_name"), name)))
        return OK

    def send(self, ctx: Context, name: object, msg: object) -> Pid:
        pid = self.whereis_name(ctx, name)
        if not isinstance(pid, Pid):
            raise ErlangError("exit", (Atom("badarg"), (name, msg)))
        ctx.send(pid, msg)
        return pid

    # -- the registry server: before step 0, a `registry_server` step, `registry_keys`
    def prestart(self, rt, pid: Pid) -> object:
        """The server from before step 0, at `pid` (under `rt.atomic`); it is also where the names go."""
        state = MapRegistry(monitor=self.monitor)
        rt.spawn("registry_server", lambda c: serve_map_registry(c, state), pid=pid, label=self.name)
        return pid

    def start_server(self, ctx: Context, name: object) -> tuple:
        """A new map server (gen_server:start_link), reached by its name, else its pid."""
        result = gen.start(ctx, "registry_server", name, map_init, serve_map_registry, (self.monitor,))
        if result[0] == OK:
            return (OK, result[1], name if name is not None else result[1])
        return result

    def keys(self, ctx: Context, server: object, pid: object) -> object:
        return gen.gen_call(ctx, server, (Atom("keys"), pid))


# -- the map server ------------------------------------------------------------

@attrs.define
class MapRegistry:
    """The map server's state: name -> pid, and (when it monitors) monitor ref -> name."""

    monitor: bool
    names: dict = attrs.Factory(dict)
    refs: dict = attrs.Factory(dict)


def map_init(ctx: Context, starter: Pid, monitor: bool) -> MapRegistry:
    return MapRegistry(monitor=monitor)


def serve_map_registry(ctx: Context, state: MapRegistry) -> None:
    """The map server's loop (regspec/beam/map_registry.erl)."""
    while True:
        msg = ctx.receive()
        if isinstance(msg, SystemStop):
            ctx.exit(msg.reason)
        if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
            (caller, tag), req = msg[1], msg[2]
            ctx.send(caller, (tag, handle_call(ctx, req, state)))
        elif isinstance(msg, tuple) and len(msg) == 2 and msg[0] == GEN_CAST:
            req = msg[1]
            if not (isinstance(req, tuple) and len(req) == 2 and req[0] == Atom("unregister_name")):
                ctx.exit((Atom("bad_cast"), req))
            unregister(ctx, req[1], state)
        elif isinstance(msg, tuple) and len(msg) == 5 and msg[0] == DOWN:
            name = state.refs.pop(msg[1], None)
            if name is not None:
                state.names.pop(name, None)


def handle_call(ctx: Context, req: object, state: MapRegistry) -> object:
    op = req[0] if isinstance(req, tuple) and req else None
    if op == Atom("whereis_name") and len(req) == 2:
        return state.names.get(req[1], UNDEFINED)
    if op == Atom("register_name") and len(req) == 3:
        name, pid = req[1], req[2]
        if name in state.names:
            return NO
        if state.monitor and isinstance(pid, Pid):
            # A non-pid's DOWN on the beam names no pid and never drops the entry: as if unmonitored.
            state.refs[ctx.monitor(pid)] = name
        state.names[name] = pid
        return YES
    if op == Atom("keys") and len(req) == 2:
        return ErlList(tuple(sorted((k for k, p in state.names.items() if p == req[1]), key=term_order)))
    ctx.exit((Atom("bad_call"), req))


def unregister(ctx: Context, name: object, state: MapRegistry) -> None:
    """Drop `name`, and the monitor that watched its holder for it."""
    if state.names.pop(name, None) is None:
        return
    for ref in [r for r, n in state.refs.items() if n == name]:
        del state.refs[ref]
        ctx.demonitor(ref, True)


# -- Elixir's Registry ---------------------------------------------------------

@attrs.define
class UniqueTable:
    """One unique Registry: its supervisor (owner of the info table), its partition and its keys."""

    sup: Pid
    partition: object = None
    keys: dict = attrs.Factory(dict)   # key -> pid


def _table(rt, registry: Atom) -> UniqueTable:
    table = rt.unique.get(registry)
    if table is None or not rt.is_alive(table.sup):
        raise ErlangError("error", ARGUMENT_ERROR)   # VIA-5: "unknown registry"
    return table


def _lookup(rt, me: Pid, key: object, live_partition: bool) -> object:
    table = _table(rt, rt.via_servers["unique_registry"])
    if live_partition and (table.partition is None or not rt.is_alive(table.partition)):
        return UNDEFINED   # the keys went with the partition's table
    return table.keys.get(key, UNDEFINED)


def unique_register(rt, me: Pid, key: object, pid: object) -> Atom:
    """Registry.register_name: only the caller can take a key; it is linked to the partition."""
    if pid != me:
        raise ErlangError("error", Atom("function_clause"))
    table = _table(rt, rt.via_servers["unique_registry"])
    _link(rt, me, table.partition)
    holder = table.keys.get(key)
    if holder is not None and rt.is_alive(holder):
        if me not in table.keys.values():
            _unlink(rt, me, table.partition)   # {error, {already_registered, _}}: no other key holds the link
        return NO
    table.keys[key] = me
    return YES


def unique_unregister(rt, me: Pid, key: object) -> Atom:
    table = _table(rt, rt.via_servers["unique_registry"])
    if table.keys.get(key) == me:
        del table.keys[key]
    if me not in table.keys.values():
        _unlink(rt, me, table.partition)
    return OK


def _link(rt, me: Pid, other: object) -> None:
    proc = rt.process(me)
    if isinstance(other, Pid) and other not in proc.links:
        proc.links.add(other)
        rt.send(me, other, LinkRequest())


def _unlink(rt, me: Pid, other: object) -> None:
    proc = rt.process(me)
    if other in proc.links:
        proc.links.discard(other)
        rt.send(me, other, UnlinkRequest())


class UniqueBackend:
    """`unique_registry`: Elixir's Registry with unique keys, run in the calling process."""

    name = "unique_registry"

    def whereis_name(self, ctx: Context, key: object) -> object:
        holder = ctx.atomic(_lookup, key, True)
        if isinstance(holder, Pid) and ctx.is_process_alive(holder):   # VIA-4
            return holder
        return UNDEFINED

    def register_name(self, ctx: Context, key: object, pid: object) -> Atom:
        return ctx.atomic(unique_register, key, pid)

    def unregister_name(self, ctx: Context, key: object) -> Atom:
        return ctx.atomic(unique_unregister, key)

    def send(self, ctx: Context, key: object, msg: object) -> Pid:
        pid = ctx.atomic(_lookup, key, False)
        if not isinstance(pid, Pid):
            raise ErlangError("error", Atom("badarg"))
        ctx.send(pid, msg)
        return pid

    # -- the Registry: before step 0, a `registry_server` step, `registry_keys`
    def prestart(self, rt, pid: Pid) -> object:
        """The Registry from before step 0: its supervisor at `pid`, linked to its partition."""
        sup_state = unique_registry_sup_state()
        rt.spawn("supervisor", lambda c: supervisor.loop(c, sup_state), pid=pid, label=self.name, trap_exit=True)
        rt.spawn("registry_partition", lambda c: serve_partition(c, pid), pid=UNIQUE_PARTITION, trap_exit=True,
                 label=f"?Elixir.{BOOT_REGISTRY.name}.PIDPartition0")
        rt.process(pid).links.add(UNIQUE_PARTITION)
        rt.process(UNIQUE_PARTITION).links.add(pid)
        rt.unique[BOOT_REGISTRY] = UniqueTable(sup=pid, partition=UNIQUE_PARTITION)
        return BOOT_REGISTRY

    def start_server(self, ctx: Context, name: object) -> tuple:
        return start_unique(ctx, name)

    def keys(self, ctx: Context, registry: object, pid: object) -> object:
        return ctx.atomic(_unique_keys, registry, pid)


def _unique_keys(rt, me: Pid, registry: Atom, pid: object) -> ErlList:
    """Registry.keys(Registry, Pid), sorted."""
    if not isinstance(pid, Pid):
        raise ErlangError("error", Atom("function_clause"))   # Registry.keys(reg, pid) when is_pid(pid)
    table = rt.unique.get(registry)
    if table is None or not rt.is_alive(table.sup):
        raise ErlangError("error", ARGUMENT_ERROR)
    return ErlList(tuple(sorted((k for k, p in table.keys.items() if p == pid), key=term_order)))


MAP_REGISTRY = MapBackend("map_registry", monitor=True)
MAP_REGISTRY_NOMONITOR = MapBackend("map_registry_nomonitor", monitor=False)
UNIQUE_REGISTRY = UniqueBackend()

backend = gen.via_backend   # the impl leg of a backend, by name


# -- starting registry servers -------------------------------------------------------

def start_server(ctx: Context, backend_name: str, name: object) -> tuple:
    """A `registry_server`: a new instance that serves `backend_name` from now on (VIA-6)."""
    result = backend(backend_name).start_server(ctx, name)
    if result[0] == OK:
        ctx.atomic(_note_server, backend_name, result[2], result[1])
        return (OK, result[1])
    return result


def _note_server(rt, me: Pid, backend_name: str, ref: object, pid: Pid) -> None:
    rt.via_servers[backend_name] = ref
    rt.registry_servers[pid] = (backend_name, ref)


def start_unique(ctx: Context, name: object) -> tuple:
    """`Registry.start_link(keys: :unique, name: Reg)`: a one_for_all supervisor over one partition."""
    if name is not None and not isinstance(name, LocalName):
        raise ErlangError("error", ARGUMENT_ERROR)  # VIA-6: Registry's name must be an atom
    registry = name.name if isinstance(name, LocalName) else ctx.atomic(_unnamed_registry)
    partition = Atom(f"Elixir.{registry.name}.PIDPartition0")
    spec = with_defaults(ChildSpec("registry_partition", id=partition, name=LocalName(partition),
                                   options=FrozenMap({"registry": registry})))

    def init(c: Context, starter: Pid) -> object:
        c.atomic(_new_table, registry)
        return supervisor.init(c, starter, Atom("one_for_all"), 3, 5, (spec,))

    result = gen.start(ctx, "supervisor", LocalName(registry), init, supervisor.loop)
    if result[0] == OK:
        return (OK, result[1], registry)
    return result


def _unnamed_registry(rt, me: Pid) -> Atom:
    rt.unnamed_registries += 1
    return Atom(f"unique_registry_{rt.unnamed_registries}")


def _new_table(rt, me: Pid, registry: Atom) -> None:
    rt.unique[registry] = UniqueTable(sup=me)


def start_partition(ctx: Context, registry: Atom, name: object) -> tuple:
    return gen.start(ctx, "registry_partition", name, partition_init, serve_partition, (registry,))


def partition_init(ctx: Context, starter: Pid, registry: Atom) -> Pid:
    """Registry.Partition.init: trap exits; a new key table (the old keys are gone)."""
    ctx.trap_exit(True)
    ctx.atomic(_set_partition, registry)
    return starter   # the partition's state: its parent


def _set_partition(rt, me: Pid, registry: Atom) -> None:
    table = rt.unique[registry]
    table.partition, table.keys = me, {}


def serve_partition(ctx: Context, parent: Pid) -> None:
    """Registry.Partition: an EXIT from a registrant drops its keys; one from the parent stops it."""
    while True:
        msg = ctx.receive()
        if isinstance(msg, SystemStop):
            ctx.exit(msg.reason)
        if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == EXIT:
            if msg[1] == parent:
                ctx.exit(msg[2])
            ctx.atomic(_drop_keys, msg[1])


def _drop_keys(rt, me: Pid, dead: Pid) -> None:
    for table in rt.unique.values():
        if table.partition == me:
            table.keys = {k: p for k, p in table.keys.items() if p != dead}


# -- the processes from before step 0 ---------------------------------------------------

def prestart(rt) -> None:
    """The processes every scenario starts with, as on the beam target (SCN-3): the registry
    server of each registered backend that has one (its leg's `prestart`, at its backend's pid
    `backends.server_pid`, printed by the backend's name, and its backend's current server),
    and the global name server."""
    with rt.atomic:
        for record in backends.all_backends():
            if not record.server or record.impl is None:
                continue
            pid = backends.server_pid(record.name)
            ref = backend(record.name).prestart(rt, pid)
            rt.labels[pid] = record.name
            rt.via_servers[record.name] = ref
            rt.registry_servers[pid] = (record.name, ref)
        rt.spawn("global_name_server", registry_global.serve, pid=GLOBAL_SERVER, label="?global_name_server",
                 trap_exit=True)
