"""Broken via backends planted for the conformance kit's own tests (tests/test_conformance.py).

Each is the map registry's impl leg with one thing wrong, registered under a
name of its own with no model leg: the kit runs the model with the reference
of the backend's class. Four break one rule each (BACKEND-6, BACKEND-3,
BACKEND-4, BACKEND-3); five break the protocol in the ways a bad backend
does (BACKEND-1, or the shape rule of the function: BACKEND-2, BACKEND-3).
"""

from __future__ import annotations

import time

from regspec.common.backends import Backend
from regspec.common.protocol import GEN_CALL, GEN_CAST
from regspec.common.records import SystemStop
from regspec.common.results import ErlangError
from regspec.impl import registry_via
from regspec.impl.registry_via import DOWN, NO, OK, UNDEFINED, YES, MapBackend, MapRegistry
from regspec.terms import Atom, Pid


def _serve(ctx, state: MapRegistry, forget_demonitor: bool) -> None:
    """The map server, plus `force` (set without looking) and, when asked, an unregister that keeps the monitor."""
    while True:
        msg = ctx.receive()
        if isinstance(msg, SystemStop):
            ctx.exit(msg.reason)
        if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
            (caller, tag), req = msg[1], msg[2]
            if req[0] == Atom("force"):
                state.refs[ctx.monitor(req[2])] = req[1]
                state.names[req[1]] = req[2]
                answer = YES
            else:
                answer = registry_via.handle_call(ctx, req, state)
            ctx.send(caller, (tag, answer))
        elif isinstance(msg, tuple) and len(msg) == 2 and msg[0] == GEN_CAST:
            if forget_demonitor:
                state.names.pop(msg[1][1], None)   # the monitor stays: its DOWN will drop the name later
            else:
                registry_via.unregister(ctx, msg[1][1], state)
        elif isinstance(msg, tuple) and len(msg) == 5 and msg[0] == DOWN:
            name = state.refs.pop(msg[1], None)
            if name is not None:
                state.names.pop(name, None)


class Planted(MapBackend):
    def __init__(self, name: str, *, racy=False, never_free=False, silent_send=False, forget_demonitor=False):
        super().__init__(name, monitor=True)
        self.racy, self.never_free, self.silent_send = racy, never_free, silent_send
        self.forget_demonitor = forget_demonitor

    def prestart(self, rt, pid):
        state = MapRegistry(monitor=True)
        rt.spawn("registry_server", lambda c: _serve(c, state, self.forget_demonitor), pid=pid, label=self.name)
        return pid

    def register_name(self, ctx, name, pid):
        if not self.racy:
            return super().register_name(ctx, name, pid)
        if isinstance(self.whereis_name(ctx, name), Pid):   # look, then take: two can look at once
            return NO
        return self._call(ctx, (Atom("force"), name, pid))

    def unregister_name(self, ctx, name):
        if self.never_free:
            return OK
        return super().unregister_name(ctx, name)

    def send(self, ctx, name, msg):
        pid = self.whereis_name(ctx, name)
        if not isinstance(pid, Pid):
            if self.silent_send:
                return OK   # dropped, and nobody is told
            raise ErlangError("exit", (Atom("badarg"), (name, msg)))
        ctx.send(pid, msg)
        return pid


class TrueForYes(MapBackend):
    def register_name(self, ctx, name, pid):
        return super().register_name(ctx, name, pid) == YES   # Python's True, not the atom yes


class NoneForUndefined(MapBackend):
    def whereis_name(self, ctx, name):
        pid = super().whereis_name(ctx, name)
        return None if pid == UNDEFINED else pid


class Raising(MapBackend):
    def whereis_name(self, ctx, name):
        raise KeyError(name)


class Blocking(MapBackend):
    def whereis_name(self, ctx, name):
        while True:
            time.sleep(0.01)


class Missing:
    """A leg without send."""

    def __init__(self):
        self._map = MapBackend("bad_missing", monitor=True)
        self.register_name, self.unregister_name = self._map.register_name, self._map.unregister_name
        self.whereis_name = self._map.whereis_name
        self.prestart, self.start_server, self.keys = self._map.prestart, self._map.start_server, self._map.keys


def _record(name: str, leg: object) -> Backend:
    return Backend(name, impl=leg, server=True, dead_holder="down")


RACY = _record("planted_racy", Planted("planted_racy", racy=True))                         # BACKEND-6
NEVER_FREE = _record("planted_never_free", Planted("planted_never_free", never_free=True))  # BACKEND-3
SILENT_SEND = _record("planted_silent_send", Planted("planted_silent_send", silent_send=True))  # BACKEND-4
NO_DEMONITOR = _record("planted_no_demonitor", Planted("planted_no_demonitor", forget_demonitor=True))  # BACKEND-3
PLANTED = {RACY: "BACKEND-6", NEVER_FREE: "BACKEND-3", SILENT_SEND: "BACKEND-4", NO_DEMONITOR: "BACKEND-3"}

TRUE_FOR_YES = _record("bad_true", TrueForYes("bad_true", monitor=True))
NONE_FOR_UNDEFINED = _record("bad_none", NoneForUndefined("bad_none", monitor=True))
RAISING = _record("bad_raising", Raising("bad_raising", monitor=True))
BLOCKING = _record("bad_blocking", Blocking("bad_blocking", monitor=True))
MISSING = _record("bad_missing", Missing())
