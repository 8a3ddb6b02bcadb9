"""The threaded runtime: real kills, signal order, the gate, the quiescence barrier and shutdown.

No test sleeps to wait for a state: each waits on the runtime's own barrier
(`wait_quiescent`, `run_until`), on an event the process code sets, or on a
thread join.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from regspec.impl import DRIVER, Driver, LeakedThreads, Runtime
from regspec.common.results import ErlangError, strip_call
from regspec.impl import driver_names, gen_server, observe
from regspec.impl.process import TIMEOUT, ProcessKilled
from regspec.impl.runtime import ProcessThread, live_threads
from regspec.terms import Atom, ErlList, LocalName, Outcome, Pid

ROOM = Atom("room1")
KILLED = Atom("killed")


def make_runtime(**options) -> Runtime:
    return Runtime(**{"wait_timeout": 20.0, **options})


class Spinner:
    """A gen_server whose `spin` cast stays busy in Python code until released (or killed)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.handled: list = []

    def body(self, ctx) -> None:
        gen_server.serve(ctx, self, ())

    def handle_cast(self, msg, state):
        self.handled.append(msg)
        if msg == Atom("spin"):
            self.entered.set()
            while not self.release.is_set():
                pass
            self.finished.set()
        return ("noreply", state)

    def handle_call(self, request, state):
        return ("reply", request, state)

    def handle_info(self, msg, state):
        return ("noreply", state)


class Stubborn(Spinner):
    """Its `spin` cast swallows the kill and spins on: a thread the runtime cannot stop."""

    def __init__(self) -> None:
        super().__init__()
        self.swallowed = threading.Event()

    def handle_cast(self, msg, state):
        self.handled.append(msg)
        while True:
            try:
                self.entered.set()
                while not self.release.is_set():
                    pass
                break
            except ProcessKilled:
                self.swallowed.set()
        self.finished.set()
        return ("noreply", state)


def observer(seen: list, setup):
    """A process that runs `setup(ctx)`, then records each message with the name table's view of ROOM."""
    def body(ctx):
        setup(ctx)
        while True:
            msg = ctx.receive()
            seen.append((msg, ctx.whereis(ROOM)))
    return body


# The driver's steps that wait are OTP code it runs (`driver_names`): `step(driver)`.
def call(d: Driver, to, msg, **options):
    return driver_names.call(to, msg, **options)(d)


def ask(d: Driver, target, request: tuple):
    return driver_names.ask(target, request)(d)


def alive(d: Driver, target):
    return driver_names.alive(target)(d)


def thread_of(rt: Runtime, pid: Pid) -> ProcessThread:
    return rt.process(pid).thread


# -- kills -----------------------------------------------------------------------

@pytest.mark.spec("SIG-1", "REG-LOCAL-7")
def test_kill_stops_a_process_busy_in_its_own_callback():
    spinner = Spinner()
    with make_runtime(time_slice=0.02) as rt:
        d = Driver(rt)
        pid = d.start("spinner", name=ROOM, body=spinner.body).value
        watcher = d.spawn()
        ref = ask(d, watcher, ("monitor", pid))
        d.cast(pid, Atom("spin"))
        assert "done" == rt.run_until(spinner.entered.is_set, timeout=20)   # busy in handle_cast now
        d.cast(pid, Atom("after"))   # must never be handled
        d.kill(pid)
        rt.wait_quiescent(timeout=20)
        thread_of(rt, pid).join(20)
        assert not thread_of(rt, pid).is_alive()
        assert not spinner.finished.is_set()
        assert [Atom("spin")] == spinner.handled
        assert Atom("undefined") == d.whereis(ROOM)
        assert ErlList(((Atom("DOWN"), ref, Atom("process"), pid, KILLED),)) == ask(d, watcher, ("messages",))
        assert () == rt.statistics().crashes


