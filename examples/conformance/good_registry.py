"""first_registry: a via backend of one's own, in a file of its own, checked with `regspec conformance`.

A registry server holding a map from names to pids: the first to register a
name keeps it (`no` for the next), the server monitors each holder and drops
its names when the DOWN arrives (so the class is `down`, like `:global`).
The runtime's leg is this file's own; the model's leg reuses the model's map
registry with monitors under this backend's name (the kit compares the
runtime against its class's reference anyway).

    cd examples/conformance
    regspec conformance good_registry:BACKEND --examples 20 --seed 1
"""

from regspec.common.backends import Backend
from regspec.common.protocol import GEN_CALL, server_ref
from regspec.common.records import SystemStop
from regspec.common.results import ErlangError
from regspec.impl import gen, registry_via
from regspec.model.registry_via import MapBackend as ModelMap
from regspec.terms import Atom, ErlList, Pid, term_order

KIND = "first_registry_server"
YES, NO, OK, UNDEFINED, DOWN = Atom("yes"), Atom("no"), Atom("ok"), Atom("undefined"), Atom("DOWN")


class State:
    def __init__(self):
        self.names = {}   # name -> pid
        self.refs = {}    # monitor ref -> name


def serve(ctx, state, forget):
    """The server's loop: calls register, unregister, whereis and keys; a DOWN drops the dead holder's name."""
    while True:
        msg = ctx.receive()
        if isinstance(msg, SystemStop):
            ctx.exit(msg.reason)
        if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
            (caller, tag), request = msg[1], msg[2]
            ctx.send(caller, (tag, handle_call(ctx, request, state, forget)))
        elif isinstance(msg, tuple) and len(msg) == 5 and msg[0] == DOWN:
            name = state.refs.pop(msg[1], None)
            if name is not None:
                state.names.pop(name, None)


def handle_call(ctx, request, state, forget):
    op, name = request[0], request[1]
    if op == Atom("register"):
        if name in state.names:
            return NO
        state.names[name] = request[2]
        state.refs[ctx.monitor(request[2])] = name
        return YES
    if op == Atom("unregister"):
        forget(ctx, name, state)
        return OK
    if op == Atom("whereis"):
        return state.names.get(name, UNDEFINED)
    if op == Atom("keys"):
        return ErlList(tuple(sorted((n for n, p in state.names.items() if p == name), key=term_order)))
    ctx.exit((Atom("bad_call"), request))


def forget(ctx, name, state):
    """unregister: the name goes, and so does the monitor of its holder."""
    state.names.pop(name, None)
    for ref in [r for r, n in state.refs.items() if n == name]:
        del state.refs[ref]
        ctx.demonitor(ref, True)


class FirstRegistry:
    """The runtime's leg: the via protocol as code run by the calling process's thread."""

    def __init__(self, name, forget=forget):
        self.name, self.forget = name, forget

    def _serve(self, ctx, state):
        serve(ctx, state, self.forget)

    def _call(self, ctx, request):
        server = registry_via.current_server(ctx, self.name)
        return gen.gen_call(ctx, server, request, printed_as=server_ref(server))

    def register_name(self, ctx, name, pid):
        return self._call(ctx, (Atom("register"), name, pid))

    def unregister_name(self, ctx, name):
        return self._call(ctx, (Atom("unregister"), name))

    def whereis_name(self, ctx, name):
        return self._call(ctx, (Atom("whereis"), name))

    def send(self, ctx, name, msg):
        pid = self.whereis_name(ctx, name)
        if not isinstance(pid, Pid):
            raise ErlangError("exit", (Atom("badarg"), (name, msg)))
        ctx.send(pid, msg)
        return pid

    def prestart(self, rt, pid):
        rt.spawn(KIND, lambda ctx: self._serve(ctx, State()), pid=pid, label=self.name)
        return pid

    def start_server(self, ctx, name):
        result = gen.start(ctx, KIND, name, lambda c, starter: State(), self._serve)
        if result[0] == OK:
            return (OK, result[1], name if name is not None else result[1])
        return result

    def keys(self, ctx, server, pid):
        return gen.gen_call(ctx, server, (Atom("keys"), pid))


BACKEND = Backend(
    "first_registry",
    model=ModelMap("first_registry", monitor=True),   # the model's map registry with monitors, under this name
    impl=FirstRegistry("first_registry"),
    server=True,
    dead_holder="down",
    doc="a map registry where the first to register a name keeps it; it monitors the holders",
)
