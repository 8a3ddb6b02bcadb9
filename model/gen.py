"""gen and proc_lib: the name forms and the synchronous start every OTP behaviour shares.

Implements: GS-1, GS-2, GS-3, GS-4, GS-5, VIA-1, VIA-2, VIA-3, REG-GLOBAL-1, SUP-12

Names come in three forms (`regspec.terms`): local, global and via. For
each form this module knows how to look a name up (`where`), take it for
the calling process (`register_name`), drop it (`unregister_name`) and send
to it (`send`), as OTP's `gen.erl` does. They are generators of effects
(see `code.py`), because a via lookup may be a call to a registry server.

The module behind a global or via name is looked up by name, as gen.erl
calls `Module:whereis_name(Name)` for `{via, Module, Name}` (and `global`
is such a module): `registry_global` is entered in `NAME_MODULES` by the
library (`kinds.py`), and a via backend's module is its model leg, which
the backend registry (`regspec.common.backends`) names. So this module,
which they call for `gen_call` and `start`, imports none of them.

`gen_call` is gen_server:call: `call_pid` (look the server up),
`send_request` (monitor it, send the request) and `receive_reply` (wait for
the reply or the DOWN, with a timeout), the parts of gen:do_call; the
driver's `call` step runs the same parts.

`start` is `gen:start` seen from the starter: look the name up first (a
taken name creates no process, GS-1), spawn and link the child, and wait
for its ack or its exit. `init_it` is the child's side: register the name
before anything else (GS-2), run the kind's init, ack.
"""

from __future__ import annotations

from regspec.terms import Atom, ErlList, GlobalName, LocalName, Pid, ViaName

from regspec.common import backends
from regspec.common.protocol import ACK, Ack, DownOf, ReplyOrDown, call_message, reply_tag
from regspec.common.results import ErlangError, exit_reason

from . import registry_local
from .code import TIMEOUT, Atomic, Demonitor, Die, Monitor, Receive, Self, Send, SpawnLink
from .world import World

__all__ = ["where", "register_name", "unregister_name", "send", "start", "init_it", "gen_call", "call_pid",
           "send_request", "receive_reply", "call_exit", "Stop",
           "NAME_MODULES", "register_name_module", "name_module"]

UNDEFINED = Atom("undefined")
YES = Atom("yes")
OK = Atom("ok")
ERROR = Atom("error")

# The name modules entered by the library: "global" -> an object with the four generator
# functions of the via protocol (register_name, unregister_name, whereis_name, send).
NAME_MODULES: dict = {}
GLOBAL = "global"


def register_name_module(name: str, module: object) -> None:
    """Make `module` the one that serves global names (the library enters `registry_global` as "global")."""
    NAME_MODULES[name] = module


def name_module(name: str):
    """The module serving global names ("global"), or the via backend `name`: its model leg, which
    the backend registry names."""
    if name == GLOBAL:
        return NAME_MODULES[GLOBAL]
    return backends.model_leg(name)


def where(name: object):
    """The pid holding `name` now, or `undefined` (a generator: a via lookup may call a server)."""
    if isinstance(name, LocalName):
        return (yield Atomic(_whereis_local, (name.name,)))
    if isinstance(name, GlobalName):
        return (yield from name_module(GLOBAL).whereis_name(name.name))
    if isinstance(name, ViaName):
        return (yield from name_module(name.backend).whereis_name(name.name))
    return name


def _whereis_local(world: World, pid: Pid, name: object):
    if not isinstance(name, Atom):
        return world, ErlangError("error", Atom("badarg"))  # DSUP-7: whereis/1 of a non-atom (a template's arg)
    return world, registry_local.whereis(world, name)


def _register_local(world: World, pid: Pid, name: Atom):
    world, result = registry_local.register(world, name, pid)
    return world, result == Atom("true")


def register_name(name: object):
    """The calling process takes `name`: True, or False when it is taken (gen:register_name)."""
    me = yield Self()
    if isinstance(name, LocalName):
        return (yield Atomic(_register_local, (name.name,)))
    if isinstance(name, GlobalName):
        return (yield from name_module(GLOBAL).register_name(name.name, me)) == YES
    try:
        answer = yield from name_module(name.backend).register_name(name.name, me)
    except ErlangError:
        return False  # gen wraps the via call in a catch
    return answer == YES


def unregister_name(name: object):
    """Drop `name` (gen:unregister_name, after a failed init): errors are ignored."""
    try:
        if isinstance(name, LocalName):
            yield Atomic(_unregister_local, (name.name,))
        elif isinstance(name, GlobalName):
            yield from name_module(GLOBAL).unregister_name(name.name)
        elif isinstance(name, ViaName):
            yield from name_module(name.backend).unregister_name(name.name)
    except ErlangError:
        pass


def _unregister_local(world: World, pid: Pid, name: Atom):
    world, _ = registry_local.unregister(world, name)
    return world, Atom("ok")