@pytest.mark.spec("REG-LOCAL-7", "LINK-1", "MON-1")
def test_name_is_released_before_the_link_exit_signal_and_the_down_are_sent():
    seen: list = []
    with make_runtime() as rt:
        d = Driver(rt)
        room = d.start("chat_room", name=ROOM, link=False).value

        def setup(ctx):
            ctx.trap_exit(True)
            ctx.link(room)
            ctx.monitor(room)
        d.start("observer", body=observer(seen, setup))
        rt.wait_quiescent(timeout=20)
        d.kill(room, Atom("boom"))
        rt.wait_quiescent(timeout=20)
    undefined = Atom("undefined")
    assert 2 == len(seen)
    (exit_msg, name_at_exit), (down_msg, name_at_down) = seen
    assert ((Atom("EXIT"), room, Atom("boom")), undefined) == (exit_msg, name_at_exit)
    assert (Atom("DOWN"), Atom("process"), room, Atom("boom")) == (down_msg[0], down_msg[2], down_msg[3], down_msg[4])
    assert undefined == name_at_down


@pytest.mark.spec("LINK-1", "MON-1", "MON-6")
def test_link_peers_go_highest_pid_first_then_downs_in_monitor_creation_order():
    record: list = []

    def linker(tag):
        def body(ctx):
            ctx.trap_exit(True)
            while True:
                record.append((tag, ctx.receive()[0]))
        return body

    def watcher(tag, target):
        def body(ctx):
            ctx.receive(lambda m: m == Atom("go"))
            ctx.monitor(target)
            while True:
                record.append((tag, ctx.receive()[0]))
        return body

    with make_runtime() as rt:
        d = Driver(rt)
        target = d.spawn()
        l1, l2, l3 = (d.start("linker", link=False, body=linker(f"L{i}")).value for i in (1, 2, 3))
        wa, wb = (d.start("watcher", link=False, body=watcher(tag, target)).value for tag in ("Wa", "Wb"))
        for peer in (l3, l2, l1):   # linked in reverse pid order
            assert Atom("true") == ask(d, target, ("link", peer))
        for w in (wb, wa):          # the higher pid monitors first
            d.send(w, Atom("go"))
            rt.wait_quiescent(timeout=20)
        d.kill(target, Atom("boom"))
        rt.wait_quiescent(timeout=20)
    # Link exit signals go to the highest pid first, as on the BEAM (a killed
    # supervisor's children die newest first); DOWNs in monitor creation order.
    assert [("L3", Atom("EXIT")), ("L2", Atom("EXIT")), ("L1", Atom("EXIT")),
            ("Wb", Atom("DOWN")), ("Wa", Atom("DOWN"))] == record


@pytest.mark.spec("REG-LOCAL-8", "SIG-4")
def test_a_nowait_kill_leaves_the_name_registered_until_the_driver_blocks():
    with make_runtime() as rt:
        d = Driver(rt)
        room = d.start("chat_room", name=ROOM).value
        assert Atom("true") == d.kill(LocalName(ROOM))
        assert room == d.whereis(ROOM)          # the gate is closed: the kill is not handled yet
        assert rt.statistics().in_flight >= 1
        rt.wait_quiescent(timeout=20)
        assert Atom("undefined") == d.whereis(ROOM)
        assert Atom("false") == alive(d, room)


# -- the driver P0 ---------------------------------------------------------------------

@pytest.mark.spec("SCN-1")
def test_no_exit_signal_kills_the_driver_and_its_mailbox_is_cleared_before_each_step():
    with make_runtime() as rt:
        d = Driver(rt)
        c = d.spawn(link=True)
        d.kill(DRIVER)                    # exit(P0, kill): dropped
        d.kill(DRIVER, Atom("boom"))      # trapped, as the EXIT of its linked collector
        d.kill(c, Atom("boom"))
        rt.wait_quiescent(timeout=20)
        assert Atom("true") == alive(d, DRIVER)
        with rt.atomic:
            assert [(Atom("EXIT"), DRIVER, Atom("boom")), (Atom("EXIT"), c, Atom("boom"))] == \
                list(d.proc.mailbox.messages())
            d.clear_mailbox()
            assert () == d.proc.mailbox.messages()


@pytest.mark.spec("PROC-5")
def test_alive_of_the_driver_itself_is_answered_behind_its_signals_to_itself():
    with make_runtime() as rt:
        d = Driver(rt)
        d.send(DRIVER, Atom("hello"))     # in flight to P0: the question queues behind it
        assert rt.in_flight(DRIVER, DRIVER)
        assert Atom("true") == alive(d, DRIVER)
        assert not rt.in_flight(DRIVER, DRIVER)


# -- calls -------------------------------------------------------------------------

