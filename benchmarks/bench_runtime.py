"""Benchmarks of the threaded runtime, each printed beside a baseline measured in the same run.

    python benchmarks/bench_runtime.py [--quick] [--json]

Every figure has a value, a baseline measured in the same run and a ratio,
"slower by": value / baseline for a time, baseline / value for a rate (so
above 1 is worse than the baseline, whatever the unit). Each value and its
baseline is the median of several rounds, and the measures compared run
one after the other within each round, so that a burst of load on a shared
machine hits a figure and its baseline alike. Figures:

- gen_server call round trip (the driver's `call` step: gen:call's monitor,
  request, reply and demonitor, each a signal through the scheduler) vs two
  bare threads ping-ponging over a `threading.Condition`, and vs Pykka's
  `ask` (when Pykka is importable);
- cast throughput vs a bare one-way hand-off between two threads, and vs
  Pykka's `tell` (flushed by one `ask`); the chat room's figures, and a
  no-op server's (the like of Pykka's echo actor).
  The runtime runs its threads on one CPU (`Runtime(one_cpu=True)`, the
  default); the baselines run as they come (the OS spreads their threads
  over the CPUs), and, where the OS allows pinning, again with their
  threads on one CPU too ("on one CPU"), so that the figures also compare
  like with like. The chat room adds each
  cast's message to its persistent list (`regspec.impl.behaviours.Room`),
  a cost that does not grow with the messages it holds;
- `whereis` lookups per second vs `dict.get` under a `threading.Lock`;
- kill-to-DOWN latency (kill a process, until the watcher holds the DOWN
  and the killed thread has ended);
- scaling, each against the same measure at a small size (ratio ~1 when
  nothing grows with the size): the cost per message taken from a mailbox
  holding 10,000 messages vs 10; the cost per message when 10,000 processes
  vs 10 are in the run queue at once (one message each), beside bare
  threads woken in turn (10,000 vs 10: what the OS and CPython charge for
  waking threads that have been idle, which a thread per process pays),
  and the 10,000 vs those bare threads on one CPU (what the runtime adds);
- the time to start 10,000 collectors and reach quiescence (each one's
  thread starts at its first turn) vs 1,000 (ratio ~10 when linear), beside
  bare threads started one at a time as the runtime starts its own
  (`_thread.start_new_thread`), each handing a turn back (10,000 vs 1,000,
  as they come and on one CPU), and the runtime's starts vs those bare
  threads at each size (what the runtime adds, per thread).

With `--json`, one JSON object per figure and line:
`{"name", "value", "unit", "baseline", "ratio"}`. It asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import _thread
import threading
import time

from regspec.impl import Driver, Runtime, driver_names, gen_server
from regspec.impl.runtime import live_threads
from regspec.terms import Atom, Pid

GET = Atom("get_messages")


def median_of(fn, rounds: int) -> float:
    return statistics.median(fn() for _ in range(rounds))


def interleaved(measures: dict, rounds: int) -> dict:
    """The median of each measure over `rounds` rounds, every measure run once per round, in an order
    that rotates from round to round (a measure returning None stays None)."""
    names = list(measures)
    got: dict = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            got[name].append(measures[name]())
    return {name: None if None in values else statistics.median(values) for name, values in got.items()}


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


def bare_wake_in_turn(threads: int, total: int) -> float:
    """Seconds per hand-off when one thread wakes each of `threads` blocked threads in turn and waits for
    it to hand back (what dispatching one message to each of that many processes costs at the least),
    over `total` hand-offs in rounds of `threads`."""
    back = threading.Lock()
    back.acquire()
    locks = [threading.Lock() for _ in range(threads)]
    stop = [False]

    def body(lock):
        while True:
            lock.acquire()
            if stop[0]:
                return
            back.release()

    workers = []
    for lock in locks:
        lock.acquire()
        workers.append(threading.Thread(target=body, args=(lock,), daemon=True))
        workers[-1].start()
    rounds = max(total // threads, 1)
    start = time.perf_counter()
    for _ in range(rounds):
        for lock in locks:
            lock.release()
            back.acquire()
    elapsed = time.perf_counter() - start
    stop[0] = True
    for lock in locks:
        lock.release()
    for t in workers:
        t.join()
    return elapsed / (rounds * threads)


def bare_start_in_turn(n: int) -> float:
    """Seconds to start `n` threads one at a time, each handing a turn back before it blocks (what
    starting `n` processes and running their first turns costs at the least). Started as the
    runtime starts its process threads: with `_thread.start_new_thread` (a `threading.Thread`
    costs more, and more per thread the more of them live)."""
    back = _thread.allocate_lock()
    back.acquire()
    gate = threading.Event()
    ended = threading.Semaphore(0)

    def body():
        back.release()
        gate.wait()
        ended.release()

    start = time.perf_counter()
    for _ in range(n):
        _thread.start_new_thread(body, ())
        back.acquire()
    elapsed = time.perf_counter() - start
    gate.set()
    for _ in range(n):
        ended.acquire()
    return elapsed


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


def _pykka_echo():
    try:
        import pykka
    except ImportError:
        return None, None

    class Echo(pykka.ThreadingActor):
        def on_receive(self, message):
            return message

    return pykka, Echo


def pykka_ask(n: int) -> float | None:
    """Seconds per Pykka `ask` round trip, or None without Pykka."""
    pykka, Echo = _pykka_echo()
    if pykka is None:
        return None
    ref = Echo.start()
    try:
        start = time.perf_counter()
        for _ in range(n):
            ref.ask("x")
        return (time.perf_counter() - start) / n
    finally:
        ref.stop()


def pykka_tell(n: int) -> float | None:
    """Pykka `tell`s per second, until the actor has handled them all (one `ask` behind them); None without Pykka."""
    pykka, Echo = _pykka_echo()
    if pykka is None:
        return None
    ref = Echo.start()
    try:
        start = time.perf_counter()
        for i in range(n):
            ref.tell(i)
        ref.ask("flush")
        return n / (time.perf_counter() - start)
    finally:
        ref.stop()


def on_one_cpu(fn):
    """`fn` run with the calling thread, and every thread it starts, on one CPU (the one it is on);
    None where the OS cannot pin (then the figure is left out)."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        return lambda: None
    cpus = os.sched_getaffinity(0)

    def pinned():
        os.sched_setaffinity(0, {min(cpus)})
        try:
            return fn()
        finally:
            os.sched_setaffinity(0, cpus)
    return pinned


