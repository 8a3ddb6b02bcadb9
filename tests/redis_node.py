"""A runtime in an OS process of its own, sharing names through Redis (tests/test_redis_backend.py).

    python tests/redis_node.py URL LEASE_MS PREFIX NODE NAME

Starts a threaded runtime whose `redis_registry` leg talks to URL, spawns
one process that registers NAME (a binary) through the backend and then, for
each message it receives, registers `("got", Msg)` for itself, so another
runtime sees through Redis what arrived. Prints one JSON line once NAME is
registered ({"registered": "yes"|"no", "node": ...}), then runs its
scheduler until it is killed (SIGKILL: nothing is released, the leases
expire) or its stdin closes (a clean shutdown: every name is released).
"""

from __future__ import annotations

import json
import sys
import threading
import time

from regspec.common import backends
from regspec.impl import Runtime, prestart
from regspec.impl.registry_redis import RedisBackend
from regspec.terms import Atom, Binary


def main(url: str, lease_ms: str, prefix: str, node: str, name: str) -> None:
    leg = RedisBackend(url=url, lease_ms=int(lease_ms), prefix=prefix, node=node)
    backends.register(backends.Backend("redis_registry", model=backends.REDIS_REGISTRY.model, impl=leg, server=True))
    rt = Runtime("b")
    prestart(rt)
    registered = threading.Event()

    def holder(ctx) -> None:
        answer = leg.register_name(ctx, Binary(name), ctx.pid)
        print(json.dumps({"registered": answer.name, "node": node}), flush=True)
        registered.set()
        while True:
            msg = ctx.receive()
            leg.register_name(ctx, (Atom("got"), msg), ctx.pid)

    with rt.atomic:
        rt.spawn("holder", holder)
    stdin_closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stdin_closed.set()), daemon=True).start()
    try:
        while not stdin_closed.is_set():
            rt.wait_quiescent()
            time.sleep(0.01)
    finally:
        rt.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:])
