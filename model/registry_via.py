"""The via protocol, the model's legs of the three built-in backends, and their registry servers.

Implements: VIA-1, VIA-2, VIA-3, VIA-4, VIA-5, VIA-6, VIA-7, VIA-9, BACKEND-1, BACKEND-2, BACKEND-3,
BACKEND-4, BACKEND-5, BACKEND-6

`MAP_REGISTRY` and `UNIQUE_REGISTRY` are also the reference legs of the
conformance kit (`regspec.conformance`): the legs of the classes `down` and
`none`, which keep the registry contract of any via backend (BACKEND-1 to
BACKEND-6).

A via backend's model leg is an object with four generator methods, as
gen_server expects of a `{via, Module, Name}` module (they behave like
`global`'s):

    register_name(name, pid) -> yes | no
    unregister_name(name)    -> ok
    whereis_name(name)       -> pid | undefined
    send(name, msg)          -> pid, or exit {badarg, {Name, Msg}}

and, for a backend with a registry server, `boot(world, pid)`,
`start_server(name)` and `keys(server, pid)` (docs/backends.md). The
backends are registered in `regspec.common.backends`, which names each
leg; `gen.name_module` looks a backend's leg up there. The three of the
contract are `MAP_REGISTRY`, `MAP_REGISTRY_NOMONITOR` and `UNIQUE_REGISTRY`:

- `map_registry` (the article's Chat.Registry): a gen_server holding a map;
  every function is a call to it, except `unregister_name`, a cast. It
  monitors what it registers and drops a dead pid's names when the DOWN
  arrives, so just after a kill `whereis` can still answer the dead pid
  (VIA-2).
- `map_registry_nomonitor`: the same without monitors; a dead pid keeps its
  names for ever (VIA-3), so a start under that name is `already_started`
  with the dead pid, for ever.
- `unique_registry` (Elixir's Registry, unique keys): a table read by the
  caller, liveness checked on lookup (VIA-4); only the calling process can
  take a name; registrants are linked to the registry's partition process,
  which drops their keys when their exit signal arrives. Lookups through a
  registry that is gone raise ArgumentError (VIA-5).

`REDIS_REGISTRY` is the model leg of `redis_registry` (VIA-9), the Redis
backend shared by runtimes (regspec.impl.registry_redis): the model has one
node and no Redis, so it runs the reference of that backend's class, the
map registry with monitors: inside one node a dead holder's name is freed
when its DOWN reaches the registry. The rest of VIA-9 (a vanished runtime's
names expire within the lease) and VIA-10 (a Redis restart) concern several
runtimes and a server the model does not have.

Each backend serves its names through its *current server*
(`world.via_servers`): the instance started before step 0 (`boot`), or the
last `registry_server` started for it (`start_server`, VIA-6).
"""

from __future__ import annotations

import attrs

from regspec.common import backends
from regspec.common.childspec import ChildSpec, with_defaults
from regspec.common.protocol import GEN_CALL, GEN_CAST, server_ref
from regspec.common.records import UNIQUE_PARTITION, FrozenMap, LinkRequest, SystemStop, UnlinkRequest
from regspec.common.results import ARGUMENT_ERROR, ErlangError
from regspec.common.supervision import unique_registry_sup_state
from regspec.terms import Atom, ErlList, LocalName, Pid, term_order

from . import gen, supervisor
from .code import Atomic, Die, Monitor, Send, TrapExit, is_process_alive
from .world import Process, World, replace_world

__all__ = ["MAP_REGISTRY", "MAP_REGISTRY_NOMONITOR", "UNIQUE_REGISTRY", "REDIS_REGISTRY", "backend", "current_server", "MapBackend",
           "UniqueBackend", "MapRegistry", "UniqueTable", "handle_map_registry", "handle_partition", "start_server",
           "start_partition", "boot"]

UNDEFINED = Atom("undefined")
YES = Atom("yes")
NO = Atom("no")
OK = Atom("ok")
EXIT = Atom("EXIT")
DOWN = Atom("DOWN")


def _current(world: World, me: Pid, backend: str):
    return world, world.via_servers[backend]


def current_server(backend: str):
    """Where the backend's via names go now: its server's pid or name (a generator, VIA-6)."""
    return (yield Atomic(_current, (backend,)))