@pytest.mark.spec("GS-3")
def test_call_to_a_free_name_or_a_dead_pid_exits_noproc():
    with make_runtime() as rt:
        d = Driver(rt)
        assert Outcome("exit", Atom("noproc")) == call(d, LocalName(Atom("nobody")), Atom("get_messages"))
        room = d.start("chat_room").value
        d.kill(room)
        rt.wait_quiescent(timeout=20)
        assert Outcome("exit", Atom("noproc")) == call(d, room, Atom("get_messages"))


@pytest.mark.spec("GS-4")
def test_an_unanswered_call_times_out_in_logical_time_once_nothing_else_can_happen():
    with make_runtime() as rt:
        d = Driver(rt)
        collector = d.spawn()
        assert Outcome("exit", Atom("timeout")) == call(d, collector, Atom("hello"), timeout=60_000)
        assert 60_000 == rt.time                # logical: the run did not wait a minute
        assert Outcome("exit", Atom("deadlock")) == call(d, collector, Atom("again"), timeout="infinity")


class Computing(Spinner):
    """A gen_server whose `compute` cast computes as a chat room's work does (`behaviours.compute`: it
    gives up its slice, then runs without calling the runtime) until `done()`."""

    def __init__(self, done) -> None:
        super().__init__()
        self.done = done

    def body(self, ctx) -> None:
        self.ctx = ctx
        super().body(ctx)

    def handle_cast(self, msg, state):
        self.handled.append(msg)
        self.ctx.atomic(lambda rt, me: rt.end_slice(me))
        self.entered.set()
        while not self.done():
            pass
        self.finished.set()
        return ("noreply", state)


@pytest.mark.spec("SCN-5", "GS-4")
def test_a_call_timeout_never_fires_while_the_server_computes():
    # The model's FinishWork comes before any timeout: a process computing outlasts everything
    # else, however long it takes in real time, and a call to it gets the reply. The server
    # computes until the scheduler has waited for it twice, each wait longer than the timeout.
    waits: list = []
    until = [float("inf")]
    with make_runtime(time_slice=0.05) as rt:
        scheduler_wait = rt._wait
        rt._wait = lambda seconds: (waits.append(seconds), scheduler_wait(seconds))
        d = Driver(rt)
        server = Computing(lambda: len(waits) >= until[0])
        pid = d.start("computing", body=server.body).value
        d.cast(pid, Atom("compute"))
        assert "done" == rt.run_until(server.entered.is_set, timeout=20)   # computing now
        until[0] = len(waits) + 2
        assert Atom("hello") == call(d, pid, Atom("hello"), timeout=20)
        assert server.finished.is_set()
        assert 0 == rt.time   # no timeout fired
        assert [Atom("compute")] == server.handled


@pytest.mark.spec("GS-5")
def test_a_call_that_stops_the_server_exits_with_the_stop_reason():
    with make_runtime() as rt:
        d = Driver(rt)
        room = d.start("chat_room", name=ROOM).value
        d.cast(room, (Atom("add_message"), 1))
        assert ErlList((1,)) == call(d, LocalName(ROOM), Atom("get_messages"))
        assert Outcome("exit", (Atom("bad_call"), Atom("bogus"))) == call(d, room, Atom("bogus"))
        rt.wait_quiescent(timeout=20)
        assert Atom("undefined") == d.whereis(ROOM)


def test_a_receive_timeout_fires_in_logical_time_when_nothing_else_can_happen():
    got: list = []
    with make_runtime() as rt:
        d = Driver(rt)

        def body(ctx):
            got.append(ctx.receive(lambda m: m == Atom("never"), timeout=250))
            got.append(ctx.receive(timeout=0))
            ctx.receive()
        d.start("waiter", body=body)
        rt.wait_quiescent(timeout=20)
        assert [TIMEOUT, TIMEOUT] == got
        assert 250 == rt.time


# -- two BIFs in one: gen's and gen_server's hot paths ---------------------------------------

def _request(me, mref, tag):
    return (tag, me, mref)


