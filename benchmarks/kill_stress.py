"""Kill stress: processes busy in awkward places are killed; count the kills that were lost.

    python benchmarks/kill_stress.py [ROUNDS]          # 200 by default
    python benchmarks/kill_stress.py --seconds 600     # the thorough run: as many rounds as fit

Each round spawns one process busy in one of four ways (a pure loop; a loop
that spends most of its time in `__del__`; in weakref callbacks; a loop
that swallows the first two kills in `except BaseException`), waits until
it is busy, kills it and waits for quiescence. Then it counts:
- *ran after the barrier*: its thread was still running when
  `wait_quiescent` returned;
- *lost*: its thread was still running 1 s later (the kill never landed).
Lost threads are released at the end so that the script ends; shutdown's
outcome is printed. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import threading
import time
import weakref

from regspec.impl import Driver, Runtime
from regspec.impl.runtime import live_threads

stop = threading.Event()


def make_body(style: int, entered: threading.Event):
    def spin(n):
        x = 0
        for i in range(n):
            x += i
        return x

    class Heavy:
        def __del__(self):
            spin(300)

    class Thing:
        pass

    def callback(_ref):
        spin(300)

    def body(ctx):
        entered.set()
        swallowed = 0
        while not stop.is_set():
            try:
                if style == 0:
                    spin(1000)
                elif style == 1:
                    Heavy()
                elif style == 2:
                    weakref.ref(Thing(), callback)
                else:
                    spin(1000)
            except BaseException:
                if style != 3 or swallowed >= 2:
                    raise
                swallowed += 1
    return body


def main(rounds: int | None, seconds: float | None = None) -> None:
    after_barrier = [0] * 4
    lost = [0] * 4
    rt = Runtime(wait_timeout=60, time_slice=0.01, join_timeout=2.0)
    d = Driver(rt)
    threads = []
    t0 = time.monotonic()
    r = 0
    while (r < rounds) if rounds is not None else (time.monotonic() - t0 < seconds):
        style = r % 4
        r += 1
        entered = threading.Event()
        pid = rt.spawn("victim", make_body(style, entered))
        rt.run_until(entered.is_set, timeout=60)
        d.kill(pid)
        rt.wait_quiescent(timeout=60)
        thread = rt.process(pid).thread
        if thread.is_alive():
            after_barrier[style] += 1
        threads.append((style, thread))
        if len(threads) >= 64:   # look at the older ones now, so a long run keeps few Thread objects
            lost_in(threads[:32], lost)
            del threads[:32]
    lost_in(threads, lost)
    rounds = r
    elapsed = time.monotonic() - t0
    stop.set()
    try:
        rt.shutdown()
        outcome = "shutdown ok"
    except Exception as e:  # noqa: BLE001 - printed
        outcome = f"shutdown raised {type(e).__name__} ({len(getattr(e, 'threads', []))} threads)"
    leaked = [t.name for t in live_threads() if t.name.startswith("regspec-")]
    names = ["pure loop", "__del__ loop", "weakref loop", "swallows 2"]
    print(f"{rounds} kills in {elapsed:.1f}s; {outcome}; process threads left after shutdown: {len(leaked)}")
    for i, name in enumerate(names):
        print(f"  {name:13s} ran after the barrier: {after_barrier[i]:4d}  lost: {lost[i]:4d}  "
              f"of {(rounds + 3 - i) // 4}")
    s = rt.statistics()
    print(f"  kills_async={s.kills_async} kills_at_call={s.kills_at_call} async_resends={s.async_resends} "
          f"kills_dropped={s.kills_dropped}")


def lost_in(threads: list, lost: list) -> None:
    """Count the threads still running 1 s after the barrier that followed their kill."""
    for style, thread in threads:
        thread.join(1.0)
        if thread.is_alive():
            lost[style] += 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", nargs="?", type=int, default=200, help="kills to deliver (200 by default)")
    parser.add_argument("--seconds", type=float, help="run as many rounds as fit in this many seconds instead")
    args = parser.parse_args()
    if args.seconds is not None:
        main(None, args.seconds)
    else:
        main(args.rounds)
