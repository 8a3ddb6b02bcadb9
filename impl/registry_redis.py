"""The `redis_registry` via backend in the threaded runtime: names shared by runtimes through one Redis.

Implements: VIA-1, VIA-9, VIA-10

Several runtimes (in different OS processes, or on different machines)
share one name space kept in a Redis server. The backend's class, as a
reference for comparing it with `:global`: a map registry whose
dead-holder window is the *lease*. Inside one runtime it behaves as
`map_registry` does (VIA-2: the runtime's registry server monitors each
holder it registers and releases the name when the DOWN arrives, so right
after a kill `whereis` may still answer the dead pid); a whole runtime that
disappears (SIGKILL, a machine lost) releases nothing, and its names expire
within one lease (VIA-9). A name is never held by two at once: Redis takes
it atomically (VIA-9). When Redis itself restarts without persistence, the
names are lost (VIA-10).

How it is built, per runtime (`RedisLink`, made by the leg's `prestart`):

- the runtime gets an id unique among the runtimes sharing the Redis
  (`<node>-<8 hex digits>`, or the leg's `node`), and a pid of another
  runtime is answered as `regspec.terms.RemotePid(node, n)`;
- `register_name` runs one Lua script: the name's key is taken only if
  absent (SET NX), with a fencing token from a counter (INCR, seeded from
  the server's clock when the counter is new, so tokens keep growing across
  a Redis restart), and a time to live of one lease; the key's value is the
  holder (runtime id and pid) and the token;
- a heartbeat thread renews, every third of a lease, the leases of the
  names its runtime holds, each only if its value is still the one taken
  (compare-and-renew), and forgets a name whose value changed or vanished;
  it releases the names of a registry server of its runtime that died;
- a release (the DOWN of a holder, `unregister_name`, a server's death,
  the runtime's shutdown) is a compare-and-delete on the value taken, fencing
  token included, so a late cleanup never deletes the next holder's name;
- the heartbeat thread also carries messages from other runtimes: the via
  `send` to a name held by another runtime's process pushes the message on
  that runtime's inbox list in Redis, and the owner's heartbeat thread pops
  it and delivers it to the process (sent by the runtime's registry server).
  Nothing else crosses runtimes: `!`, links and monitors never reach a
  `RemotePid`, so a gen_server call to another runtime's process gets no
  reply (its `From` is a pid of a runtime it cannot reach);
- `Runtime.shutdown` stops the heartbeat thread (`Runtime.on_shutdown`) and
  releases every name the runtime held.

Where names go: the registry server from before step 0 serves the shared
name space (prefix `REGSPEC_REDIS_PREFIX`, default `regspec`); a
`registry_server` step starts a new, empty registry (VIA-6) in a name space
of its own (`<prefix>:<runtime id>:<server pid>`), which other runtimes do
not see. Names are terms encoded as JSON in the keys; a message crossing
runtimes is a term encoded the same way (a ref of another runtime arrives
as a binary `#Ref<node.n>`).

Configuration: `RedisBackend(url=..., lease_ms=..., prefix=..., node=...)`,
each None by default, then read from the environment when a runtime first
connects: `REGSPEC_REDIS_URL` (default `redis://127.0.0.1:6379/0`),
`REGSPEC_REDIS_LEASE_MS` (default 5000), `REGSPEC_REDIS_PREFIX`.
The `redis` package (PyPI) is imported only then.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
import weakref

import attrs

from regspec.common import backends
from regspec.common.protocol import GEN_CALL, GEN_CAST
from regspec.common.records import Message, SystemStop
from regspec.common.results import ErlangError
from regspec.terms import Atom, Binary, ErlList, Pid, Ref, RemotePid, term_order

from . import gen
from .process import Context
from .registry_via import MapBackend
from .runtime import LeakedThreads

__all__ = ["RedisBackend", "RedisLink", "RedisDown", "LEG", "ENV_URL", "ENV_LEASE", "ENV_PREFIX", "link_of",
           "encode_term", "decode_term"]

ENV_URL, ENV_LEASE, ENV_PREFIX = "REGSPEC_REDIS_URL", "REGSPEC_REDIS_LEASE_MS", "REGSPEC_REDIS_PREFIX"
DEFAULT_URL, DEFAULT_LEASE_MS, DEFAULT_PREFIX = "redis://127.0.0.1:6379/0", 5000, "regspec"

UNDEFINED, YES, NO, OK, DOWN = Atom("undefined"), Atom("yes"), Atom("no"), Atom("ok"), Atom("DOWN")

# KEYS: the name's key, the fencing counter. ARGV: the holder (JSON), the lease (ms).
# Answers the value taken ("<holder>|<token>"), or false when the name is held.
_REGISTER = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local t = redis.call('INCR', KEYS[2])
if t == 1 then
  local now = redis.call('TIME')
  t = tonumber(now[1]) * 1000000 + tonumber(now[2])
  redis.call('SET', KEYS[2], string.format('%d', t))
end
local v = ARGV[1] .. '|' .. string.format('%d', t)
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return v
"""
# Compare-and-delete: the name goes only if its value is still the one taken (its fencing token).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Compare-and-renew, for many names: KEYS the names, ARGV their values then the lease; 1 or 0 each.
_RENEW = """
local lease = ARGV[#ARGV]
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then out[i] = redis.call('PEXPIRE', key, lease) else out[i] = 0 end
end
return out
"""