class MapBackend:
    """`map_registry` and `map_registry_nomonitor`: calls to the backend's current map server."""

    def __init__(self, name: str, monitor: bool):
        self.name = name
        self.monitor = monitor

    def _call(self, request):
        server = yield from current_server(self.name)
        return (yield from gen.gen_call(server, request, printed_as=server_ref(server)))

    def whereis_name(self, name):
        return (yield from self._call((Atom("whereis_name"), name)))

    def register_name(self, name, pid):
        return (yield from self._call((Atom("register_name"), name, pid)))

    def unregister_name(self, name):
        server = yield from current_server(self.name)
        pid = server if isinstance(server, Pid) else (yield from gen.where(server))
        if isinstance(pid, Pid):  # a cast never fails
            yield Send(pid, (GEN_CAST, (Atom("unregister_name"), name)))
        return OK

    def send(self, name, msg):
        pid = yield from self.whereis_name(name)
        if not isinstance(pid, Pid):
            raise ErlangError("exit", (Atom("badarg"), (name, msg)))
        yield Send(pid, msg)
        return pid

    # -- the registry server: before step 0, a `registry_server` step, `registry_keys`
    def boot(self, world: World, pid: Pid):
        """The server from before step 0, at `pid`; it is also where the names go."""
        return world.put(Process(pid=pid, kind="registry_server", state=MapRegistry(monitor=self.monitor))), pid

    def start_server(self, name: object):
        """A new map server (gen_server:start_link), reached by its name, else its pid."""
        result = yield from gen.start("registry_server", name, map_init, (self.monitor,))
        if result[0] == OK:
            return (OK, result[1], name if name is not None else result[1])
        return result

    def keys(self, server: object, pid: object):
        return (yield from gen.gen_call(server, (Atom("keys"), pid)))


# -- the map server ------------------------------------------------------------

@attrs.frozen
class MapRegistry:
    """The map server's state: name -> pid, and whether it monitors what it registers."""

    monitor: bool
    names: FrozenMap = FrozenMap()


def map_init(me: Pid, starter: Pid, monitor: bool):
    return MapRegistry(monitor=monitor)
    yield  # pragma: no cover


def handle_map_registry(me: Pid, state: MapRegistry, msg: object):
    """One message through the map server (regspec/beam/map_registry.erl)."""
    if isinstance(msg, SystemStop):
        yield Die(msg.reason)
    if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
        (caller, tag), req = msg[1], msg[2]
        op = req[0] if isinstance(req, tuple) and req else None
        if op == Atom("whereis_name") and len(req) == 2:
            reply = state.names.get(req[1], UNDEFINED)
        elif op == Atom("register_name") and len(req) == 3:
            if req[1] in state.names:
                reply = NO
            else:
                if state.monitor and isinstance(req[2], Pid):
                    # A non-pid (an unbound label: undefined) is monitored as a name on the beam;
                    # its DOWN names no pid, so it never drops the entry: as if unmonitored.
                    yield Monitor(req[2])
                state = attrs.evolve(state, names=state.names.set(req[1], req[2]))
                reply = YES
        elif op == Atom("keys") and len(req) == 2:
            reply = ErlList(tuple(sorted((k for k in state.names if state.names[k] == req[1]), key=term_order)))
        else:
            yield Die((Atom("bad_call"), req))
        yield Send(caller, (tag, reply))
        return state
    if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == GEN_CAST:
        req = msg[1]
        if isinstance(req, tuple) and len(req) == 2 and req[0] == Atom("unregister_name"):
            return attrs.evolve(state, names=state.names.delete(req[1]))
        yield Die((Atom("bad_cast"), req))
    if isinstance(msg, tuple) and len(msg) == 5 and msg[0] == DOWN:
        dead = msg[3]
        return attrs.evolve(state, names=FrozenMap({k: state.names[k] for k in state.names
                                                    if state.names[k] != dead}))
    return state


# -- Elixir's Registry ---------------------------------------------------------

@attrs.frozen
class UniqueTable:
    """One unique Registry: its supervisor (owner of the info table), its partition and its keys."""

    sup: Pid
    partition: object = None
    keys: FrozenMap = FrozenMap()   # key -> pid


def _table(world: World, registry: Atom) -> UniqueTable:
    table = world.unique.get(registry)
    if table is None or not world.is_alive(table.sup):
        raise ErlangError("error", ARGUMENT_ERROR)  # "unknown registry"
    return table


def _unique_lookup_live_table(world: World, me: Pid, key: object):
    """The key's row, unchecked; undefined when the partition's table is gone with it."""
    try:
        table = _table(world, world.via_servers["unique_registry"])
    except ErlangError as e:
        return world, e
    if table.partition is None or not world.is_alive(table.partition):
        return world, UNDEFINED
    return world, table.keys.get(key, UNDEFINED)


def _unique_lookup(world: World, me: Pid, key: object):
    """Registry.lookup: no liveness check."""
    try:
        table = _table(world, world.via_servers["unique_registry"])
    except ErlangError as e:
        return world, e
    return world, table.keys.get(key, UNDEFINED)


