"""The world: every process, the local name table and the signals in flight.

Implements: PROC-1, PROC-2, SCN-1, SCN-3

Invariants:
- `processes` holds every process ever created, dead ones too, keyed by pid;
  pids are handed out once, in creation order (PROC-1).
- `in_flight` is ordered by `seq`, the global send order; signals between
  one sender and one receiver are delivered in that order (PROC-2).
- `names` maps each local name to a live process, and a pid appears at most
  once among its values (REG-LOCAL-2, REG-LOCAL-7).
- Every record is frozen and hashable; a change is `attrs.evolve` (or, on
  the hot paths of `World` and `Process`, `replace`: the same without its
  per-call introspection).
- Every map of the world is a persistent map (`tables`): an update shares
  the rest of the table, a walk sorts only when asked, and the world's hash
  is cached and carried from world to world, so neither a step nor a hash
  grows with the number of processes.

The signal payloads a world carries and `FrozenMap` (the small maps inside
a process: its monitors) are shared with the threaded runtime
(`regspec.common.records`); `Control` and the world's own tables are the
model's.
The driver's step in progress is no field of the world: it is the driver's
own code (`Process.code`), as any waiting process's is.

This is the ground floor of the erts layer: it imports no other module of
the model but its tables (`tables`, which imports none). The processes the OTP library runs from before step 0 (the via
registries, the unique Registry, the global name server) are added by the
library (`kinds.boot`), not here.
"""

from __future__ import annotations

import attrs

from regspec.common.records import DRIVER, FrozenMap, Signal
from regspec.terms import Atom, Pid, Ref

from .tables import NameTable, PMap, ProcessTable, name_table, pmap, process_table

__all__ = ["Process", "Control", "World", "new_world", "replace_process", "replace_world"]


def _replacer(cls):
    """`replace(obj, **changes)`: `attrs.evolve` for the frozen, hash-caching `cls` without evolve's
    per-call field walk and `__init__` (a third of a step's cost). `cls` keeps its fields in its
    instance dict (`slots=False`), so a copy is one dict copy whatever the number of fields. It runs
    no converter: callers pass values already converted (a table from a table's `set`). The hash
    cache is reset, as `__init__` does."""
    names = frozenset(f.name for f in attrs.fields(cls))
    if "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__name__} keeps its fields in slots; `replace` copies an instance dict")
    if not attrs.has(cls) or cls.__hash__ is object.__hash__:
        raise TypeError(f"{cls.__name__} is no hashable attrs class")
    new_object, set_attr = object.__new__, object.__setattr__

    def replace(self, /, **changes):
        if not changes.keys() <= names:
            raise TypeError(f"{cls.__name__} has no field {sorted(changes.keys() - names)[0]!r}")
        fields = self.__dict__.copy()
        fields.update(changes)
        fields[_HASH_CACHE] = None
        new = new_object(cls)
        set_attr(new, "__dict__", fields)
        return new

    return replace


_HASH_CACHE = "_attrs_cached_hash"   # attrs' attribute holding a cache_hash class's cached hash


# -- the model's own message -----------------------------------------------

@attrs.frozen
class Control:
    """A request from the driver to a collector, sent as a message.

    `request` is a tuple whose first item names the action (messages,
    monitor, demonitor, link, unlink, trap_exit); `tag` matches the reply.
    The collector takes it with a selective receive, so it never shows up
    in `messages`.
    """

    tag: Ref
    request: tuple


# -- processes --------------------------------------------------------------

@attrs.frozen(cache_hash=True, slots=False)   # fields in a dict: `replace` copies it in one go
class Process:
    """One process, alive or dead.

    `kind` names its code: the key of its entry in `behaviours.BEHAVIOURS`
    ("collector", "chat_room", "supervisor", ...; the driver has none: it runs only its steps' code).
    `state` is the behaviour's own state (a chat room's messages, newest first).
    """

    pid: Pid
    kind: str
    alive: bool = True
    exit_reason: object = None
    trap_exit: bool = False
    links: frozenset = frozenset()          # pids this process is linked to
    monitors: FrozenMap = FrozenMap()       # ref -> pid: monitors this process holds
    monitored_by: FrozenMap = FrozenMap()   # ref -> (watcher pid, DOWN object)
    mailbox: tuple = ()                     # messages delivered, not yet taken by the code
    kept: tuple = ()                        # messages an eager collector took out
    mode: str = "eager"                     # collector: "eager" or "mailbox"
    state: object = ()
    code: object = None                     # code.Running while the process is inside blocking code


