"""The Redis via backend (`redis_registry`, regspec.impl.registry_redis) against a real redis-server.

Each test module run starts `redis-server` on a free loopback port, without
persistence, and stops it after. The tests check VIA-9 (one holder at a
time, a dead holder's name freed by its runtime at once, a vanished
runtime's names freed within the lease, compare-and-delete with fencing
tokens) and VIA-10 (a Redis restart loses the names), with runtimes in this
process and in other OS processes (tests/redis_node.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from regspec.common import backends
from regspec.common.results import ErlangError
from regspec.impl import Runtime, prestart
from regspec.sessions import run_impl, run_model
from regspec.terms import Atom, Binary, Pid, RemotePid

from redis_support import start_or_skip
from support import ROOT, SCENARIOS, expected_path, load_json

redis = pytest.importorskip("redis", reason="the `redis` package is missing: pip install -e '.[test]'")

from regspec.impl import registry_redis   # noqa: E402  (after the importorskip)

LEASE_MS = 1000
YES, NO, OK, UNDEFINED = Atom("yes"), Atom("no"), Atom("ok"), Atom("undefined")


# -- the server (tests/redis_support.py) -------------------------------------------------

@pytest.fixture(scope="module")
def server():
    srv = start_or_skip()
    yield srv
    srv.stop()


@pytest.fixture
def prefix():
    return f"t-{uuid.uuid4().hex[:8]}"   # each test its own name space in the shared server


@pytest.fixture
def leg(server, prefix):
    """The backend registered for the test, its impl leg talking to the test's server with a 1 s lease."""
    leg = registry_redis.RedisBackend(url=server.url, lease_ms=LEASE_MS, prefix=prefix)
    record = backends.Backend("redis_registry", model=backends.REDIS_REGISTRY.model, impl=leg, server=True)
    with backends.registered(record):
        yield leg


def _runtime(node: str = "a") -> Runtime:
    rt = Runtime(node)
    prestart(rt)
    return rt


def _run_in(rt: Runtime, fn, *args):
    """`fn(ctx, *args)` in a fresh process of `rt`, run to its end; answers what it returned (or raised)."""
    box = {}

    def body(ctx):
        try:
            box["value"] = fn(ctx, *args)
        except ErlangError as e:
            box["error"] = e
        ctx.receive(lambda m: m == Atom("stop"))   # stays alive until told (its names stay with it)

    with rt.atomic:
        pid = rt.spawn("tester", body)
    rt.run_until(lambda: "value" in box or "error" in box, timeout=20)
    if "error" in box:
        raise box["error"]
    return pid, box["value"]


def _kill(rt: Runtime, pid: Pid) -> None:
    from regspec.common.records import ExitSignal
    with rt.atomic:
        rt.send(Pid(0), pid, ExitSignal(Atom("kill"), link=False))
    rt.wait_quiescent()


def _key(prefix: str, name: str) -> str:
    """The Redis key of the binary name `name` in the name space `prefix`."""
    return f'{prefix}:name:{{"b":"{name}"}}'