@attrs.frozen
class RedisDown:
    """A registry server's answer when Redis could not be reached; the caller raises it as an error."""

    reason: str


# -- terms as JSON ---------------------------------------------------------------

def encode_term(term: object, node: str) -> object:
    """A term as JSON data; `node` is the id of the runtime whose pids and refs the term holds."""
    if isinstance(term, Atom):
        return {"a": term.name}
    if isinstance(term, bool):
        raise TypeError("bool is not a term")
    if isinstance(term, int):
        return term
    if isinstance(term, Binary):
        return {"b": term.value}
    if isinstance(term, Pid):
        return {"p": term.n, "on": node}
    if isinstance(term, RemotePid):
        return {"p": term.n, "on": term.node}
    if isinstance(term, Ref):
        return {"r": term.n, "on": node}
    if isinstance(term, tuple):
        return [encode_term(t, node) for t in term]
    if isinstance(term, ErlList):
        return {"l": [encode_term(t, node) for t in term.items],
                "t": None if term.tail is None else encode_term(term.tail, node)}
    raise TypeError(f"a term the Redis backend cannot carry: {term!r}")


def decode_term(data: object, node: str) -> object:
    """The term `encode_term` wrote, seen from the runtime `node`: its own pids are `Pid`s, others `RemotePid`s."""
    if isinstance(data, int):
        return data
    if isinstance(data, list):
        return tuple(decode_term(d, node) for d in data)
    if "a" in data:
        return Atom(data["a"])
    if "b" in data:
        return Binary(data["b"])
    if "p" in data:
        return Pid(data["p"]) if data["on"] == node else RemotePid(data["on"], data["p"])
    if "r" in data:
        return Ref(data["r"]) if data["on"] == node else Binary(f"#Ref<{data['on']}.{data['r']}>")
    if "l" in data:
        tail = data["t"]
        return ErlList(tuple(decode_term(d, node) for d in data["l"]), None if tail is None else decode_term(tail, node))
    raise ValueError(f"not an encoded term: {data!r}")


