"""Reading a world: who holds a name, and what `erlang:process_info/2` would say of a process.

Implements: REG-LOCAL-3, REG-GLOBAL-3, VIA-1, PROC-1 (as read between steps)

A world is a value, so reading it never changes it: `whereis` of a global
or via name runs the lookup the driver would run (`gen.where`, through the
name's backend, a registry server answering included) on the world and
throws the resulting world away. Ask between steps, when the driver is not
inside a step's code.

>>> from regspec.common import steps
>>> from regspec.model import new_world, step, to_command, run_until_quiescent
>>> from regspec.terms import Atom, LocalName, Pid, ViaName
>>> w, _ = step(new_world(), to_command(steps.Spawn()))
>>> w, _ = step(w, to_command(steps.Register(name=LocalName(Atom("box")), target=Pid(1))))
>>> w, _ = step(w, to_command(steps.Register(name=ViaName("map_registry", Atom("room")), target=Pid(1))))
>>> w, _ = run_until_quiescent(w)
>>> whereis(w, LocalName(Atom("box"))), whereis(w, ViaName("map_registry", Atom("room")))
(P1, P1)
>>> process_info(w, Pid(1), "registered_name")
box
>>> process_info(w, Pid(1), "monitored_by")   # the map registry's server (P-1) watches its holder
ErlList(items=(P-1,), tail=None)
"""

from __future__ import annotations

from regspec.terms import Atom, ErlList, GlobalName, LocalName, Pid

from . import driver, gen, registry_local
from .scheduler import CanonicalChooser, run_until_result, step
from .world import World

__all__ = ["whereis", "registered", "global_names", "process_info", "ITEMS"]

UNDEFINED = Atom("undefined")
ITEMS = ("messages", "message_queue_len", "links", "monitors", "monitored_by", "trap_exit", "registered_name")


def whereis(world: World, name: object) -> object:
    """The holder of a local, global or via name now: a pid or `undefined` (or the `Outcome` the
    lookup exits with, as when a via name's registry server is dead)."""
    if driver.blocked(world):
        raise ValueError("the driver is inside a step; read the world between steps")
    if isinstance(name, LocalName):
        return registry_local.whereis(world, name.name)
    world, outputs = step(world, driver.RunCode(gen.where, (name,)))
    if outputs:
        return outputs[0].value
    _, value = run_until_result(world, CanonicalChooser())
    return value


def registered(world: World) -> dict:
    """Every local name and its holder (`erlang:registered/0`, with the pids)."""
    return {LocalName(n): world.names[n] for n in world.names}


def global_names(world: World) -> dict:
    """Every name in `:global`'s table and its holder; a dead holder stays until the global
    name server handles its DOWN, as `global:registered_names/0` shows it."""
    return {GlobalName(n): world.global_names[n] for n in world.global_names}


def process_info(world: World, pid: Pid, item: str) -> object:
    """`erlang:process_info(Pid, Item)`'s value: `undefined` for a dead process.

    `messages` are those delivered and not yet taken (an eager collector
    takes every message at once; its `messages` step reads what it took).
    """
    if item not in ITEMS:
        raise ValueError(f"process_info item {item!r}: expected one of {', '.join(ITEMS)}")
    proc = world.processes.get(pid)
    if proc is None or not proc.alive:
        return UNDEFINED
    if item == "messages":
        return ErlList(proc.mailbox)
    if item == "message_queue_len":
        return len(proc.mailbox)
    if item == "links":
        return ErlList(tuple(sorted(proc.links)))
    if item == "monitors":
        # A monitor of a name that was free when set holds no pid; OTP shows the name, we skip it.
        return ErlList(tuple((Atom("process"), p) for p in proc.monitors.values() if isinstance(p, Pid)))
    if item == "monitored_by":
        return ErlList(tuple(watcher for watcher, _ in proc.monitored_by.values()))
    if item == "trap_exit":
        return Atom("true" if proc.trap_exit else "false")
    if item == "registered_name":
        name = world.name_of(pid)
        return name if name is not None else ErlList(())