@attrs.frozen(cache_hash=True, slots=False)
class World:
    """The whole system at one instant.

    Its maps are `tables.PMap`s (whatever mapping is passed in is converted),
    `processes` a `ProcessTable` and `names` a `NameTable`, which keep the
    indexes the scheduler and the name table read.
    """

    node: Atom
    processes: ProcessTable = attrs.field(converter=process_table)
    names: NameTable = attrs.field(default=NameTable(), converter=name_table)      # Atom -> Pid (local names)
    in_flight: tuple = ()               # Signal, ordered by seq
    next_pid: int = 1
    next_ref: int = 1
    next_seq: int = 0
    time: int = 0                       # logical milliseconds, advanced only by timeouts
    global_names: NameTable = attrs.field(default=NameTable(), converter=name_table)  # :global's table: name -> pid
    via_servers: PMap = attrs.field(default=PMap(), converter=pmap)        # backend -> its current server (pid, name or registry atom)
    registry_servers: PMap = attrs.field(default=PMap(), converter=pmap)   # registry server pid -> (backend, server)
    unique: PMap = attrs.field(default=PMap(), converter=pmap)             # Registry atom -> its table (the library's record)
    unnamed_registries: int = 0
    bindings: PMap = attrs.field(default=PMap(), converter=pmap)           # child spec "as" label -> the child's first pid
    labels: PMap = attrs.field(default=PMap(), converter=pmap)             # pid -> printed name of a process from before step 0

    # -- pure helpers (return new worlds) --------------------------------
    def process(self, pid: Pid) -> Process | None:
        return self.processes.get(pid)

    def is_alive(self, pid: object) -> bool:
        p = self.processes.get(pid) if isinstance(pid, Pid) else None
        return p is not None and p.alive

    def put(self, proc: Process) -> "World":
        return replace_world(self, processes=self.processes.set(proc.pid, proc))

    def update(self, pid: Pid, **changes) -> "World":
        # `replace_process` and `replace_world` written out: the world's most frequent update.
        processes = self.processes
        fields = processes[pid].__dict__.copy()
        if not changes.keys() <= _PROCESS_FIELDS:
            raise TypeError(f"Process has no field {sorted(changes.keys() - _PROCESS_FIELDS)[0]!r}")
        fields.update(changes)
        fields[_HASH_CACHE] = None
        proc = _new_object(Process)
        _set_attr(proc, "__dict__", fields)
        fields = self.__dict__.copy()
        fields["processes"] = processes.set(pid, proc)
        fields[_HASH_CACHE] = None
        world = _new_object(World)
        _set_attr(world, "__dict__", fields)
        return world

    def send(self, sender: Pid, receiver: Pid, payload: object) -> "World":
        # `replace_world` written out, as in `update`: every signal passes here.
        seq = self.next_seq
        fields = self.__dict__.copy()
        fields["in_flight"] = self.in_flight + (Signal(seq, sender, receiver, payload),)
        fields["next_seq"] = seq + 1
        fields[_HASH_CACHE] = None
        world = _new_object(World)
        _set_attr(world, "__dict__", fields)
        return world

    def make_ref(self) -> tuple["World", Ref]:
        n = self.next_ref
        fields = self.__dict__.copy()
        fields["next_ref"] = n + 1
        fields[_HASH_CACHE] = None
        world = _new_object(World)
        _set_attr(world, "__dict__", fields)
        return world, Ref(n)

    def spawn(self, kind: str, **fields) -> tuple["World", Pid]:
        # SCN-3: pids are numbered in creation order, so a model pid is its printed number.
        pid = Pid(self.next_pid)
        world = replace_world(self, next_pid=self.next_pid + 1)
        return world.put(Process(pid=pid, kind=kind, **fields)), pid

    def name_of(self, pid: Pid) -> Atom | None:
        return self.names.name_of(pid)


replace_process = _replacer(Process)
replace_world = _replacer(World)
_PROCESS_FIELDS = frozenset(f.name for f in attrs.fields(Process))
_new_object, _set_attr = object.__new__, object.__setattr__


def new_world(node: str = "a") -> World:
    """The world of the erts layer before step 0: only the driver P0, which traps exits (SCN-1).

    The OTP library's processes from before step 0 (the registries, the
    global name server) are added by the library: `kinds.boot(world)`.

    >>> w = new_world()
    >>> w.process(DRIVER).trap_exit, w.next_pid
    (True, 1)
    """
    driver = Process(pid=DRIVER, kind="driver", trap_exit=True)
    return World(node=Atom(node), processes=ProcessTable({DRIVER: driver}))