def unique_register(world: World, me: Pid, key: object, pid: object):
    if pid != me:
        return world, ErlangError("error", Atom("function_clause"))  # register_name(.., Pid) when Pid == self()
    registry = world.via_servers["unique_registry"]
    try:
        table = _table(world, registry)
    except ErlangError as e:
        return world, e
    partition = table.partition
    world = _link(world, me, partition)
    holder = table.keys.get(key)
    if holder is not None and world.is_alive(holder):
        # {error, {already_registered, Pid}}: drop the link unless the caller holds other keys
        if me not in table.keys.values():
            world = _unlink(world, me, partition)
        return world, NO
    table = attrs.evolve(table, keys=table.keys.set(key, me))
    return replace_world(world, unique=world.unique.set(registry, table)), YES


def unique_unregister(world: World, me: Pid, key: object):
    registry = world.via_servers["unique_registry"]
    try:
        table = _table(world, registry)
    except ErlangError as e:
        return world, e
    if table.keys.get(key) == me:
        table = attrs.evolve(table, keys=table.keys.delete(key))
        world = replace_world(world, unique=world.unique.set(registry, table))
    if me not in table.keys.values():
        world = _unlink(world, me, table.partition)
    return world, OK


def _link(world: World, me: Pid, other: object) -> World:
    proc = world.processes[me]
    if not isinstance(other, Pid) or other in proc.links:
        return world
    world = world.update(me, links=proc.links | {other})
    return world.send(me, other, LinkRequest())


def _unlink(world: World, me: Pid, other: object) -> World:
    proc = world.processes[me]
    if other not in proc.links:
        return world
    world = world.update(me, links=proc.links - {other})
    return world.send(me, other, UnlinkRequest())


class UniqueBackend:
    """`unique_registry`: Elixir's Registry with unique keys, run in the calling process."""

    name = "unique_registry"

    def whereis_name(self, key):
        holder = yield Atomic(_unique_lookup_live_table, (key,))
        if isinstance(holder, Pid) and (yield from is_process_alive(holder)) == Atom("true"):
            return holder
        return UNDEFINED

    def register_name(self, key, pid):
        return (yield Atomic(unique_register, (key, pid)))

    def unregister_name(self, key):
        return (yield Atomic(unique_unregister, (key,)))

    def send(self, key, msg):
        pid = yield Atomic(_unique_lookup, (key,))
        if not isinstance(pid, Pid):
            raise ErlangError("error", Atom("badarg"))
        yield Send(pid, msg)
        return pid

    # -- what a collector applies itself: only the caller takes or drops its key (VIA-4)
    def register_self(self, world: World, me: Pid, key: object):
        return unique_register(world, me, key, me)

    def unregister_self(self, world: World, me: Pid, key: object):
        return unique_unregister(world, me, key)

    # -- the Registry: before step 0, a `registry_server` step, `registry_keys`
    def boot(self, world: World, pid: Pid):
        """The Registry from before step 0: its supervisor at `pid`, linked to its partition."""
        partition_name = Atom(f"Elixir.{BOOT_REGISTRY.name}.PIDPartition0")
        for proc in (
                Process(pid=pid, kind="supervisor", trap_exit=True, state=unique_registry_sup_state(),
                        links=frozenset({UNIQUE_PARTITION})),
                Process(pid=UNIQUE_PARTITION, kind="registry_partition", trap_exit=True, links=frozenset({pid}),
                        state=pid)):
            world = world.put(proc)
        world = replace_world(world, labels=world.labels.set(UNIQUE_PARTITION, "?" + partition_name.name),
                             unique=world.unique.set(BOOT_REGISTRY, UniqueTable(sup=pid, partition=UNIQUE_PARTITION)))
        return world, BOOT_REGISTRY

    def start_server(self, name: object):
        return (yield from start_unique(name))

    def keys(self, registry: object, pid: object):
        return (yield Atomic(_unique_keys, (registry, pid)))


def _unique_keys(world: World, me: Pid, registry: Atom, pid: object):
    """Registry.keys(Registry, Pid), sorted."""
    if not isinstance(pid, Pid):
        return world, ErlangError("error", Atom("function_clause"))   # Registry.keys(reg, pid) when is_pid(pid)
    table = world.unique.get(registry)
    if table is None or not world.is_alive(table.sup):
        return world, ErlangError("error", ARGUMENT_ERROR)
    keys = sorted((k for k in table.keys if table.keys[k] == pid), key=term_order)
    return world, ErlList(tuple(keys))


MAP_REGISTRY = MapBackend("map_registry", monitor=True)
MAP_REGISTRY_NOMONITOR = MapBackend("map_registry_nomonitor", monitor=False)
UNIQUE_REGISTRY = UniqueBackend()
# VIA-9: the Redis backend's reference on one node: a map registry that monitors (its window: until the DOWN).
REDIS_REGISTRY = MapBackend("redis_registry", monitor=True)