@pytest.mark.spec("MON-1", "MON-3")
@pytest.mark.parametrize("by_name", [False, True], ids=["pid", "name"])
def test_monitor_send_leaves_what_a_monitor_then_a_send_leave(by_name):
    """`Context.monitor_send` is one BIF (a pid inline, a name through `signals.monitor_send`): the
    target gets the message, each side holds the monitor and the DOWN comes, as after `monitor` then
    `send`, two BIFs."""
    seen: dict = {}
    with make_runtime() as rt:
        d = Driver(rt)
        targets = {}
        for how in ("one", "two"):
            target = d.spawn()
            d.register(Atom(f"target_{how}"), target)
            targets[how] = (target, Atom(f"target_{how}") if by_name else target)

        def body(how):
            def run(ctx):
                to = targets[how][1]
                if how == "one":
                    mref, msg = ctx.monitor_send(to, _request, how)
                    seen[how, "msg"] = msg
                else:
                    mref = ctx.monitor(to)
                    ctx.send(to, _request(ctx.pid, mref, how))
                seen[how] = (ctx.pid, mref)
                seen[how, "down"] = ctx.receive()
            return run
        for how in ("one", "two"):
            d.start("caller", body=body(how), link=False)
        rt.wait_quiescent(timeout=20)
        for how in ("one", "two"):
            target, caller, mref = targets[how][0], *seen[how]
            assert ErlList((caller,)) == observe.process_info(rt, target, "monitored_by")
            assert ErlList(((Atom("process"), target),)) == observe.process_info(rt, caller, "monitors")
        assert _request(*seen["one"], "one") == seen["one", "msg"]
        for how in ("one", "two"):
            target, to = targets[how]
            assert ErlList((_request(*seen[how], how),)) == ask(d, target, ("messages",))
            d.kill(target)
        rt.wait_quiescent(timeout=20)
        for how in ("one", "two"):
            target, to = targets[how]
            down = (Atom("DOWN"), seen[how][1], Atom("process"), (to, rt.node) if by_name else target, KILLED)
            assert down == seen[how, "down"]
        assert () == rt.statistics().crashes


@pytest.mark.parametrize("to", ["pid", "name", "free name"])
def test_send_receive_is_a_send_then_a_receive(to):
    """`Context.send_receive` (gen_server's reply and its loop's next receive; a pid inline, a name
    through `signals.send`) as `send` then `receive`: the message goes and the next one is taken; to
    a free name it raises badarg and takes nothing."""
    got: dict = {}
    with make_runtime() as rt:
        d = Driver(rt)
        target = d.spawn()
        d.register(Atom("target"), target)
        dest = {"pid": target, "name": Atom("target"), "free name": Atom("nobody")}[to]

        def body(how):
            def run(ctx):
                ctx.receive()   # go: the watcher monitors it now
                if how == "one":
                    got[how] = ctx.send_receive(dest, ("hello", how))
                else:
                    ctx.send(dest, ("hello", how))
                    got[how] = ctx.receive()
                ctx.receive()
            return run
        watcher = d.spawn()
        senders = {how: d.start("sender", body=body(how), link=False).value for how in ("one", "two")}
        refs = {how: ask(d, watcher, ("monitor", pid)) for how, pid in senders.items()}
        for how, pid in senders.items():
            d.send(pid, Atom("go"))
            d.send(pid, ("next", how))
        rt.wait_quiescent(timeout=20)
        if to == "free name":
            badarg = (Atom("badarg"), ErlList(()))
            assert {} == got
            assert ErlList(tuple((Atom("DOWN"), refs[how], Atom("process"), senders[how], badarg)
                                 for how in ("one", "two"))) == ask(d, watcher, ("messages",))
        else:
            assert {"one": ("next", "one"), "two": ("next", "two")} == got
            assert ErlList((("hello", "one"), ("hello", "two"))) == ask(d, target, ("messages",))
        assert () == rt.statistics().crashes


