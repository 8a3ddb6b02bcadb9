"""Benchmarks of the threaded runtime, each printed beside a baseline measured in the same run.

    python benchmarks/bench_runtime.py [--quick]

Figures (median of several rounds):
- gen_server call round trip vs two bare threads ping-ponging over a
  `threading.Condition` (and Pykka's ask, when Pykka is installed);
- cast throughput vs the same bare-thread hand-off, one way;
- `whereis` lookups per second vs `dict.get` under a `threading.Lock`;
- kill-to-DOWN latency (kill a process, until the watcher holds the DOWN);
- the time to start 1,000 and 10,000 processes, and whether 10,000 live at once.

It prints figures; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

from regspec.impl import Driver, Runtime, driver_names
from regspec.terms import Atom, Pid

GET = Atom("get_messages")


def median_of(fn, rounds: int) -> float:
    return statistics.median(fn() for _ in range(rounds))


# -- baselines -----------------------------------------------------------------

def bare_ping_pong(n: int) -> float:
    """Seconds per round trip between two threads over one Condition."""
    cond = threading.Condition()
    state = {"turn": "ping", "left": n}

    def ponger():
        with cond:
            while state["left"] > 0:
                while state["turn"] != "pong":
                    cond.wait()
                state["turn"] = "ping"
                state["left"] -= 1
                cond.notify()

    t = threading.Thread(target=ponger)
    t.start()
    start = time.perf_counter()
    with cond:
        for _ in range(n):
            state["turn"] = "pong"
            cond.notify()
            while state["turn"] != "ping":
                cond.wait()
    elapsed = time.perf_counter() - start
    t.join()
    return elapsed / n


def bare_one_way(n: int) -> float:
    """Items per second handed from one thread to another through a Condition-guarded list."""
    cond = threading.Condition()
    box: list = []
    done = threading.Event()

    def consumer():
        got = 0
        while got < n:
            with cond:
                while not box:
                    cond.wait()
                got += len(box)
                box.clear()
        done.set()

    t = threading.Thread(target=consumer)
    t.start()
    start = time.perf_counter()
    for i in range(n):
        with cond:
            box.append(i)
            cond.notify()
    done.wait()
    elapsed = time.perf_counter() - start
    t.join()
    return n / elapsed


def locked_dict_get(n: int) -> float:
    """Lookups per second of `dict.get` under a lock."""
    lock = threading.Lock()
    table = {Atom(f"n{i}"): Pid(i) for i in range(100)}
    key = Atom("n42")
    start = time.perf_counter()
    for _ in range(n):
        with lock:
            table.get(key)
    return n / (time.perf_counter() - start)


def pykka_ask(n: int) -> float | None:
    try:
        import pykka
    except ImportError:
        return None

    class Echo(pykka.ThreadingActor):
        def on_receive(self, message):
            return message

    ref = Echo.start()
    try:
        start = time.perf_counter()
        for _ in range(n):
            ref.ask("x")
        return (time.perf_counter() - start) / n
    finally:
        ref.stop()


# -- the runtime ---------------------------------------------------------------

def call_round_trip(n: int) -> float:
    with Runtime() as rt:
        d = Driver(rt)
        room = d.start("chat_room").value
        start = time.perf_counter()
        for _ in range(n):
            driver_names.call(room, GET)(d)
        return (time.perf_counter() - start) / n


def cast_throughput(n: int) -> float:
    with Runtime() as rt:
        d = Driver(rt)
        room = d.start("chat_room").value
        start = time.perf_counter()
        for i in range(n):
            d.cast(room, (Atom("add_message"), i))
        driver_names.call(room, GET)(d)  # every cast before it has been handled
        return n / (time.perf_counter() - start)


def whereis_rate(n: int) -> float:
    with Runtime() as rt:
        d = Driver(rt)
        room = d.start("chat_room", name=Atom("lobby")).value
        assert d.whereis(Atom("lobby")) == room
        key = Atom("lobby")
        start = time.perf_counter()
        for _ in range(n):
            d.whereis(key)
        return n / (time.perf_counter() - start)


def kill_to_down(n: int) -> float:
    with Runtime() as rt:
        d = Driver(rt)
        watcher = d.spawn()
        total = 0.0
        for _ in range(n):
            room = d.start("chat_room").value
            driver_names.ask(watcher, ("monitor", room))(d)
            start = time.perf_counter()
            d.kill(room)
            rt.wait_quiescent()
            total += time.perf_counter() - start
        return total / n


def start_many(n: int) -> tuple[float, int]:
    """Seconds to spawn `n` collectors, and how many threads were live at the end."""
    before = threading.active_count()
    with Runtime(join_timeout=60.0) as rt:
        d = Driver(rt)
        start = time.perf_counter()
        for _ in range(n):
            d.spawn()
        elapsed = time.perf_counter() - start
        live = threading.active_count() - before
    return elapsed, live


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    args = parser.parse_args(argv)
    k = 10 if args.quick else 1
    rounds = 3 if args.quick else 5

    rows = []
    floor = median_of(lambda: bare_ping_pong(20_000 // k), rounds)
    rt_call = median_of(lambda: call_round_trip(5_000 // k), rounds)
    rows.append(("call round trip", f"{rt_call * 1e6:8.1f} us", f"bare threads {floor * 1e6:8.1f} us",
                 rt_call / floor))
    pk = pykka_ask(5_000 // k)
    if pk is not None:
        rows.append(("  vs Pykka ask", f"{rt_call * 1e6:8.1f} us", f"pykka {pk * 1e6:8.1f} us", rt_call / pk))
    one_way = median_of(lambda: bare_one_way(50_000 // k), rounds)
    casts = median_of(lambda: cast_throughput(20_000 // k), rounds)
    rows.append(("cast throughput", f"{casts:10.0f} /s", f"bare hand-off {one_way:10.0f} /s", one_way / casts))
    dict_rate = median_of(lambda: locked_dict_get(500_000 // k), rounds)
    lookups = median_of(lambda: whereis_rate(200_000 // k), rounds)
    rows.append(("whereis lookups", f"{lookups:10.0f} /s", f"locked dict.get {dict_rate:10.0f} /s",
                 dict_rate / lookups))
    kd = median_of(lambda: kill_to_down(500 // k), rounds)
    rows.append(("kill to DOWN", f"{kd * 1e6:8.1f} us", f"bare threads {floor * 1e6:8.1f} us", kd / floor))
    for n in (1_000, 10_000 // k):
        elapsed, live = start_many(n)
        rows.append((f"start {n} processes", f"{elapsed:8.2f} s", f"{live} threads live at once", None))

    print(f"{'benchmark':24} {'runtime':>16}  {'baseline (same run)':>34}  slower by")
    for name, ours, base, ratio in rows:
        print(f"{name:24} {ours:>16}  {base:>34}  {'' if ratio is None else f'{ratio:6.2f}x'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