def backend(name: str):
    """The model leg of the via backend `name` (`regspec.common.backends` names it)."""
    return gen.name_module(name)


# -- starting registry servers -------------------------------------------------------

def start_server(backend_name: str, name: object):
    """A `registry_server`: a new instance that serves `backend_name` from now on (VIA-6)."""
    result = yield from backend(backend_name).start_server(name)
    if result[0] == OK:
        yield Atomic(_note_server, (backend_name, result[2], result[1]))
        return (OK, result[1])
    return result


def _note_server(world: World, me: Pid, backend_name: str, ref: object, pid: Pid):
    return replace_world(world, via_servers=world.via_servers.set(backend_name, ref),
                        registry_servers=world.registry_servers.set(pid, (backend_name, ref))), OK


def start_unique(name: object):
    """`Registry.start_link(keys: :unique, name: Reg)`: a one_for_all supervisor over one partition."""
    if name is not None and not isinstance(name, LocalName):
        raise ErlangError("error", ARGUMENT_ERROR)  # VIA-6: Registry's name must be an atom
    if isinstance(name, LocalName):
        registry = name.name
    else:
        registry = yield Atomic(_unnamed_registry, ())
    partition = Atom(f"Elixir.{registry.name}.PIDPartition0")
    spec = with_defaults(ChildSpec("registry_partition", id=partition, name=LocalName(partition),
                                   options=FrozenMap({"registry": registry})))
    result = yield from gen.start("supervisor", LocalName(registry), unique_init, (registry, spec))
    if result[0] == OK:
        return (OK, result[1], registry)
    return result


def _unnamed_registry(world: World, me: Pid):
    n = world.unnamed_registries + 1
    return replace_world(world, unnamed_registries=n), Atom(f"unique_registry_{n}")


def unique_init(me: Pid, starter: Pid, registry: Atom, partition_spec):
    """Registry.Supervisor.init: the info table first (owned by the supervisor), then the partition."""
    yield Atomic(_new_table, (registry,))
    return (yield from supervisor.init(me, starter, Atom("one_for_all"), 3, 5, (partition_spec,)))


def _new_table(world: World, me: Pid, registry: Atom):
    return replace_world(world, unique=world.unique.set(registry, UniqueTable(sup=me))), OK


def start_partition(registry: Atom, name: object):
    return (yield from gen.start("registry_partition", name, partition_init, (registry,)))


def partition_init(me: Pid, starter: Pid, registry: Atom):
    """Registry.Partition.init: trap exits; a new key table (the old keys are gone)."""
    yield TrapExit(True)
    yield Atomic(_set_partition, (registry,))
    return starter  # the partition's state: its parent


def _set_partition(world: World, me: Pid, registry: Atom):
    table = world.unique[registry]
    return replace_world(world, unique=world.unique.set(registry, attrs.evolve(table, partition=me,
                                                                               keys=FrozenMap()))), OK


def handle_partition(me: Pid, parent: Pid, msg: object):
    """Registry.Partition: an EXIT from a registrant drops its keys; one from the parent stops it."""
    if isinstance(msg, SystemStop):
        yield Die(msg.reason)
    if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == EXIT:
        if msg[1] == parent:
            yield Die(msg[2])
        yield Atomic(_drop_keys, (msg[1],))
    return parent


def _drop_keys(world: World, me: Pid, dead: Pid):
    for registry in world.unique:
        table = world.unique[registry]
        if table.partition == me:
            keys = FrozenMap({k: table.keys[k] for k in table.keys if table.keys[k] != dead})
            world = replace_world(world, unique=world.unique.set(registry, attrs.evolve(table, keys=keys)))
    return world, OK


# -- before step 0 ---------------------------------------------------------------

BOOT_REGISTRY = Atom("regspec.unique_registry")   # the name of the unique Registry from before step 0


def boot(world: World) -> World:
    """Each registered backend's model leg, ready before step 0: its `install()` (if it has one:
    it enters the kinds its processes run) and, for a backend with a registry server, the server
    from before step 0 (its `boot`) at the backend's pid (`backends.server_pid`), printed by the
    backend's name and serving its names."""
    for record in backends.all_backends():
        if record.model is None:
            continue
        leg = backend(record.name)
        install = getattr(leg, "install", None)
        if install is not None:
            install()
        if not record.server:
            continue
        pid = backends.server_pid(record.name)
        world, ref = leg.boot(world, pid)
        world = replace_world(world, labels=world.labels.set(pid, record.name),
                             via_servers=world.via_servers.set(record.name, ref),
                             registry_servers=world.registry_servers.set(pid, (record.name, ref)))
    return world