@pytest.mark.spec("GS-3", "GS-4")
def test_a_process_calls_as_the_driver_does_and_keeps_no_monitor_after():
    """gen:do_call in a process (`Context.receive_demonitor`, one BIF: the receive, then the demonitor
    under the same lock) answers as in the driver: the reply, noproc from a dead server (its DOWN,
    nothing to demonitor), a timeout (demonitored); the caller keeps no monitor and no DOWN."""
    get = Atom("get_messages")
    results: list = []
    with make_runtime() as rt:
        d = Driver(rt)
        room = d.start("chat_room").value
        d.cast(room, (Atom("add_message"), 1))
        dead = d.start("chat_room").value
        d.kill(dead)
        silent = d.spawn()
        calls = [(room, 5000), (room, None), (dead, 5000), (silent, 100)]

        def body(ctx):
            for to, timeout in calls:
                try:
                    results.append(gen_server.call(ctx, to, get, timeout))
                except ErlangError as e:
                    results.append(Outcome(e.cls, strip_call(e.reason)))
            ctx.receive()
        caller = d.start("caller", body=body).value
        rt.wait_quiescent(timeout=20)
        assert [ErlList((1,)), ErlList((1,)), Outcome("exit", Atom("noproc")), Outcome("exit", Atom("timeout"))] \
            == results
        assert results == [call(d, to, get, timeout="infinity" if timeout is None else timeout) for to, timeout in calls]
        assert (ErlList(()), ErlList(())) == (observe.process_info(rt, caller, "monitors"),
                                              observe.process_info(rt, caller, "messages"))
        assert () == rt.statistics().crashes


@pytest.mark.spec("PROC-2", "MON-1", "SIG-2")
def test_receive_of_any_message_takes_as_a_receive_with_a_pattern():
    """`receive()` without a timeout has its own path (`Runtime._receive_any`: the park and the wait
    for the next turn inlined), and the scheduler grants a thread blocked without a timer inline
    (`run_held`): each takes what `receive` with a pattern does (`Runtime._receive`), and one with a
    timer (`_grant`): the same messages in the same order, its own messages sent to itself, the
    signals of its batches handled (a monitor, a trapped exit), a kill while it waits."""
    taken: dict = {}
    everything = lambda m: True
    receives = {"any": lambda ctx: ctx.receive(),
                "pattern": lambda ctx: ctx.receive(everything),
                "timer": lambda ctx: ctx.receive(timeout=10**6)}
    with make_runtime() as rt:
        d = Driver(rt)

        def body(how):
            def run(ctx):
                got = taken[how] = []
                receive = receives[how]
                while True:
                    msg = receive(ctx)
                    if msg is TIMEOUT:   # (the timer fired once nothing else could run: wait on without one)
                        receive = receives["any"]
                        continue
                    got.append(msg)
                    if isinstance(msg, tuple) and msg[0] == "self":
                        ctx.send(ctx.pid, ("sent", msg[1]))
                        ctx.send(ctx.pid, ("sent", msg[1] + 1))
                    elif msg == "trap":
                        ctx.trap_exit(True)
            return run
        pids = {how: d.start("receiver", body=body(how), link=False).value for how in receives}
        watcher = d.spawn(trap_exit=True)
        refs = {how: ask(d, watcher, ("monitor", pid)) for how, pid in pids.items()}
        for step in range(3):
            for pid in pids.values():
                d.send(pid, ("self", 10 * step))
                d.send(pid, "trap")
            rt.wait_quiescent(timeout=20)
        for how, pid in pids.items():
            ask(d, watcher, ("link", pid))
            d.send(pid, "last")
        rt.wait_quiescent(timeout=20)
        expected = [m for step in range(3)
                    for m in (("self", 10 * step), "trap", ("sent", 10 * step), ("sent", 10 * step + 1))] + ["last"]
        for how, pid in pids.items():
            assert expected == taken[how], how
            assert ErlList((watcher,)) == observe.process_info(rt, pid, "monitored_by")
            assert ErlList((watcher,)) == observe.process_info(rt, pid, "links")
            d.kill(pid)   # blocked in its receive: it dies there, its thread ends
        rt.wait_quiescent(timeout=20)
        for how, pid in pids.items():
            assert not rt.process(pid).alive and rt.process(pid).thread_done
        downs = {m[1]: m for m in ask(d, watcher, ("messages",)).items if m[0] == Atom("DOWN")}
        assert {refs[how]: (Atom("DOWN"), refs[how], Atom("process"), pid, KILLED) for how, pid in pids.items()} \
            == downs
        assert () == rt.statistics().crashes