def _json(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


# -- one runtime's connection ------------------------------------------------------

class RedisLink:
    """One runtime's side of the shared registry: its id, its client, the names it holds, its heartbeat.

    `held` maps each key the runtime took to (value taken, registry server pid).
    Thread safety: `held` is guarded by `lock`; the Redis client is thread-safe.
    """

    def __init__(self, rt, backend_name: str, url: str, lease_ms: int, prefix: str, node: str):
        import redis   # the `redis` package from PyPI: needed only when a runtime uses the backend

        self.rt, self.backend_name = weakref.proxy(rt), backend_name
        self.url, self.lease_ms, self.prefix, self.node = url, lease_ms, prefix, node
        self.interval = max(lease_ms / 3000.0, 0.02)   # a heartbeat every third of a lease
        self.errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=self.interval + 2.0, socket_connect_timeout=2.0)
        self._register = self.client.register_script(_REGISTER)
        self._release = self.client.register_script(_RELEASE)
        self._renew = self.client.register_script(_RENEW)
        self.lock = threading.Lock()
        self.held: dict[str, tuple[str, Pid]] = {}
        self.beats = 0                   # heartbeats done (tests read it)
        self.lost: list[str] = []        # keys the heartbeat found taken from this runtime (Redis restarted, expired)
        self.delivered = 0               # messages from other runtimes delivered here
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._heartbeat, daemon=True, name=f"regspec-redis-heartbeat-{node}")
        self.thread.start()
        rt.on_shutdown(self.close)

    # -- keys
    def key(self, namespace: str, name: object) -> str:
        return f"{namespace}:name:{_json(encode_term(name, self.node))}"

    def name_of(self, namespace: str, key: str) -> object:
        return decode_term(json.loads(key[len(namespace) + len(":name:"):]), self.node)

    def inbox(self, node: str) -> str:
        return f"{self.prefix}:inbox:{node}"

    def holder_of(self, value: str | None) -> object:
        """The holder a key's value names (a `Pid` of this runtime, else a `RemotePid`), or undefined."""
        if value is None:
            return UNDEFINED
        holder, _, _ = value.rpartition("|")
        return decode_term(json.loads(holder), self.node)

    @staticmethod
    def token_of(value: str) -> int:
        return int(value.rpartition("|")[2])

    # -- the registry operations (called by a registry server's thread)
    def register(self, namespace: str, name: object, pid: object, server: Pid) -> str | None:
        """Take `name` for `pid` if it is free (atomically, VIA-9): the value taken, or None."""
        key = self.key(namespace, name)
        value = self._register(keys=[key, f"{self.prefix}:fence"],
                               args=[_json(encode_term(pid, self.node)), self.lease_ms])
        if value is None:
            return None
        value = value.decode()
        with self.lock:
            self.held[key] = (value, server)
        return value

    def whereis(self, namespace: str, name: object) -> object:
        value = self.client.get(self.key(namespace, name))
        return self.holder_of(None if value is None else value.decode())

    def value(self, namespace: str, name: object) -> str | None:
        value = self.client.get(self.key(namespace, name))
        return None if value is None else value.decode()

    def release(self, key: str, value: str) -> bool:
        """Compare-and-delete: drop `key` only if it still holds `value` (its fencing token)."""
        with self.lock:
            if self.held.get(key, (None,))[0] == value:
                del self.held[key]
        return bool(self._release(keys=[key], args=[value]))

    def unregister(self, namespace: str, name: object) -> None:
        """`unregister_name`: the name goes, whoever holds it, as OTP's unregister does: with this runtime's
        value if it holds the name, else with the value read just before (a holder taking it in between keeps it)."""
        key = self.key(namespace, name)
        with self.lock:
            entry = self.held.get(key)
        if entry is not None:
            self.release(key, entry[0])
        else:
            value = self.client.get(key)
            if value is not None:
                self._release(keys=[key], args=[value])

    def keys(self, namespace: str, pid: object) -> ErlList:
        keys = list(self.client.scan_iter(match=f"{namespace}:name:*", count=500))
        values = self.client.mget(keys) if keys else []
        names = [self.name_of(namespace, k.decode()) for k, v in zip(keys, values)
                 if v is not None and self.holder_of(v.decode()) == pid]
        return ErlList(tuple(sorted(names, key=term_order)))

    def send_remote(self, to: RemotePid, msg: object) -> None:
        """A message to another runtime's process: on that runtime's inbox list, which its heartbeat empties."""
        inbox = self.inbox(to.node)
        pipe = self.client.pipeline()
        pipe.rpush(inbox, _json({"to": to.n, "msg": encode_term(msg, self.node)}))
        pipe.pexpire(inbox, 10 * self.lease_ms)   # a dead runtime's inbox does not stay for ever
        pipe.execute()

    # -- the heartbeat thread
    def _heartbeat(self) -> None:
        due = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= due:
                    self.beat()
                    due = time.monotonic() + self.interval
                popped = self.client.blpop([self.inbox(self.node)], timeout=max(due - time.monotonic(), 0.01))
                if popped is not None:
                    self._deliver(json.loads(popped[1]))
            except self.errors:
                self._stop.wait(self.interval)   # Redis unreachable: try again at the next beat
            except ReferenceError:
                return   # the runtime is gone

    def beat(self) -> None:
        """Renew the leases of the names held (compare-and-renew), forget the lost ones, release a dead server's."""
        with self.lock:
            held = dict(self.held)
        if not held:
            self.beats += 1
            return
        with self.rt.atomic:
            dead_servers = {s for _, s in held.values() if not self.rt.is_alive(s)}
        for key, (value, server) in list(held.items()):
            if server in dead_servers:   # its registry server died: its names go with it (VIA-5)
                self.release(key, value)
                del held[key]
        keys = list(held)
        if keys:
            renewed = self._renew(keys=keys, args=[held[k][0] for k in keys] + [self.lease_ms])
            with self.lock:
                for key, ok in zip(keys, renewed):
                    if not ok and self.held.get(key, (None,))[0] == held[key][0]:
                        del self.held[key]   # expired, or Redis restarted (VIA-10): the name is no longer ours
                        self.lost.append(key)
        self.beats += 1

    def _deliver(self, item: dict) -> None:
        msg = decode_term(item["msg"], self.node)
        with self.rt.atomic:
            sender = backends.server_pid(self.backend_name)
            self.rt.send(sender, Pid(item["to"]), Message(msg))   # a dead receiver drops it
        self.delivered += 1

    def close(self) -> None:
        """Stop the heartbeat (joined), release every name held, close the connections (`Runtime.on_shutdown`)."""
        self._stop.set()
        self.thread.join(self.interval + 5.0)
        if self.thread.is_alive():
            raise LeakedThreads([self.thread])
        with self.lock:
            held, self.held = dict(self.held), {}
        for key, (value, _) in held.items():
            try:
                self._release(keys=[key], args=[value])
            except self.errors:
                break   # Redis unreachable: the leases expire
        self.client.close()