# -- the runtime ---------------------------------------------------------------

class Sink:
    """gen_server callbacks doing nothing (as Pykka's echo actor): a call answers its request."""

    handle_call = staticmethod(lambda request, state: ("reply", request, state))
    handle_cast = staticmethod(lambda msg, state: ("noreply", state))
    handle_info = staticmethod(lambda msg, state: ("noreply", state))


def sink(ctx) -> None:
    gen_server.serve(ctx, Sink, None)


def sink_call_round_trip(n: int) -> float:
    with Runtime() as rt:
        d = Driver(rt)
        server = d.start("sink", body=sink).value
        start = time.perf_counter()
        for _ in range(n):
            driver_names.call(server, GET)(d)
        return (time.perf_counter() - start) / n


def sink_cast_throughput(n: int) -> float:
    with Runtime() as rt:
        d = Driver(rt)
        server = d.start("sink", body=sink).value
        start = time.perf_counter()
        for i in range(n):
            d.cast(server, i)
        driver_names.call(server, GET)(d)  # every cast before it has been handled
        return n / (time.perf_counter() - start)


def call_round_trip(n: int) -> float:
    with Runtime() as rt:
        d = Driver(rt)
        room = d.start("chat_room").value
        start = time.perf_counter()
        for _ in range(n):
            driver_names.call(room, GET)(d)
        return (time.perf_counter() - start) / n


def cast_throughput(n: int) -> float:
    add = Atom("add_message")
    with Runtime() as rt:
        d = Driver(rt)
        room = d.start("chat_room").value
        start = time.perf_counter()
        for i in range(n):
            d.cast(room, (add, i))
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