def test_a_call_message_is_tagged_as_reply_tag_says():
    """`call_message` tags its request with the very term `reply_tag` makes."""
    from regspec.common.protocol import GEN_CALL, ReplyOrDown, call_message, reply_tag
    from regspec.terms import Ref
    for timeout in (5000, None):
        msg = call_message(Pid(3), Ref(7), Atom("get"), timeout)
        assert (GEN_CALL, (Pid(3), reply_tag(Ref(7), timeout)), Atom("get")) == msg
        assert hash(reply_tag(Ref(7), timeout)) == hash(msg[1][1])
        assert repr(reply_tag(Ref(7), timeout)) == repr(msg[1][1])
        assert ReplyOrDown(reply_tag(Ref(7), timeout), Ref(7)).matches((msg[1][1], Atom("ok")))


# -- the quiescence barrier ----------------------------------------------------------

@pytest.mark.spec("SCN-2")
def test_wait_quiescent_returns_with_every_process_blocked_and_nothing_in_flight():
    with make_runtime() as rt:
        d = Driver(rt)
        rooms = [d.start("chat_room").value for _ in range(5)]
        for i, room in enumerate(rooms):
            for j in range(i + 1):
                d.cast(room, (Atom("add_message"), j))
        rt.wait_quiescent(timeout=20)
        stats = rt.statistics()
        assert (False, 0, None, (), (), tuple(rooms)) == (
            stats.gate_open, stats.in_flight, stats.current, stats.ready, stats.busy, stats.waiting)
        assert [ErlList(tuple(reversed(range(i + 1)))) for i in range(5)] == \
            [call(d, room, Atom("get_messages")) for room in rooms]


@pytest.mark.spec("SCN-2")
def test_wait_quiescent_times_out_with_a_snapshot_while_a_process_is_busy():
    spinner = Spinner()
    with make_runtime(time_slice=0.02) as rt:
        d = Driver(rt)
        pid = d.start("spinner", body=spinner.body).value
        d.cast(pid, Atom("spin"))
        assert "done" == rt.run_until(spinner.entered.is_set, timeout=20)
        with pytest.raises(TimeoutError) as info:
            rt.wait_quiescent(timeout=0.5)
        assert (pid,) == info.value.statistics.busy
        spinner.release.set()
        rt.wait_quiescent(timeout=20)
        assert spinner.finished.is_set()
        assert (pid,) == rt.statistics().waiting


def test_a_process_crash_ends_it_with_an_error_reason():
    with make_runtime() as rt:
        d = Driver(rt)

        def body(ctx):
            ctx.receive()
            raise ValueError("boom")
        pid = d.start("crasher", body=body, link=False).value
        watcher = d.spawn()
        ref = ask(d, watcher, ("monitor", pid))
        d.send(pid, Atom("go"))
        rt.wait_quiescent(timeout=20)
        reason = (Atom("error"), Atom("ValueError"))
        assert ErlList(((Atom("DOWN"), ref, Atom("process"), pid, reason),)) == ask(d, watcher, ("messages",))
        assert [pid] == [p for p, _ in rt.statistics().crashes]


def test_the_runtime_room_answers_as_the_shared_callbacks():
    """The runtime's room keeps its messages in a persistent list (a cast copies nothing), the model's
    in a tuple: every answer is the same."""
    from regspec.common.chat_room import ChatRoom
    from regspec.impl.behaviours import Room
    get = Atom("get_messages")
    casts = [(Atom("add_message"), m) for m in ("a", 1, ("t", Atom("x")))] + [(Atom("work"), 0), Atom("bad")]
    shared, runtime = (), ()
    for msg in casts:
        expected, got = ChatRoom.handle_cast(msg, shared), Room.handle_cast(msg, runtime)
        assert expected[:-1] == got[:-1]
        shared, runtime = expected[-1], got[-1]
        assert ChatRoom.handle_call(get, shared)[:2] == Room.handle_call(get, runtime)[:2]
    assert ChatRoom.handle_call(Atom("other"), shared)[:2] == Room.handle_call(Atom("other"), runtime)[:2]


# -- threads --------------------------------------------------------------------------

def test_a_process_thread_is_alive_from_its_start_until_its_code_has_ended():
    """`ProcessThread` keeps `threading.Thread`'s promises: alive from `start` on (before its code runs),
    listed by `live_threads`, joined once its code has ended, started once."""
    gate, ran = threading.Event(), []
    thread = ProcessThread(lambda x: (ran.append((x, threading.get_native_id())), gate.wait(20)), (7,), "regspec-t")
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="before it is started"):
        thread.join()
    before = threading.active_count()
    thread.start()
    assert thread.is_alive() and thread in live_threads()
    assert threading.active_count() == before   # not one of threading's: no dummy Thread made for it
    with pytest.raises(RuntimeError, match="started once"):
        thread.start()
    thread.join(0.01)
    assert thread.is_alive()   # the join timed out: its code still waits
    gate.set()
    thread.join(20)
    assert not thread.is_alive() and thread not in live_threads()
    assert ran == [(7, thread.native_id)] and thread.ident is not None