_LINKS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # runtime -> its RedisLink
_LINKS_LOCK = threading.Lock()


def link_of(rt) -> RedisLink:
    """The runtime's link to the shared Redis (made by the leg's `prestart`)."""
    return _LINKS[rt]


# -- the registry server ----------------------------------------------------------------

@attrs.define
class RedisServer:
    """A registry server's state: its link, its name space in Redis, and monitor ref -> (key, value taken)."""

    link: RedisLink
    namespace: str
    refs: dict = attrs.Factory(dict)


def serve(ctx: Context, state: RedisServer) -> None:
    """The registry server's loop: the map server's (impl.registry_via), its map kept in Redis."""
    while True:
        msg = ctx.receive()
        if isinstance(msg, SystemStop):
            ctx.exit(msg.reason)
        try:
            if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
                (caller, tag), req = msg[1], msg[2]
                ctx.send(caller, (tag, _handle_call(ctx, req, state)))
            elif isinstance(msg, tuple) and len(msg) == 2 and msg[0] == GEN_CAST:
                req = msg[1]
                if not (isinstance(req, tuple) and len(req) == 2 and req[0] == Atom("unregister_name")):
                    ctx.exit((Atom("bad_cast"), req))
                key = state.link.key(state.namespace, req[1])
                for ref in [r for r, (k, _) in state.refs.items() if k == key]:
                    del state.refs[ref]
                    ctx.demonitor(ref, True)
                state.link.unregister(state.namespace, req[1])
            elif isinstance(msg, tuple) and len(msg) == 5 and msg[0] == DOWN:
                entry = state.refs.pop(msg[1], None)
                if entry is not None:   # VIA-9: its runtime frees a dead holder's name at once, fenced
                    state.link.release(*entry)   # by the value it took: never its next holder's
        except state.link.errors:
            if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == GEN_CALL:
                ctx.send(msg[1][0], (msg[1][1], RedisDown("redis unreachable")))
            # a release that failed: the lease frees the name (VIA-9)