def send(name: object, msg: object):
    """`Name ! Msg` for every form (local names raise badarg when free, PROC-4)."""
    if isinstance(name, LocalName):
        holder = yield from where(name)
        if not isinstance(holder, Pid):
            raise ErlangError("error", Atom("badarg"))
        yield Send(holder, msg)
        return msg
    if isinstance(name, GlobalName):
        return (yield from name_module(GLOBAL).send(name.name, msg))
    if isinstance(name, ViaName):
        return (yield from name_module(name.backend).send(name.name, msg))
    yield Send(name, msg)
    return msg


def gen_call(server: object, request: object, timeout: object = None, printed_as: object = None):
    """`gen_server:call(Server, Request)` made by the running process; raises on exit (GS-3, GS-4, GS-5).

    The reason of a failed call is `{Reason, {gen_server, call, [Server, Request]}}`
    (with the timeout when one was given), as gen_server:call exits;
    `printed_as` is `Server` as the caller named it. `timeout` is in ms,
    None for infinity.
    """
    try:
        pid = yield from call_pid(server)
        mref = yield from send_request(pid, request, timeout)
        return (yield from receive_reply(mref, timeout))
    except ErlangError as e:
        raise call_exit(e, server if printed_as is None else printed_as, request, timeout) from None


def call_pid(server: object):
    """The pid a call to `server` goes to: a name is looked up (a free one exits noproc),
    and gen refuses to call the caller itself (exit calling_self, GS-3)."""
    pid = server
    if not isinstance(server, Pid):
        pid = yield from where(server)
        if not isinstance(pid, Pid):
            raise ErlangError("exit", Atom("noproc"))
    if pid == (yield Self()):
        raise ErlangError("exit", Atom("calling_self"))
    return pid


def send_request(pid: Pid, request: object, timeout: object = 5000):
    """Monitor `pid` and send it the call (gen:do_call); the monitor's ref tags the reply."""
    me = yield Self()
    mref = yield Monitor(pid)
    yield Send(pid, call_message(me, mref, request, timeout))
    return mref


def receive_reply(mref, timeout: object):
    """The reply, or exit with the callee's DOWN reason (GS-5), or exit timeout after `timeout` ms (GS-4).

    On a reply or a timeout the monitor is dropped with `[flush]`, so a late
    DOWN never reaches the mailbox; a late reply stays there.
    """
    msg = yield Receive(ReplyOrDown(reply_tag(mref, timeout), mref), timeout=timeout)
    if msg == TIMEOUT:
        yield Demonitor(mref, flush=True)
        raise ErlangError("exit", Atom("timeout"))
    if DownOf(mref).matches(msg):
        raise ErlangError("exit", msg[4])
    yield Demonitor(mref, flush=True)
    return msg[1]


def call_exit(e: ErlangError, server: object, request: object, timeout: object) -> ErlangError:
    """How gen_server:call exits when `e` ended the call: `{Reason, {gen_server, call, Args}}`."""
    args = ErlList((server, request) if timeout is None else (server, request, timeout))
    return ErlangError("exit", (exit_reason(e), (Atom("gen_server"), Atom("call"), args)))


def start(kind: str, name: object, init, init_args: tuple = (), fields: tuple = ()):
    """`gen:start` from the calling process: `{ok, Pid}` or `{error, Reason}`.

    `init(me, starter, *init_args)` is the kind's init generator; it runs in
    the new process after the name is taken and returns the server's state,
    or raises `Stop(reason)` to fail the start.
    """
    if name is not None:
        holder = yield from where(name)
        if isinstance(holder, Pid):
            return (ERROR, (Atom("already_started"), holder))  # GS-1: no process is created
    me = yield Self()
    child = yield SpawnLink(kind, init_it, (me, name, init, init_args), fields)
    # SUP-12: only the ack or the child's exit; any other message (a parent's exit, a call) waits.
    msg = yield Receive(Ack(child))
    if msg[0] == ACK:
        return msg[2]
    return (ERROR, msg[2])


class Stop(Exception):
    """Raised by a kind's init: the start fails with `reason` and the process exits with it."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def init_it(me: Pid, starter: Pid, name: object, init, init_args: tuple):
    """The new process: take the name, run init, ack the starter (gen:init_it)."""
    if name is not None:
        taken = yield from register_name(name)
        if not taken:
            holder = yield from where(name)
            yield Send(starter, (ACK, me, (ERROR, (Atom("already_started"), holder))))
            yield Die(Atom("normal"))
    try:
        state = yield from init(me, starter, *init_args)
    except Stop as stop:
        if name is not None:
            yield from unregister_name(name)
        yield Send(starter, (ACK, me, (ERROR, stop.reason)))
        yield Die(stop.reason)
    yield Send(starter, (ACK, me, (OK, me)))
    return state