def per_message_mailbox(length: int, total: int) -> float:
    """Seconds per message when `length` messages reach one collector at once (its mailbox holds
    them all when it starts taking them), over `total` messages in rounds of `length`."""
    with Runtime(wait_timeout=600.0) as rt:
        d = Driver(rt)
        pid = d.spawn()
        rt.wait_quiescent()
        start = time.perf_counter()
        for r in range(total // length):
            with rt.atomic:
                for i in range(length):
                    d.send(pid, i)
            rt.wait_quiescent()
        return (time.perf_counter() - start) / (total // length * length)


def per_message_run_queue(procs: int, total: int) -> float:
    """Seconds per message when each of `procs` collectors gets one message at once (the run queue
    holds `procs` processes), over `total` messages in rounds of `procs`."""
    with Runtime(wait_timeout=600.0, join_timeout=60.0) as rt:
        d = Driver(rt)
        pids = [d.spawn() for _ in range(procs)]
        rt.wait_quiescent()
        start = time.perf_counter()
        for r in range(total // procs):
            with rt.atomic:
                for i, pid in enumerate(pids):
                    d.send(pid, i)
            rt.wait_quiescent()
        return (time.perf_counter() - start) / (total // procs * procs)


def start_quiescent(n: int, timeout: float) -> tuple[float | None, int]:
    """Seconds to spawn `n` collectors and reach quiescence (None past `timeout`); threads live at the end."""
    before = len(live_threads())
    with Runtime(join_timeout=60.0) as rt:
        d = Driver(rt)
        start = time.perf_counter()
        for _ in range(n):
            d.spawn()
        try:
            rt.wait_quiescent(timeout=timeout)
            elapsed = time.perf_counter() - start
        except TimeoutError:
            elapsed = None
        live = len(live_threads()) - before
    return elapsed, live


# -- report --------------------------------------------------------------------

def figure(name: str, value: float | None, unit: str, baseline: float | None, base_name: str,
           higher_is_better: bool = False) -> dict:
    ratio = None
    if value is not None and baseline:
        ratio = baseline / value if higher_is_better else value / baseline
    return {"name": name, "value": value, "unit": unit, "baseline": baseline, "ratio": ratio,
            "baseline_name": base_name}


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "s" and value < 1e-3:
        return f"{value * 1e6:.1f} us"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:,.0f} {unit}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--json", action="store_true", help="one JSON object per figure and line")
    parser.add_argument("--big", type=int, default=10_000, help="the large size of the scaling figures")
    parser.add_argument("--start-timeout", type=float, default=300.0,
                        help="seconds the large start may take to reach quiescence")
    args = parser.parse_args(argv)
    k = 10 if args.quick else 1
    rounds = 3 if args.quick else 5
    big = args.big
    figs = []

    m = interleaved({"floor": lambda: bare_ping_pong(20_000 // k),
                     "floor1": on_one_cpu(lambda: bare_ping_pong(20_000 // k)),
                     "ask": lambda: pykka_ask(5_000 // k),
                     "ask1": on_one_cpu(lambda: pykka_ask(5_000 // k)),
                     "call": lambda: call_round_trip(5_000 // k),
                     "sink": lambda: sink_call_round_trip(5_000 // k)}, rounds)
    floor = m["floor"]
    figs.append(figure("call round trip vs bare threads", m["call"], "s", floor, "bare ping-pong"))
    figs.append(figure("call round trip vs bare threads on one CPU", m["call"], "s", m["floor1"],
                       "bare ping-pong, 1 CPU"))
    figs.append(figure("call round trip vs Pykka ask", m["call"], "s", m["ask"], "pykka ask"))
    figs.append(figure("call round trip vs Pykka ask on one CPU", m["call"], "s", m["ask1"], "pykka ask, 1 CPU"))
    figs.append(figure("call (no-op server) vs Pykka ask", m["sink"], "s", m["ask"], "pykka ask"))
    figs.append(figure("call (no-op server) vs Pykka ask on one CPU", m["sink"], "s", m["ask1"],
                       "pykka ask, 1 CPU"))

    m = interleaved({"one_way": lambda: bare_one_way(50_000 // k),
                     "tell": lambda: pykka_tell(20_000 // k),
                     "tell1": on_one_cpu(lambda: pykka_tell(20_000 // k)),
                     "casts": lambda: cast_throughput(20_000 // k),
                     "sink": lambda: sink_cast_throughput(20_000 // k)}, rounds)
    figs.append(figure("cast throughput vs bare hand-off", m["casts"], "/s", m["one_way"], "bare hand-off", True))
    figs.append(figure("cast throughput vs Pykka tell", m["casts"], "/s", m["tell"], "pykka tell", True))
    figs.append(figure("cast throughput vs Pykka tell on one CPU", m["casts"], "/s", m["tell1"],
                       "pykka tell, 1 CPU", True))
    figs.append(figure("cast (no-op server) vs Pykka tell", m["sink"], "/s", m["tell"], "pykka tell", True))
    figs.append(figure("cast (no-op server) vs Pykka tell on one CPU", m["sink"], "/s", m["tell1"],
                       "pykka tell, 1 CPU", True))

    m = interleaved({"dict": lambda: locked_dict_get(500_000 // k),
                     "whereis": lambda: whereis_rate(200_000 // k)}, rounds)
    figs.append(figure("whereis lookups", m["whereis"], "/s", m["dict"], "locked dict.get", True))
    kd = median_of(lambda: kill_to_down(500 // k), rounds)
    figs.append(figure("kill to DOWN", kd, "s", floor, "bare ping-pong"))

    total = max(big, 1_000)
    m = interleaved({"small": lambda: per_message_mailbox(10, total),
                     "big": lambda: per_message_mailbox(big, total)}, 3)
    figs.append(figure(f"per message, mailbox {big} vs 10", m["big"], "s", m["small"], "mailbox 10"))
    m = interleaved({"small": lambda: per_message_run_queue(10, total),
                     "big": lambda: per_message_run_queue(big, total),
                     "bare_small": lambda: bare_wake_in_turn(10, total),
                     "bare_big": lambda: bare_wake_in_turn(big, total),
                     "bare1_small": on_one_cpu(lambda: bare_wake_in_turn(10, total)),
                     "bare1_big": on_one_cpu(lambda: bare_wake_in_turn(big, total))}, 3)
    figs.append(figure(f"per message, run queue {big} vs 10", m["big"], "s", m["small"], "run queue 10"))
    figs.append(figure(f"bare threads woken in turn {big} vs 10", m["bare_big"], "s", m["bare_small"],
                       "bare threads 10"))
    figs.append(figure(f"bare threads on one CPU woken in turn {big} vs 10", m["bare1_big"], "s",
                       m["bare1_small"], "bare threads 10, 1 CPU"))
    figs.append(figure(f"per message, run queue {big} vs bare threads", m["big"], "s", m["bare1_big"],
                       f"bare threads {big}, 1 CPU"))

    small_n = max(big // 10, 1)
    live = []

    def started(n):
        elapsed, threads = start_quiescent(n, args.start_timeout)
        live.append(threads)
        return elapsed

    m = interleaved({"small": lambda: started(small_n), "big": lambda: started(big),
                     "bare_small": lambda: bare_start_in_turn(small_n),
                     "bare_big": lambda: bare_start_in_turn(big),
                     "bare1_small": on_one_cpu(lambda: bare_start_in_turn(small_n)),
                     "bare1_big": on_one_cpu(lambda: bare_start_in_turn(big))}, 1 if args.quick else 3)
    figs.append(figure(f"start+quiescent {big} vs {small_n} (~10 linear)", m["big"], "s", m["small"],
                       f"start+quiescent {small_n}"))
    figs[-1]["threads_live"] = max(live)
    figs.append(figure(f"bare thread starts {big} vs {small_n} (~10 linear)", m["bare_big"], "s",
                       m["bare_small"], f"bare starts {small_n}"))
    figs.append(figure(f"bare thread starts on one CPU {big} vs {small_n}", m["bare1_big"], "s",
                       m["bare1_small"], f"bare starts {small_n}, 1 CPU"))
    figs.append(figure(f"start+quiescent {big} vs bare thread starts", m["big"], "s", m["bare_big"],
                       f"bare starts {big}"))
    figs.append(figure(f"start+quiescent {big} vs bare starts on one CPU", m["big"], "s", m["bare1_big"],
                       f"bare starts {big}, 1 CPU"))
    figs.append(figure(f"start+quiescent {small_n} vs bare starts on one CPU", m["small"], "s",
                       m["bare1_small"], f"bare starts {small_n}, 1 CPU"))

    if args.json:
        for f in figs:
            print(json.dumps(f))
        return 0
    print(f"{'benchmark':54} {'runtime':>14}  {'baseline (same run)':>34}  ratio")
    for f in figs:
        base = f"{f['baseline_name']} {_fmt(f['baseline'], f['unit'])}"
        ratio = "" if f["ratio"] is None else f"{f['ratio']:6.2f}x"
        print(f"{f['name']:54} {_fmt(f['value'], f['unit']):>14}  {base:>34}  {ratio}")
    print("ratio: value/baseline for a time, baseline/value for a rate (above 1: slower than the baseline);"
          " start+quiescent: ~10 when linear")
    return 0


if __name__ == "__main__":
    sys.exit(main())
