"""The model's leg of `my_registry`: the via protocol as generators of the model's effects.

Each function runs in the calling process of the model (`regspec.model`):
it yields effects (`regspec.model.code`) or calls library code that does
(`gen.gen_call`), and returns the function's answer. The registry server
is a gen_server (`gen_server.loop`) over the pure callbacks of `Server`,
entered as the kind `my_registry_server` by `install()`.
"""

from regspec.common.protocol import server_ref
from regspec.common.records import FrozenMap
from regspec.common.results import ErlangError
from regspec.model import behaviours, gen, gen_server, registry_via
from regspec.model.code import Send, is_process_alive
from regspec.model.world import Process
from regspec.terms import Atom, ErlList, Pid, term_order

KIND = "my_registry_server"   # the kind of the server's processes
YES, OK, UNDEFINED, TRUE = Atom("yes"), Atom("ok"), Atom("undefined"), Atom("true")


class Server:
    """gen_server callbacks; the state is a FrozenMap from name to pid."""

    @staticmethod
    def handle_call(request, names):
        op = request[0] if isinstance(request, tuple) and request else None
        if op == Atom("register") and len(request) == 3:
            return ("reply", YES, names.set(request[1], request[2]))   # the last to register wins
        if op == Atom("unregister") and len(request) == 2:
            return ("reply", OK, names.delete(request[1]))
        if op == Atom("whereis") and len(request) == 2:
            return ("reply", names.get(request[1], UNDEFINED), names)
        if op == Atom("keys") and len(request) == 2:
            keys = sorted((k for k in names if names[k] == request[1]), key=term_order)
            return ("reply", ErlList(tuple(keys)), names)
        return ("stop", (Atom("bad_call"), request), names)

    @staticmethod
    def handle_cast(msg, names):
        return ("stop", (Atom("bad_cast"), msg), names)

    @staticmethod
    def handle_info(msg, names):
        return ("noreply", names)


def _loop(world, pid):
    return gen_server.loop(world, pid, Server)


def _init(me, starter):
    return FrozenMap()
    yield  # a generator: a kind's init may wait


class MyRegistry:
    name = "my_registry"

    def install(self):
        """Run before each run's step 0: the model learns what the server's kind runs."""
        behaviours.register_kind(KIND, behaviours.Behaviour(loop=_loop))

    def _call(self, request):
        server = yield from registry_via.current_server(self.name)   # VIA-6: the backend's current server
        return (yield from gen.gen_call(server, request, printed_as=server_ref(server)))

    # -- the via protocol
    def register_name(self, name, pid):
        return (yield from self._call((Atom("register"), name, pid)))

    def unregister_name(self, name):
        return (yield from self._call((Atom("unregister"), name)))

    def whereis_name(self, name):
        pid = yield from self._call((Atom("whereis"), name))
        if isinstance(pid, Pid) and (yield from is_process_alive(pid)) == TRUE:
            return pid
        return UNDEFINED

    def send(self, name, msg):
        pid = yield from self.whereis_name(name)
        if not isinstance(pid, Pid):
            raise ErlangError("exit", (Atom("badarg"), (name, msg)))
        yield Send(pid, msg)
        return pid

    # -- the registry server
    def boot(self, world, pid):
        """The server from before step 0, at `pid`; the backend's names go to it (its pid)."""
        return world.put(Process(pid=pid, kind=KIND, state=FrozenMap())), pid

    def start_server(self, name):
        """A `registry_server` step: a new server, linked to the caller, reached by its name or pid."""
        result = yield from gen.start(KIND, name, _init)
        if result[0] == OK:
            return (OK, result[1], name if name is not None else result[1])
        return result

    def keys(self, server, pid):
        return (yield from gen.gen_call(server, (Atom("keys"), pid)))


LEG = MyRegistry()