def _handle_call(ctx: Context, req: object, state: RedisServer) -> object:
    op = req[0] if isinstance(req, tuple) and req else None
    link = state.link
    if op == Atom("whereis_name") and len(req) == 2:
        return link.whereis(state.namespace, req[1])
    if op == Atom("register_name") and len(req) == 3:
        name, pid = req[1], req[2]
        value = link.register(state.namespace, name, pid, ctx.pid)   # VIA-9: taken atomically, or no
        if value is None:
            return NO
        if isinstance(pid, Pid):
            state.refs[ctx.monitor(pid)] = (link.key(state.namespace, name), value)
        return YES
    if op == Atom("keys") and len(req) == 2:
        return link.keys(state.namespace, req[1])
    ctx.exit((Atom("bad_call"), req))


class RedisBackend(MapBackend):
    """`redis_registry`: a map registry kept in Redis, shared by runtimes; its dead-holder window is the lease.

    Inside one runtime: `map_registry`'s semantics (VIA-2), the reference its
    model leg runs. Across runtimes: a name is held by one process at a time
    (VIA-9), a name whose runtime vanished is free within one lease (VIA-9),
    and a Redis restart loses every name (VIA-10).
    """

    def __init__(self, name: str = "redis_registry", *, url: str | None = None, lease_ms: int | None = None,
                 prefix: str | None = None, node: str | None = None):
        super().__init__(name, monitor=True)
        self.url, self.lease_ms, self.prefix, self.node = url, lease_ms, prefix, node

    def settings(self) -> tuple[str, int, str]:
        """(url, lease in ms, key prefix): the leg's own, else the environment's, else the defaults."""
        return (self.url or os.environ.get(ENV_URL) or DEFAULT_URL,
                int(self.lease_ms or os.environ.get(ENV_LEASE) or DEFAULT_LEASE_MS),
                self.prefix or os.environ.get(ENV_PREFIX) or DEFAULT_PREFIX)

    def _call(self, ctx: Context, request: tuple) -> object:
        answer = super()._call(ctx, request)
        if isinstance(answer, RedisDown):
            raise ErlangError("error", (Atom("redis_unavailable"), Binary(answer.reason)))
        return answer

    def send(self, ctx: Context, name: object, msg: object) -> object:
        pid = self.whereis_name(ctx, name)
        if isinstance(pid, RemotePid):   # another runtime's process: through its inbox in Redis
            link_of(ctx.runtime).send_remote(pid, msg)
            return pid
        if not isinstance(pid, Pid):
            raise ErlangError("exit", (Atom("badarg"), (name, msg)))
        ctx.send(pid, msg)
        return pid

    def link(self, rt) -> RedisLink:
        with _LINKS_LOCK:
            link = _LINKS.get(rt)
            if link is None:
                url, lease_ms, prefix = self.settings()
                node = self.node or f"{rt.node.name}-{uuid.uuid4().hex[:8]}"
                link = _LINKS[rt] = RedisLink(rt, self.name, url, lease_ms, prefix, node)
            return link

    # -- the registry server
    def prestart(self, rt, pid: Pid) -> object:
        """The server from before step 0 (under `rt.atomic`): it serves the shared name space."""
        link = self.link(rt)
        state = RedisServer(link, link.prefix)
        rt.spawn("registry_server", lambda c: serve(c, state), pid=pid, label=self.name)
        return pid

    def start_server(self, ctx: Context, name: object) -> tuple:
        """A `registry_server` step: a new registry in a name space of its own (VIA-6)."""
        result = gen.start(ctx, "registry_server", name, _init, serve, (self,))
        if result[0] == OK:
            return (OK, result[1], name if name is not None else result[1])
        return result


def _init(ctx: Context, starter: Pid, backend: RedisBackend) -> RedisServer:
    link = ctx.atomic(lambda rt, me: backend.link(rt))
    return RedisServer(link, f"{link.prefix}:{link.node}:{ctx.pid.n}")


LEG = RedisBackend()
