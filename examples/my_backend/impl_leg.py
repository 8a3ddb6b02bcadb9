"""The threaded runtime's leg of `my_registry`: the via protocol as code run by the calling thread.

Each function takes the calling process's `Context` first (`ctx`) and
returns the function's answer; a call to the registry server blocks the
caller's thread until the reply comes. The server is a gen_server
(`gen_server.serve`) over the callbacks of `Server`.
"""

from regspec.common.protocol import server_ref
from regspec.common.results import ErlangError
from regspec.impl import gen, gen_server, registry_via
from regspec.terms import Atom, ErlList, Pid, term_order

KIND = "my_registry_server"
YES, OK, UNDEFINED = Atom("yes"), Atom("ok"), Atom("undefined")


class Server:
    """gen_server callbacks; the state is a dict from name to pid, never changed in place."""

    @staticmethod
    def handle_call(request, names):
        op = request[0] if isinstance(request, tuple) and request else None
        if op == Atom("register") and len(request) == 3:
            return ("reply", YES, {**names, request[1]: request[2]})   # the last to register wins
        if op == Atom("unregister") and len(request) == 2:
            return ("reply", OK, {k: p for k, p in names.items() if k != request[1]})
        if op == Atom("whereis") and len(request) == 2:
            return ("reply", names.get(request[1], UNDEFINED), names)
        if op == Atom("keys") and len(request) == 2:
            keys = sorted((k for k, p in names.items() if p == request[1]), key=term_order)
            return ("reply", ErlList(tuple(keys)), names)
        return ("stop", (Atom("bad_call"), request), names)

    @staticmethod
    def handle_cast(msg, names):
        return ("stop", (Atom("bad_cast"), msg), names)

    @staticmethod
    def handle_info(msg, names):
        return ("noreply", names)


def _serve(ctx, names):
    gen_server.serve(ctx, Server, names)


class MyRegistry:
    name = "my_registry"

    def _call(self, ctx, request):
        server = registry_via.current_server(ctx, self.name)   # VIA-6: the backend's current server
        return gen.gen_call(ctx, server, request, printed_as=server_ref(server))

    # -- the via protocol
    def register_name(self, ctx, name, pid):
        return self._call(ctx, (Atom("register"), name, pid))

    def unregister_name(self, ctx, name):
        return self._call(ctx, (Atom("unregister"), name))

    def whereis_name(self, ctx, name):
        pid = self._call(ctx, (Atom("whereis"), name))
        if isinstance(pid, Pid) and ctx.is_process_alive(pid):
            return pid
        return UNDEFINED

    def send(self, ctx, name, msg):
        pid = self.whereis_name(ctx, name)
        if not isinstance(pid, Pid):
            raise ErlangError("exit", (Atom("badarg"), (name, msg)))
        ctx.send(pid, msg)
        return pid

    # -- the registry server
    def prestart(self, rt, pid):
        """The server from before step 0, at `pid` (the caller holds `rt.atomic`); its names go to its pid."""
        rt.spawn(KIND, lambda ctx: _serve(ctx, {}), pid=pid, label=self.name)
        return pid

    def start_server(self, ctx, name):
        """A `registry_server` step: a new server, linked to the caller, reached by its name or pid."""
        result = gen.start(ctx, KIND, name, lambda c, starter: {}, _serve)
        if result[0] == OK:
            return (OK, result[1], name if name is not None else result[1])
        return result

    def keys(self, ctx, server, pid):
        return gen.gen_call(ctx, server, (Atom("keys"), pid))


LEG = MyRegistry()