def _poll(condition, seconds: float, every: float = 0.01):
    """Poll `condition()` until it answers something true, for at most `seconds`; answers it (or None)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


# -- one runtime ------------------------------------------------------------------------

@pytest.mark.spec("VIA-1", "VIA-9")
def test_register_whereis_unregister_send_through_a_runtime(leg, server, prefix):
    with _runtime() as rt:
        me, answer = _run_in(rt, lambda ctx: leg.register_name(ctx, Binary("room"), ctx.pid))
        assert answer == YES
        assert _run_in(rt, leg.register_name, Binary("room"), Pid(99))[1] == NO   # held: no
        assert _run_in(rt, leg.whereis_name, Binary("room"))[1] == me
        value = server.client().get(_key(prefix, "room"))
        assert value is not None and value.startswith('{"on":') and registry_redis.RedisLink.token_of(value) > 0
        assert server.client().pttl(_key(prefix, "room")) <= LEASE_MS
        assert _run_in(rt, leg.send, Binary("room"), Atom("hello"))[1] == me
        rt.wait_quiescent()
        with rt.atomic:
            assert rt.process(me).mailbox.messages() == (Atom("hello"),)
        assert _run_in(rt, leg.unregister_name, Binary("room"))[1] == OK
        rt.wait_quiescent()
        assert _run_in(rt, leg.whereis_name, Binary("room"))[1] == UNDEFINED
        with pytest.raises(ErlangError) as err:
            _run_in(rt, leg.send, Binary("room"), Atom("hello"))
        assert err.value.args[1] == (Atom("badarg"), (Binary("room"), Atom("hello")))


@pytest.mark.spec("VIA-9")
def test_a_dead_holders_name_is_freed_by_its_runtime_at_once_and_the_lease_is_renewed(leg, server, prefix):
    with _runtime() as rt:
        me, _ = _run_in(rt, lambda ctx: leg.register_name(ctx, Binary("room"), ctx.pid))
        link = registry_redis.link_of(rt)
        key = link.key(prefix, Binary("room"))
        beats = link.beats
        _poll(lambda: link.beats >= beats + 7, 5)   # more than two leases of heartbeats
        assert link.beats >= beats + 7
        assert server.client().get(key) is not None, "the heartbeat renews a live holder's lease"
        _kill(rt, me)   # the DOWN reaches the registry server, which releases the name
        assert server.client().get(key) is None
        assert link.held == {}


@pytest.mark.spec("VIA-5", "VIA-9")
def test_a_dead_registry_servers_names_all_go_at_the_next_beat(leg, server, prefix):
    """The server's names are released by the heartbeat (several in one beat: it walks a copy)."""
    with _runtime() as rt:
        link = registry_redis.link_of(rt)
        names = [Binary(f"room{i}") for i in range(3)]
        for name in names:
            _run_in(rt, lambda ctx, n=name: leg.register_name(ctx, n, ctx.pid))
        keys = [link.key(prefix, n) for n in names]
        assert all(server.client().get(k) is not None for k in keys)
        _kill(rt, backends.server_pid("redis_registry"))
        link.beat()
        assert [server.client().get(k) for k in keys] == [None, None, None]
        assert link.held == {}


@pytest.mark.spec("VIA-9")
def test_compare_and_delete_a_late_release_never_deletes_the_next_holders_name(leg, server, prefix):
    with _runtime() as rt:
        link = registry_redis.link_of(rt)
        first, _ = _run_in(rt, lambda ctx: leg.register_name(ctx, Binary("n"), ctx.pid))
        key = link.key(prefix, Binary("n"))
        old = server.client().get(key)
        _kill(rt, first)
        second, _ = _run_in(rt, lambda ctx: leg.register_name(ctx, Binary("n"), ctx.pid))
        new = server.client().get(key)
        assert link.token_of(new) > link.token_of(old), "fencing tokens grow"
        assert link.release(key, old) is False        # a late cleanup with the old token
        assert server.client().get(key) == new
        assert _run_in(rt, leg.whereis_name, Binary("n"))[1] == second


@pytest.mark.spec("VIA-9")
def test_scenarios_of_the_map_registry_agree_on_model_and_runtime(leg):
    """The model runs the reference of the backend's class (the map registry with monitors): every recorded
    map_registry scenario, its names moved to redis_registry, prints the same on the model, on the runtime
    over Redis, and (the server's label apart) as recorded on the BEAM."""
    checked = 0
    for path in sorted(SCENARIOS.glob("via-map-*.json")) + [SCENARIOS / "via-registry-server-new-instance.json"]:
        if path.name.endswith(".expected.json"):
            continue
        text = path.read_text().replace('"map_registry"', '"redis_registry"')
        scenario = json.loads(text)
        model = run_model(scenario)
        impl = run_impl(scenario)
        assert impl == model, path.name
        expected = json.loads(expected_path(path).read_text().replace('"map_registry"', '"redis_registry"'))
        assert model == expected, path.name
        checked += 1
    assert checked >= 8


