"""gen_server: start with a name, call, cast, stop, and the server loop (OTP `gen.erl`, `gen_server.erl`).

Implements: GS-1, GS-2, GS-3, GS-4, GS-5, GS-6, GS-7

The server side is one pure function, `handle`, that feeds a gen_server
message to a behaviour's callbacks and interprets the tagged result they
return (`("reply", Reply, State)`, `("noreply", State)`, `("stop", Reason,
State)`), as `gen_server:loop` does. The client side is code of its own:
`gen.gen_call` for a call, and the driver's steps (`driver.py` for a cast,
`driver_names.py` for a call and a stop). The message shapes of a call and
a cast are shared with the runtime (`regspec.common.protocol`).

Invariants:
- a start whose name is taken creates no process (GS-1);
- a server never unregisters its own name; the runtime frees a local name
  when the server dies (GS-2, REG-LOCAL-7).
"""

from __future__ import annotations

from typing import Callable

from regspec.common.protocol import GEN_CALL, GEN_CAST
from regspec.common.records import Message, SystemStop
from regspec.terms import Pid

from .signals import exit_process
from .world import Control, World

__all__ = ["handle", "loop"]


def loop(world: World, pid: Pid, callbacks) -> World:
    """`gen_server:loop` over the mailbox: every message in order, `sys:terminate` included (GS-7).

    A driver's control request (`Control`) is for collectors only: a
    gen_server takes it and drops it.
    """
    while world.is_alive(pid) and world.processes[pid].mailbox:
        proc = world.processes[pid]
        term, rest = proc.mailbox[0], proc.mailbox[1:]
        world = world.update(pid, mailbox=rest)
        if isinstance(term, SystemStop):
            # GS-7: gen_server handles sys:terminate in its loop, in order with other messages.
            world = exit_process(world, pid, term.reason)
        elif not isinstance(term, Control):
            world = handle(world, pid, term, callbacks)
    return world


def handle(world: World, pid: Pid, term: object, callbacks) -> World:
    """One message through `gen_server:loop`; `callbacks` has handle_call/handle_cast/handle_info."""
    proc = world.processes[pid]
    if isinstance(term, tuple) and len(term) == 3 and term[0] == GEN_CALL \
            and isinstance(term[1], tuple) and len(term[1]) == 2:
        (caller, tag), request = term[1], term[2]
        result = callbacks.handle_call(request, proc.state)
        if result[0] == "reply":
            _, value, state = result
            world = world.update(pid, state=state)
            return world.send(pid, caller, Message((tag, value)))
        return _stop(world, pid, result)
    if isinstance(term, tuple) and len(term) == 2 and term[0] == GEN_CAST:
        result = callbacks.handle_cast(term[1], proc.state)
    else:
        result = callbacks.handle_info(term, proc.state)
    if result[0] == "noreply":
        return world.update(pid, state=result[1])
    return _stop(world, pid, result)


def _stop(world: World, pid: Pid, result: tuple) -> World:
    # ("stop", Reason, State): terminate/2 runs, then the process exits with
    # Reason; a caller waiting on it gets that reason from its monitor (GS-5).
    _, reason, state = result
    return exit_process(world.update(pid, state=state), pid, reason)


HandleCall = Callable[[object, object], tuple]
