"""Reading a runtime: who holds a name, and what `erlang:process_info/2` says of a process.

Implements: REG-LOCAL-3, REG-GLOBAL-3, VIA-1, PROC-1 (as read between steps)

The same readings as `regspec.model.observe`, on a runtime. `whereis` of a
global or via name is the lookup the driver runs (`gen.where`, a registry
server answering included), so it lets the system run as a lookup step
would; the rest are read under the runtime lock. Use them from the
runtime's thread, between steps.

>>> from regspec.common import steps
>>> from regspec.impl import Driver, Runtime, prestart, to_command
>>> from regspec.terms import Atom, LocalName, Pid, ViaName
>>> rt = Runtime("a"); d = Driver(rt); prestart(rt)
>>> c = to_command(steps.Spawn())(d)
>>> to_command(steps.Register(name=ViaName("map_registry", Atom("room")), target=c))(d)
yes
>>> rt.wait_quiescent()
>>> whereis(d, ViaName("map_registry", Atom("room"))), process_info(rt, c, "monitored_by")
(P1, ErlList(items=(P-1,), tail=None))
>>> rt.shutdown()
"""

from __future__ import annotations

from regspec.terms import Atom, ErlList, GlobalName, LocalName, Pid

from . import gen
from .driver import Driver
from .runtime import Runtime

__all__ = ["whereis", "registered", "global_names", "process_info", "ITEMS"]

UNDEFINED = Atom("undefined")
ITEMS = ("messages", "message_queue_len", "links", "monitors", "monitored_by", "trap_exit", "registered_name")


def whereis(driver: Driver, name: object) -> object:
    """The holder of a local, global or via name now: a pid or `undefined` (or the `Outcome` the
    lookup exits with, as when a via name's registry server is dead)."""
    result = driver.run_code(gen.where, name)
    driver.rt.wait_quiescent()
    return result


def registered(rt: Runtime) -> dict:
    """Every local name and its holder (`erlang:registered/0`, with the pids)."""
    with rt.atomic:
        return {LocalName(n): p for n, p in rt.names.items()}


def global_names(rt: Runtime) -> dict:
    """Every name in `:global`'s table and its holder (a dead holder stays until the global name
    server handles its DOWN)."""
    with rt.atomic:
        return {GlobalName(n): p for n, p in rt.global_names.items()}


def process_info(rt: Runtime, pid: Pid, item: str) -> object:
    """`erlang:process_info(Pid, Item)`'s value: `undefined` for a dead process."""
    if item not in ITEMS:
        raise ValueError(f"process_info item {item!r}: expected one of {', '.join(ITEMS)}")
    with rt.atomic:
        proc = rt.process(pid)
        if proc is None or not proc.alive:
            return UNDEFINED
        if item == "messages":
            return ErlList(tuple(proc.mailbox.messages()))
        if item == "message_queue_len":
            return len(proc.mailbox.messages())
        if item == "links":
            return ErlList(tuple(sorted(proc.links)))
        if item == "monitors":
            return ErlList(tuple((Atom("process"), p) for _, p in sorted(proc.monitors.items())
                                 if isinstance(p, Pid)))
        if item == "monitored_by":
            return ErlList(tuple(w for _, (w, _, _) in sorted(proc.monitored_by.items())))
        if item == "trap_exit":
            return Atom("true" if proc.trap_exit else "false")
        name = rt.names.name_of(pid)
        return name if name is not None else ErlList(())