def test_the_cli_runs_a_scenario_through_redis_on_impl(leg, server, prefix, tmp_path):
    scenario = tmp_path / "redis.json"
    scenario.write_text(json.dumps({"steps": [
        {"op": "start", "as": "room", "kind": "chat_room", "name": {"via": ["redis_registry", "room1"]}},
        {"op": "whereis", "name": {"via": ["redis_registry", "room1"]}},
        {"op": "kill", "target": {"proc": "room"}},
        {"op": "whereis", "name": {"via": ["redis_registry", "room1"]}}]}))
    env = {**os.environ, "REGSPEC_REDIS_URL": server.url, "REGSPEC_REDIS_PREFIX": prefix}
    out = subprocess.run([sys.executable, "-m", "regspec.cli", "run", str(scenario), "--on", "impl",
                          "--backend", "regspec.common.backends:REDIS_REGISTRY"],
                         env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    results = [r["result"] for r in json.loads(out.stdout)]
    assert results == [{"ok": {"pid": "P1"}}, {"pid": "P1"}, True, "undefined"]
    assert server.client().keys(f"{prefix}:name:*") == []


@pytest.mark.spec("VIA-9")
def test_no_thread_outlives_its_runtime(leg):
    rt = _runtime()
    _run_in(rt, lambda ctx: leg.register_name(ctx, Binary("x"), ctx.pid))
    heartbeat = registry_redis.link_of(rt).thread
    assert heartbeat.is_alive()
    rt.shutdown()
    assert not heartbeat.is_alive()
    with pytest.raises(RuntimeError):
        rt.on_shutdown(lambda: None)


# -- several runtimes -----------------------------------------------------------------

@pytest.mark.spec("VIA-9")
def test_two_runtimes_in_one_os_process_one_holder_at_a_time(leg, server, prefix):
    with _runtime("a") as a, _runtime("b") as b:
        pa, answer_a = _run_in(a, lambda ctx: leg.register_name(ctx, Binary("r"), ctx.pid))
        pb, answer_b = _run_in(b, lambda ctx: leg.register_name(ctx, Binary("r"), ctx.pid))
        assert (answer_a, answer_b) == (YES, NO)
        seen = _run_in(b, leg.whereis_name, Binary("r"))[1]
        assert seen == RemotePid(registry_redis.link_of(a).node, pa.n)
        assert _run_in(b, leg.send, Binary("r"), Atom("across"))[1] == seen   # through a's inbox in Redis
        _poll(lambda: registry_redis.link_of(a).delivered, 5)
        a.wait_quiescent()
        with a.atomic:
            assert a.process(pa).mailbox.messages() == (Atom("across"),)
        _kill(a, pa)   # a frees its dead holder's name at once: b takes it
        assert _run_in(b, lambda ctx: leg.register_name(ctx, Binary("r"), ctx.pid))[1] == YES


def _start_node(server, prefix: str, node: str, name: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "redis_node.py"), server.url, str(LEASE_MS),
                             prefix, node, name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    line = proc.stdout.readline()
    assert json.loads(line) == {"registered": "yes", "node": node}, line
    return proc


@pytest.mark.spec("VIA-9")
def test_a_runtime_killed_with_sigkill_loses_its_names_after_the_lease_and_never_two_hold_one(leg, server, prefix):
    """Runtime b (another OS process) holds "room"; a message reaches it through Redis; it is SIGKILLed.
    Runtime a takes the name only once the lease has run out, and an observer polling Redis throughout
    sees the holders' fencing tokens only grow."""
    node = f"b-{uuid.uuid4().hex[:6]}"
    b = _start_node(server, prefix, node, "room")
    key = _key(prefix, "room")
    seen, stop = [], threading.Event()

    def observe():
        client = server.client()
        while not stop.is_set():
            value = client.get(key)
            if not seen or seen[-1] != value:
                seen.append(value)
            time.sleep(0.002)

    observer = threading.Thread(target=observe)
    observer.start()
    try:
        with _runtime("a") as a:
            me, holder = _run_in(a, leg.whereis_name, Binary("room"))
            assert holder == RemotePid(node, holder.n)
            assert _run_in(a, leg.send, Binary("room"), Atom("hi"))[1] == holder
            got = _poll(lambda: _run_in(a, leg.whereis_name, (Atom("got"), Atom("hi")))[1] != UNDEFINED, 10, 0.05)
            assert got, "the message crossed runtimes through Redis"
            read_at = time.monotonic()
            pttl_at_kill = server.client().pttl(key)
            b.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            b.wait(10)
            refused = 0
            while True:   # a keeps trying; bounded by twice the lease
                taker, answer = _run_in(a, lambda ctx: leg.register_name(ctx, Binary("room"), ctx.pid))
                if answer == YES:
                    break
                refused += 1
                assert time.monotonic() - killed_at < 2 * LEASE_MS / 1000, "the lease never ran out"
                time.sleep(0.01)
            taken_at = time.monotonic()
            takeover = taken_at - killed_at
            assert refused > 0
            # The name was freed by the lease: no earlier than what was left of it when read (b may
            # renew it until the signal lands; under load this thread may wait long before sending it).
            assert taken_at - read_at >= pttl_at_kill / 1000 - 0.05, (taken_at - read_at, takeover, pttl_at_kill)
            assert takeover <= LEASE_MS / 1000 + 0.5, takeover
            assert _run_in(a, leg.whereis_name, Binary("room"))[1] == taker
            print(f"takeover {takeover:.3f} s after SIGKILL; lease {LEASE_MS} ms, {pttl_at_kill} ms left at the kill")
        assert server.client().get(key) is None   # a shut down: its name was released at once
        _poll(lambda: seen[-1] is None, 2)          # and the observer saw it free
    finally:
        stop.set()
        observer.join()
        if b.poll() is None:
            b.kill()
            b.wait()
        for pipe in (b.stdin, b.stdout, b.stderr):
            if pipe is not None:
                pipe.close()
    holders = [None if v is None else json.loads(v.rpartition("|")[0])["on"] for v in seen]
    tokens = [int(v.rpartition("|")[2]) for v in seen if v is not None]
    assert holders[0] == node
    # Never held by two: one key holds one value, a takes it only once b's lease ran out (above), and
    # every new holder's value carries a larger fencing token. (Whether the observer also sees the
    # name free in between depends on its polling catching that window: under load it may not.)
    assert tokens == sorted(set(tokens)), seen
    owners = [h for i, h in enumerate(holders) if h is not None and (i == 0 or holders[i - 1] != h)]
    assert len(owners) == 2 and owners[0] == node and owners[1] != node, holders   # b, then a: once each
    assert holders[-1] is None   # a shut down: its name was released


@pytest.mark.spec("VIA-9")
def test_a_runtime_shut_down_cleanly_releases_its_names_at_once(leg, server, prefix):
    node = f"b-{uuid.uuid4().hex[:6]}"
    b = _start_node(server, prefix, node, "clean")
    key = _key(prefix, "clean")
    assert server.client().get(key) is not None
    b.stdin.close()   # the script shuts its runtime down
    try:
        assert b.wait(20) == 0
    finally:
        for pipe in (b.stdout, b.stderr):
            if pipe is not None:
                pipe.close()
    assert server.client().get(key) is None


@pytest.mark.spec("VIA-10")
def test_a_redis_restart_loses_every_name_and_an_old_holder_never_deletes_a_new_one(leg, server, prefix):
    with _runtime("a") as a:
        link = registry_redis.link_of(a)
        old_holder, _ = _run_in(a, lambda ctx: leg.register_name(ctx, Binary("r"), ctx.pid))
        key = link.key(prefix, Binary("r"))
        old = server.client().get(key)
        server.stop()
        # Redis down: the registry answers an error, and its server lives on.
        with pytest.raises(ErlangError) as err:
            _run_in(a, leg.whereis_name, Binary("r"))
        assert err.value.args[1][0] == Atom("redis_unavailable")
        server.start()   # no persistence: every key is gone
        assert _run_in(a, leg.whereis_name, Binary("r"))[1] == UNDEFINED
        _poll(lambda: key in link.lost, 5)
        assert key in link.lost and key not in link.held   # the heartbeat noticed the name is no longer a's
        with a.atomic:
            assert a.is_alive(old_holder)   # the holder runs on, holding no name
        new_holder, answer = _run_in(a, lambda ctx: leg.register_name(ctx, Binary("r"), ctx.pid))
        assert answer == YES
        new = server.client().get(key)
        assert link.token_of(new) > link.token_of(old), "tokens keep growing across the restart"
        _kill(a, old_holder)   # its late cleanup finds another value: the new holder keeps the name
        assert _run_in(a, leg.whereis_name, Binary("r"))[1] == new_holder