def test_a_process_thread_gets_threadings_trace_and_profile_hooks():
    """A coverage tool or a profiler installed with `threading.settrace`/`setprofile` sees process code."""
    traced, profiled = [], []

    def trace(frame, event, arg):
        traced.append(frame.f_code.co_name)

    def profile(frame, event, arg):
        profiled.append(frame.f_code.co_name)

    def process_code():
        return 1

    threading.settrace(trace)
    threading.setprofile(profile)
    try:
        thread = ProcessThread(process_code, (), "regspec-traced")
        thread.start()
        thread.join(20)
    finally:
        threading.settrace(None)
        threading.setprofile(None)
    assert "process_code" in traced and "process_code" in profiled


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="no pthread_kill on this platform")
def test_a_process_thread_blocks_signals_for_the_main_thread_to_handle():
    """Signals are for the main thread, which runs Python's handlers: a process thread blocks them, and
    one aimed at a process waiting in receive leaves it as it was."""
    masks = []
    thread = ProcessThread(lambda: masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, [])), (), "regspec-mask")
    thread.start()
    thread.join(20)
    assert {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGPROF} <= masks[0]
    previous = signal.signal(signal.SIGUSR1, lambda *_: None)
    try:
        with make_runtime() as rt:
            d = Driver(rt)
            pid = d.spawn()
            d.send(pid, Atom("before"))
            rt.wait_quiescent()
            signal.pthread_kill(thread_of(rt, pid).ident, signal.SIGUSR1)
            d.send(pid, Atom("after"))
            assert ErlList((Atom("before"), Atom("after"))) == ask(d, pid, ("messages",))
            assert [] == rt.crashes
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_a_process_has_a_thread_from_its_first_turn_on():
    """Spawning starts no thread: a process's thread comes up at its first turn; one still waiting for
    it at shutdown never has one."""
    before = set(live_threads())
    rt = make_runtime()
    d = Driver(rt)
    ran, waiting = d.spawn(), d.spawn()
    assert set() == {t for t in live_threads() if t not in before}
    assert "done" == rt.run_until(lambda: rt.process(ran).started, timeout=20)
    assert thread_of(rt, ran).is_alive() and not rt.process(waiting).started
    assert {ran, waiting} <= set(rt.statistics().live_threads)
    rt.shutdown()
    assert not rt.process(waiting).started and not thread_of(rt, waiting).is_alive()
    assert () == rt.statistics().live_threads
    assert set() == {t for t in live_threads() if t not in before}


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="one CPU allowed (or no sched_setaffinity): there is nothing to pin")
def test_a_runtime_runs_its_threads_on_one_cpu_and_gives_the_driver_its_cpus_back():
    """One thread runs at a time, so the driver and every process thread share one CPU while the
    runtime lives; the driver's CPUs come back when its last runtime shuts down."""
    before = os.sched_getaffinity(0)
    with Runtime() as rt:
        d = Driver(rt)
        collector = d.spawn()
        assert "done" == rt.run_until(lambda: rt.process(collector).started, timeout=20)
        pinned = os.sched_getaffinity(0)
        assert len(pinned) == 1 and pinned <= before
        assert pinned == os.sched_getaffinity(thread_of(rt, collector).native_id)
        with Runtime() as inner:   # a second runtime of the same driver: the same CPU
            assert pinned == os.sched_getaffinity(0)
            other = Driver(inner).spawn()
            assert "done" == inner.run_until(lambda: inner.process(other).started, timeout=20)
            assert pinned == os.sched_getaffinity(thread_of(inner, other).native_id)
        assert pinned == os.sched_getaffinity(0)   # the first one still lives
    assert before == os.sched_getaffinity(0)
    with Runtime(one_cpu=False) as rt:
        Driver(rt).spawn()
        assert before == os.sched_getaffinity(0)
    rt = Runtime()
    rt.shutdown(); rt.shutdown()   # a second shutdown gives back nothing more
    assert before == os.sched_getaffinity(0)


# -- shutdown ---------------------------------------------------------------------------

def test_shutdown_kills_everything_and_leaves_no_thread():
    before = set(live_threads())
    rt = make_runtime()
    d = Driver(rt)
    pids = [d.start("chat_room", name=Atom(f"r{i}")).value for i in range(4)] + [d.spawn() for _ in range(4)]
    d.send(pids[-1], Atom("pending"))   # still in flight at shutdown
    threads = [thread_of(rt, p) for p in pids]
    rt.shutdown()
    assert [] == [t for t in threads if t.is_alive()]
    assert set() == {t for t in live_threads() if t not in before}
    assert ErlList(()) == d.registered()
    rt.shutdown()   # idempotent


def test_a_shutdown_while_first_turns_are_granted_joins_every_thread():
    """The scheduler starts a thread at its process's first turn, outside the runtime lock; a shutdown
    from another thread in the middle of 300 first turns still joins every thread that was started
    (a start in progress included: shutdown waits for it before it joins)."""
    before = set(live_threads())
    halfway = threading.Event()

    def body_for(i):
        def body(ctx):
            if i == 100:
                halfway.set()
            ctx.receive()
        return body

    rt = make_runtime()
    pids = [rt.spawn("first", body_for(i)) for i in range(300)]
    stopper = threading.Thread(target=lambda: (halfway.wait(20), rt.shutdown()))
    stopper.start()
    rt.wait_quiescent(timeout=20)   # returns once shut down (or once all have had their turn)
    stopper.join(20)
    assert halfway.is_set() and not stopper.is_alive()
    assert [] == [p for p in pids if thread_of(rt, p).is_alive()]
    assert set() == {t for t in live_threads() if t not in before}


def test_shutdown_stops_a_busy_process_and_answers_the_drivers_pending_call():
    spinner = Spinner()
    results: list = []
    with make_runtime(time_slice=0.02) as rt:
        d = Driver(rt)
        pid = d.start("spinner", body=spinner.body).value
        d.cast(pid, Atom("spin"))
        stopper = threading.Thread(target=lambda: (spinner.entered.wait(20), rt.shutdown()))
        stopper.start()
        results.append(call(d, pid, Atom("anything"), timeout="infinity"))
        stopper.join(20)
        assert not thread_of(rt, pid).is_alive()
    assert [Outcome("exit", Atom("shutdown"))] == results
    assert not spinner.finished.is_set()


def test_leaked_threads_names_a_thread_that_cannot_be_stopped():
    stubborn = Stubborn()
    rt = make_runtime(time_slice=0.02, join_timeout=0.2)
    d = Driver(rt)
    pid = d.start("stubborn", body=stubborn.body).value
    d.cast(pid, Atom("spin"))
    d.cast(pid, Atom("next"))
    assert "done" == rt.run_until(stubborn.entered.is_set, timeout=20)
    with pytest.raises(LeakedThreads, match=r"^threads still running after shutdown: regspec-P1-stubborn$") as info:
        rt.shutdown()
    assert [thread_of(rt, pid)] == info.value.threads
    assert stubborn.swallowed.is_set()
    stubborn.release.set()   # its callback returns; its next BIF ends the thread
    thread_of(rt, pid).join(20)
    assert not thread_of(rt, pid).is_alive()
    assert [Atom("spin")] == stubborn.handled   # it never ran another callback
    rt.shutdown()


def test_on_shutdown_closers_run_once_in_reverse_order_and_report_leaked_threads():
    """What lives beside the processes (a via backend's heartbeat, registry_redis) stops with the runtime."""
    rt = Runtime("a")
    ran = []
    stuck = threading.Thread(target=lambda: None)
    rt.on_shutdown(lambda: ran.append("first"))

    def leaky():
        ran.append("second")
        raise LeakedThreads([stuck])

    rt.on_shutdown(leaky)
    with pytest.raises(LeakedThreads) as err:
        rt.shutdown()
    assert ran == ["second", "first"] and err.value.threads == [stuck]
    rt.shutdown()   # again: nothing more runs
    assert ran == ["second", "first"]
    with pytest.raises(RuntimeError):
        rt.on_shutdown(lambda: None)
