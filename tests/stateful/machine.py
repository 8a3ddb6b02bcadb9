"""The differential state machine: the model and the threaded runtime driven by the same steps.

Every rule is one scenario step, applied to a `ModelSession` and to an
`ImplSession`; their canonical results must be equal after every step.
The steps run so far are kept in scenario form, and `note()`d on failure,
so every counterexample is a file that `regspec run` replays.

`SystemMachine` is a factory product (`system_machine()`) so that a test can
build a machine over a patched runtime (the planted bugs).
`supervision_machine()` builds the second machine: the chat-room story with
supervised, named rooms (every name form), dynamic supervisors, registry
servers that get killed, and :global; after every quiescent step the
children of every live supervisor are alive (SUP-2, SUP-5) on both sides.

Both are drawn so that Hypothesis can shrink a failure by deleting steps (the
planted-bug tests shrink every bug to at most 8 steps). A rule names what it
acts on by how recently it was created (the newest first, as a Bundle does)
or by a value from a fixed small set (a name, a room reference, a child id),
so a deleted step that created nothing does not change what a later one
means. The first value of a `sampled_from` is the one to shrink to (no work,
no init_work). In the supervision machine each initialize rule can shrink to
starting nothing, and no bundle is ever empty (`NOBODY`), so which rules can
run does not change when the shrinker simplifies the start.

The system machine has one rule, which draws a family of steps and a place
in it (two numbers), and one initialize rule, which draws the example's swarm
(the families it uses); its first collector and room are made in `__init__`.
Hypothesis's cost per step is its draws and grows with the number of rules
(its own swarm draws a flag for each rule it looks at), and an initialize
rule costs about half a millisecond an example (Hypothesis builds its
strategies anew each time): `benchmarks/state_machine.py` measures the
machines against a trivial one.
"""

from __future__ import annotations

import itertools
import json
import random

from hypothesis import note, strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

from regspec.common import backends
from regspec.sessions import ModelSession
from regspec.model.invariants import check, children_are_live
from regspec.impl.invariants import children_are_live as impl_children_are_live
from regspec.runner import Stepper
from regspec.scenario import to_step

NAMES = ("alpha", "beta", "gamma")
REASONS = ("kill", "normal", "shutdown", "boom", ["shutdown", "bye"])
MSGS = ("ping", ["n", 1], {"str": "hi"})
# The n of a chat room's ["work", n] cast, and a supervised room's init_work (any n > 0 goes on
# only once nothing else runs, SCN-5). Drawn about evenly, so mostly some work, long most; but
# none first: the shrinker moves to the first, and a room that computes is slow to rerun.
WORK = (0, 300_000, 100_000, 300_000)
INIT_WORK = (0, 100_000, 100_000)


class Side(Stepper):
    """One target of the comparison: a session plus its own bindings and ref numbering,
    stepped exactly as `regspec run` steps a scenario."""

    apply = Stepper.step


class Comparison:
    """What both machines share: the two sides, the steps so far, and the comparison of one step."""

    def start_comparison(self, make_impl_session) -> None:
        self.model = Side(ModelSession("a"))
        self.impl = Side(make_impl_session())
        self.steps: list[dict] = []
        self.counter = 0
        self.quiescent = True
        self.sound_world = None   # the last world found sound (`check_model`)

    def teardown(self):
        self.impl.session.close()
        # Hypothesis's machine is in a reference cycle (it and its rule strategy refer to each other):
        # dropped here, the sides' worlds and runtime and the steps are freed now, not left for the
        # cyclic collector.
        self.model = self.impl = self.sound_world = None
        self.steps = []

    def apply(self, step: dict):
        self.steps.append(step)
        self.quiescent = not step.get("nowait", False)
        record = to_step(step)   # parsed once for both sides
        expected = self.model.apply(record)
        actual = self.impl.apply(record)
        if expected != actual:
            note("replay with `regspec run FILE --on impl` where FILE is:\n"
                 + json.dumps({"name": "counterexample", "steps": self.steps}, indent=1))
        assert expected == actual, f"step {len(self.steps) - 1} {step}: model {expected} impl {actual}"
        return expected

    def check_model(self) -> None:
        """The model's invariants on its world. A world is a value, and a step that changes nothing
        leaves the same one (close to half of the system machine's steps): it is checked once."""
        world = self.model.session.world
        if world is not self.sound_world:
            assert check(world) == ()
            self.sound_world = world

    def label(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


def _choices(*axes) -> tuple:
    """Every combination of `axes`, the first of each axis first."""
    return tuple(itertools.product(*axes))


RECENT = range(4)   # a process is named by how recently it was created: 0 the newest, as a Bundle does
NAME_OR_NONE = (None,) + NAMES   # none: by pid
CALL_MSGS = ("get_messages", "get_messages", "bogus")
CAST_MSGS = (["add_message", {"str": "hi"}], ["add_message", 3], "bogus")
# The system machine's work: long enough to outlast the kill that follows at once (a kill
# that does not reach the room lets it compute it all, and the step waits for that).
BUSY_WORK = (0, 30_000, 10_000, 30_000)
# Each family of the system machine's steps as tuples (its method, then what it draws).
SPAWN = _choices(("spawn",), (False, True), (False, True), ("eager", "mailbox"))   # trap_exit, link, mode
START = _choices(("start_room",), NAME_OR_NONE, (False, True))                     # name, link
REGISTER = _choices(("register",), RECENT, NAMES)                                  # who, name
UNREGISTER = _choices(("unregister",), NAMES)
WHEREIS = _choices(("whereis",), NAMES)
REGISTERED = (("registered",),)
SEND = _choices(("send",), RECENT, NAME_OR_NONE, MSGS, (False, True))              # to, by_name, msg, nowait
CALL = _choices(("call",), RECENT, NAME_OR_NONE, CALL_MSGS)                        # to, by_name, msg
CAST = _choices(("cast",), RECENT, NAME_OR_NONE, CAST_MSGS, (False, True))         # room, by_name, msg, nowait
STOP = _choices(("stop",), RECENT, ("normal", "shutdown", "boom", "kill"))         # room, reason
KILL = _choices(("kill",), RECENT, NAME_OR_NONE, REASONS, (False, True))           # who, by_name, reason, nowait
KILL_THEN_CALL = _choices(("kill_then_call",), RECENT, REASONS, ("get_messages", "bogus"))     # room, reason, msg
KILL_INSIDE_CALL = _choices(("kill_inside_call",), RECENT, REASONS, ("get_messages", "bogus"))
KILL_WATCHED = _choices(("kill_watched",), RECENT, RECENT, REASONS, (False, True))  # watcher, who, reason, nowait
BUSY_KILL = _choices(("kill_busy_room_through_link",), (False, True), RECENT, RECENT, BUSY_WORK,
                     ("kill", "kill", "boom"))                                     # fresh, room, linked, work, reason
DYING = _choices(("use_name_of_the_dying",), RECENT, NAMES, ("whereis", "send", "register", "registered"))
MONITOR = _choices(("monitor",), RECENT, RECENT, NAME_OR_NONE)                     # watcher, whom, by_name
DEMONITOR = _choices(("demonitor",), RECENT, (False, True))                        # ref, flush
LINK = _choices(("link",), RECENT, RECENT, ("link", "unlink"))                      # a, b, op
TRAP_EXIT = _choices(("trap_exit",), RECENT, (False, True))                        # who, value
MESSAGES = _choices(("messages",), RECENT)                                         # who
ALIVE = _choices(("alive",), RECENT)                                               # who

# The first family (the one Hypothesis draws most, and shrinks to) changes nothing: `registered`.
FAMILIES = (REGISTERED, WHEREIS, ALIVE, SPAWN, START, REGISTER, UNREGISTER, SEND, CALL, CAST, STOP, KILL,
            KILL_THEN_CALL, KILL_INSIDE_CALL, KILL_WATCHED, BUSY_KILL, DYING, MONITOR, DEMONITOR, LINK, TRAP_EXIT,
            MESSAGES)
# A step is a family and a place in it (modulo the family's length), two numbers: Hypothesis
# draws numbers below 256 about evenly, larger ones mostly small (one number for the whole
# step would make it mostly a family's first steps). Zeros shrink to `registered`.
FAMILY_NUMBERS = st.integers(0, len(FAMILIES) - 1)
PLACE_NUMBERS = st.integers(0, max(map(len, FAMILIES)) - 1)


def _swarms(n: int) -> tuple:
    """Swarm testing: which families an example uses (a tuple of their indexes), `n` of them. The
    first uses every family (the shrinker moves to it, and there every step means itself); the
    others leave each family out with odds that grow from swarm to swarm, as Hypothesis's own
    swarm draws them, and keep at least one. A fixed table, the same in every run."""
    rng = random.Random("regspec swarms")
    every = tuple(range(len(FAMILIES)))
    swarms = [every]
    for k in range(1, n):
        on = tuple(f for f in every if rng.random() >= k / n)
        swarms.append(on or (rng.choice(every),))
    return tuple(swarms)


SWARMS = _swarms(64)
SWARM_NUMBERS = st.integers(0, len(SWARMS) - 1)


def system_machine(make_impl_session):
    """A `RuleBasedStateMachine` class comparing the model with `make_impl_session()`.

    Its step is one of `FAMILIES`, a tuple of what to do, which names a process by how recently
    it was created (a Bundle's draw costs several draws)."""

    class SystemMachine(Comparison, RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.start_comparison(make_impl_session)
            self.collectors: list[str] = []
            self.rooms: list[str] = []
            self.procs: list[str] = []             # both, in the order they were created
            self.refs: list[tuple[str, str]] = []  # (monitor label, watcher) not demonitored yet
            self.families: tuple = ()              # the swarm's families (`swarm`)
            # One of each kind first, so that every step has someone to act on.
            self._spawn(False, False, "eager")
            self._start_room(None, True)

        def _do(self, what: tuple):
            getattr(self, "_" + what[0])(*what[1:])

        @staticmethod
        def _recent(labels: list, k: int) -> str:
            return labels[-1 - k % len(labels)]

        def _proc(self, k: int, by_name=None) -> dict:
            return {"local": by_name} if by_name else {"proc": self._recent(self.procs, k)}

        def _room(self, k: int, by_name=None) -> dict:
            return {"local": by_name} if by_name else {"proc": self._recent(self.rooms, k)}

        def _collector(self, k: int) -> dict:
            return {"proc": self._recent(self.collectors, k)}

        # -- the swarm, then the one rule: a step of the swarm's families ------
        @initialize(swarm=SWARM_NUMBERS)
        def swarm(self, swarm):
            # Drawn once, where no step can be deleted: a step that carried it would hold on
            # to a counterexample (deleting it would change what every later step means).
            self.families = SWARMS[swarm]

        @rule(family=FAMILY_NUMBERS, place=PLACE_NUMBERS)
        def step(self, family, place):
            if family not in self.families:   # left out: one of the swarm's families instead
                family = self.families[family % len(self.families)]
            steps = FAMILIES[family]
            self._do(steps[place % len(steps)])

        # -- the steps: creating ----------------------------------------------
        def _spawn(self, trap_exit, link, mode):
            label = self.label("c")
            self.apply({"op": "spawn", "kind": "collector", "as": label, "trap_exit": trap_exit, "link": link,
                        "mode": mode})
            self.collectors.append(label)
            self.procs.append(label)
            return label

        def _start_room(self, name, link):
            label = self.label("r")
            step = {"op": "start", "kind": "chat_room", "as": label, "link": link}
            if name:
                step["name"] = {"local": name}
            self.apply(step)
            self.rooms.append(label)
            self.procs.append(label)
            return label

        # -- names ------------------------------------------------------------
        def _register(self, k, name):
            self.apply({"op": "register", "name": {"local": name}, "target": self._proc(k)})

        def _unregister(self, name):
            self.apply({"op": "unregister", "name": {"local": name}})

        def _whereis(self, name):
            self.apply({"op": "whereis", "name": {"local": name}})

        def _registered(self):
            self.apply({"op": "registered"})

        # -- messages and calls -------------------------------------------------
        def _send(self, k, by_name, msg, nowait):
            self.apply({"op": "send", "to": self._proc(k, by_name), "msg": msg, "nowait": nowait})

        def _call(self, k, by_name, msg):
            self.apply({"op": "call", "to": self._proc(k, by_name), "msg": msg, "timeout": 20})

        def _cast(self, k, by_name, msg, nowait):
            self.apply({"op": "cast", "to": self._room(k, by_name), "msg": msg, "nowait": nowait})

        def _stop(self, k, reason):
            self.apply({"op": "stop", "target": self._room(k), "reason": reason})

        # -- kills --------------------------------------------------------------
        def _kill(self, k, by_name, reason, nowait):
            self.apply({"op": "kill", "target": self._proc(k, by_name), "reason": reason, "nowait": nowait})

        def _kill_then_call(self, k, reason, msg):
            # The kill is queued ahead of the call: the call meets a process
            # that is dying, or already dead.
            room = self._room(k)
            self.apply({"op": "kill", "target": room, "reason": reason, "nowait": True})
            self.apply({"op": "call", "to": room, "msg": msg, "timeout": 20})

        def _kill_inside_call(self, k, reason, msg):
            # The exit signal reaches the server while the call is pending, as
            # if another process killed it meanwhile. Not a contract field: a
            # replay file holding this step must drop "exit_during".
            self.apply({"op": "call", "to": self._room(k), "msg": msg, "timeout": 20, "exit_during": reason})

        def _kill_watched(self, w, k, reason, nowait):
            # The chat-room story in three steps: a watcher monitors, the
            # watched process is killed, the watcher reads what it got.
            watcher, who = self._collector(w), self._proc(k)
            self.apply({"op": "monitor", "watcher": watcher, "target": who, "as": self.label("m")})
            self.apply({"op": "kill", "target": who, "reason": reason, "nowait": nowait})
            self.apply({"op": "messages", "target": watcher})

        def _kill_busy_room_through_link(self, fresh, r, c, work, reason):
            # SCN-5, SIG-1: the room computes a work cast (nowait) when the collector linked to
            # it is killed: the exit signal lands inside its callback (an asynchronous kill).
            # A fresh room and collector (the others may be dead by now) make sure of it.
            if fresh:
                linked, room = {"proc": self._spawn(False, False, "eager")}, {"proc": self._start_room(None, False)}
            else:
                linked, room = self._collector(c), self._room(r)
            self.apply({"op": "link", "a": linked, "b": room})
            self.apply({"op": "cast", "to": room, "msg": ["work", work], "nowait": True})
            self.apply({"op": "kill", "target": linked, "reason": reason})

        def _use_name_of_the_dying(self, k, name, then):
            # REG-LOCAL-8: right after a nowait kill the holder has not handled it yet, so its
            # name is still taken; the next step (not nowait) meets that window, then all settles.
            self.apply({"op": "kill", "target": {"local": name}, "nowait": True})
            if then == "whereis":
                self._whereis(name)
            elif then == "send":
                self.apply({"op": "send", "to": {"local": name}, "msg": "ping"})
            elif then == "register":
                self._register(k, name)
            else:
                self._registered()

        # -- links and monitors ------------------------------------------------
        def _monitor(self, w, k, by_name):
            label, watcher = self.label("m"), self._collector(w)
            self.apply({"op": "monitor", "watcher": watcher, "target": self._proc(k, by_name), "as": label})
            self.refs.append((label, watcher))

        def _demonitor(self, k, flush):
            if self.refs:   # a monitor is demonitored once (none left: nothing to do)
                label, watcher = self.refs.pop(-1 - k % len(self.refs))
                self.apply({"op": "demonitor", "watcher": watcher, "ref": {"ref": label}, "flush": flush})

        def _link(self, w, k, op):
            self.apply({"op": op, "a": self._collector(w), "b": self._proc(k)})

        def _trap_exit(self, w, value):
            self.apply({"op": "trap_exit", "target": self._collector(w), "value": value})

        def _messages(self, w):
            self.apply({"op": "messages", "target": self._collector(w)})

        def _alive(self, k):
            self.apply({"op": "alive", "target": self._proc(k)})

        # -- invariants (one: Hypothesis's own cost is per invariant) -------
        @invariant()
        def both_sides_are_sound(self):
            self.check_model()
            impl = self.impl.session
            if hasattr(impl, "invariant_violations"):   # the runtime agrees with its own invariants
                assert impl.invariant_violations() == ()

    return SystemMachine


# -- the second machine: supervised, named rooms -----------------------------------

BACKENDS = backends.names()   # the registered via backends: the built-in ones here
SERVER_BACKENDS = tuple(b for b in BACKENDS if backends.get(b).server)
ROOMS = ("lobby", "news", "games")
REGISTRY_SERVERS = ("map_reg", "uniq_reg")


def room_name(form: str, room: str) -> dict:
    """A room's name in one of the five forms a gen_server can be started with."""
    if form == "local":
        return {"local": room}
    if form == "global":
        return {"global": ["room", room]}
    return {"via": [form, ["room", room]]}


NAME_FORMS = ("local", "global") + BACKENDS
DYNAMIC_FORMS = ("global",) + BACKENDS   # a template's name takes {"arg": 0}: not an atom
DEEP = {"local": "deep"}                 # the nested supervisor's room



def room_refs(static: int) -> st.SearchStrategy:
    """Rooms named by a fixed reference (whose, i, form), resolved against what the initialize
    rules started, never against the steps run so far: Hypothesis shrinks by deleting steps,
    and a deleted step must not change what a later one names. `whose`: the application's
    static room i (`static` weighs it against each of the others: its supervisor keeps it
    alive), chat_sup's room ROOMS[i], the nested room, or `form` and ROOMS[i] as they are
    (add_room's rooms). A name nobody holds is still a step, with OTP's answer (undefined,
    noproc). One draw, the simplest first: the shrinker deletes a step whole only when it has
    few draws."""
    return st.sampled_from([(whose, i, form) for whose in ("static",) * static + ("dynamic", "deep", "any")
                            for i in range(len(ROOMS)) for form in NAME_FORMS])


ROOM_REFS = room_refs(3)
BUSY_REFS = room_refs(6)   # a busy room: mostly a static one, which its supervisor keeps alive
EXTRA_IDS = tuple(f"extra_{room}" for room in ROOMS)   # add_room's child ids: one per room
# What an initialize rule that started nothing puts in its bundle, so that no bundle is ever
# empty: a rule drawing from an empty bundle cannot run, and which rules can run decides what
# the later draws mean. A rule drawing NOBODY does nothing.
NOBODY = None


def mostly(value, shrunk, odds: int = 32):
    """`value` in all but about one in `odds` examples, `shrunk` once shrunk: an initialize
    rule runs in every example, and this lets the shrinker make it start nothing."""
    return st.sampled_from((shrunk,) + (value,) * (odds - 1))


def supervision_machine(make_impl_session):
    """A `RuleBasedStateMachine` class: the chat-room story under supervisors, model against `make_impl_session()`."""

    class SupervisionMachine(Comparison, RuleBasedStateMachine):
        rooms = Bundle("rooms")            # (label of the first pid, name) of the static rooms, or NOBODY
        dynamic = Bundle("dynamic")        # labels of chat_sup's rooms, or NOBODY
        collectors = Bundle("collectors")  # labels of plain processes, or NOBODY

        def __init__(self):
            super().__init__()
            self.start_comparison(make_impl_session)
            # What the initialize rules started: a step names a label only once it is bound.
            self.app = False                      # w, sup and its rooms
            self.static_names: list[dict] = []    # the application's rooms' names, room0 first
            self.nested = False                   # inner and its room
            self.chat_sup = False                 # dsup
            self.dynamic_form = DYNAMIC_FORMS[0]  # the name form of chat_sup's rooms

        # -- the application: registries, a watcher, a static and a dynamic supervisor ----
        # Each initialize rule can shrink to starting nothing (`start`, `clients`): a
        # counterexample keeps only what it needs.
        @initialize(target=rooms, start=mostly(True, False),
                    strategy=st.sampled_from(["one_for_one", "one_for_all", "rest_for_one"]),
                    forms=st.lists(st.sampled_from(NAME_FORMS), min_size=2, max_size=3, unique=True),
                    restart=st.sampled_from(["permanent", "permanent", "transient", "temporary"]),
                    nested=st.booleans(), own_registries=st.booleans(), init_work=st.sampled_from(INIT_WORK))
        def application(self, start, strategy, forms, restart, nested, own_registries, init_work):
            if not start:
                return multiple(NOBODY)
            if own_registries:
                # VIA-6: these serve map_registry and unique_registry from now on, and can be killed.
                self.apply({"op": "start", "kind": "registry_server", "backend": "map_registry",
                            "name": {"local": "map_reg"}})
                self.apply({"op": "start", "kind": "registry_server", "backend": "unique_registry",
                            "name": {"local": "uniq_reg"}})
            self.apply({"op": "spawn", "kind": "collector", "as": "w", "trap_exit": True})
            children = []
            for i, form in enumerate(forms):
                name = room_name(form, ROOMS[i])
                self.static_names.append(name)
                children.append({"id": f"room{i}", "kind": "chat_room", "name": name, "as": f"room{i}",
                                 "restart": "permanent" if i else restart})
                if i == 0 and init_work:
                    children[0]["init_work"] = init_work   # room0 computes in its init: kill_inside_restart
            if nested:
                children.append({"id": "inner", "kind": "supervisor", "strategy": "one_for_one", "as": "inner",
                                 "children": [{"id": "deep", "kind": "chat_room", "as": "deep", "name": DEEP}]})
            self.apply({"op": "start", "kind": "supervisor", "as": "sup", "strategy": strategy,
                        "name": {"local": "rooms_sup"}, "children": children})
            self.app, self.nested = True, nested
            return multiple(*((f"room{i}", n) for i, n in enumerate(self.static_names)))

        @initialize(target=dynamic, start=mostly(True, False), form=st.sampled_from(DYNAMIC_FORMS),
                    impl=st.sampled_from(["DynamicSupervisor", "simple_one_for_one"]),
                    restart=st.sampled_from(["permanent", "transient", "temporary"]),
                    init_work=st.sampled_from(INIT_WORK), lobby=mostly(True, False))
        def dynamic_supervisor(self, start, form, impl, restart, init_work, lobby):
            if not start:
                return multiple(NOBODY)
            self.chat_sup, self.dynamic_form = True, form
            name = room_name(form, {"arg": 0})
            child = {"id": "room", "kind": "chat_room", "name": name, "restart": restart}
            if init_work:
                child["init_work"] = init_work
            self.apply({"op": "start", "kind": "dynamic_supervisor", "as": "dsup", "impl": impl,
                        "name": {"local": "chat_sup"}, "child": child})
            # Its first room, so that a reference to chat_sup's ROOMS[0] mostly names a room.
            return multiple(self.start_room(ROOMS[0]) if lobby else NOBODY)

        @initialize(target=collectors, clients=mostly(2, 0))
        def two_clients(self, clients):
            # Plain processes that take names of their own (global, via) and hand them over.
            labels = [self.label("c") for _ in range(clients)]
            for label in labels:
                self.apply({"op": "spawn", "kind": "collector", "as": label})
            return multiple(*labels) if labels else multiple(NOBODY)

        def _room(self, ref) -> tuple[dict, str | None]:
            """The name a room reference (ROOM_REFS) stands for, and the label of the supervisor
            that restarts that room (None: not started). A static room stands in for the nested
            or a dynamic one when there is no such supervisor."""
            whose, i, form = ref
            if whose == "dynamic" and self.chat_sup:
                return room_name(self.dynamic_form, {"str": ROOMS[i]}), "dsup"
            if whose == "deep" and self.nested:
                return DEEP, "inner"
            tree = "sup" if self.app else None
            if whose == "any" or not self.static_names:
                return room_name(form, ROOMS[i]), tree
            return self.static_names[i % len(self.static_names)], tree

        def _name(self, ref) -> dict:
            return self._room(ref)[0]

        # -- rules: the dynamic supervisor ------------------------------------
        @rule(target=dynamic, room=st.sampled_from(ROOMS))
        def start_room(self, room: str) -> str:
            label = self.label("d")
            self.apply({"op": "start_child", "sup": {"local": "chat_sup"}, "spec": [{"str": room}], "as": label})
            return label

        @rule(who=dynamic)
        def terminate_room(self, who):
            if who is not NOBODY:
                self.apply({"op": "terminate_child", "sup": {"local": "chat_sup"}, "pid": {"proc": who}})

        @rule(sup=st.sampled_from(["chat_sup", "rooms_sup"]), op=st.sampled_from(["which_children", "count_children"]))
        def children(self, sup, op):
            self.apply({"op": op, "sup": {"local": sup}})

        # -- rules: the static supervisor ---------------------------------------
        @rule(form=st.sampled_from(NAME_FORMS), room=st.sampled_from(range(len(ROOMS))),
              restart=st.sampled_from(["permanent", "transient", "temporary"]))
        def add_room(self, form, room, restart):
            # One child id per room: adding it again is already_started or already_present.
            self.apply({"op": "start_child", "sup": {"local": "rooms_sup"},
                        "spec": {"id": EXTRA_IDS[room], "kind": "chat_room", "name": room_name(form, ROOMS[room]),
                                 "restart": restart, "as": self.label("extra")}})

        @rule(cid=st.sampled_from([f"room{i}" for i in range(len(ROOMS))] + list(EXTRA_IDS)))
        def terminate_static(self, cid):
            self.apply({"op": "terminate_child", "sup": {"local": "rooms_sup"}, "id": cid})

        # -- rules: using rooms by name -------------------------------------------
        @rule(ref=ROOM_REFS)
        def whereis(self, ref):
            self.apply({"op": "whereis", "name": self._name(ref)})

        @rule(ref=ROOM_REFS, msg=st.sampled_from(["get_messages", "get_messages", "bogus"]))
        def call(self, ref, msg):
            self.apply({"op": "call", "to": self._name(ref), "msg": msg, "timeout": 20})

        @rule(ref=ROOM_REFS, nowait=st.booleans())
        def cast(self, ref, nowait):
            self.apply({"op": "cast", "to": self._name(ref), "msg": ["add_message", {"str": "hi"}], "nowait": nowait})

        @rule(busy=BUSY_REFS, work=st.sampled_from(WORK), reason=st.sampled_from(["kill", "shutdown", "boom"]),
              victim=st.sampled_from(["self", "self", "sibling", "tree", "registry"]), sibling=ROOM_REFS,
              registry=st.sampled_from(REGISTRY_SERVERS))
        def kill_while_busy(self, busy, work, reason, victim, sibling, registry):
            # SCN-5: a room computes a work cast (nowait) when a kill reaches it: its own, or
            # through its tree (its supervisor's death, a sibling's restarting it with one_for_all
            # or rest_for_one, a registry server's); the kill lands inside its callback. Mostly a
            # static room, which its supervisor keeps alive, killed by what reaches it.
            name, tree = self._room(busy)
            self.apply({"op": "cast", "to": name, "msg": ["work", work], "nowait": True})
            # Mostly a kill its supervisor survives (its own, a sibling's), so later busy rooms
            # still have a live tree to be killed through.
            target = {"self": name, "sibling": self._name(sibling), "registry": {"local": registry},
                      "tree": tree and {"proc": tree}}[victim]
            if target:
                self.apply({"op": "kill", "target": target, "reason": reason})

        @rule(waits=st.integers(0, 3), reason=st.sampled_from(["kill", "shutdown", "boom"]),
              victim=st.sampled_from(["room", "room", "sibling", "sup", "registry", "whereis", "children"]),
              fresh=st.booleans(), strategy=st.sampled_from(["one_for_all", "one_for_one", "rest_for_one"]),
              sibling=ROOM_REFS, registry=st.sampled_from(REGISTRY_SERVERS))
        def kill_inside_restart(self, waits, reason, victim, fresh, strategy, sibling, registry):
            # SUP-12, SUP-9, SCN-5: room0 (maybe computing in its init) is killed (nowait), so its
            # supervisor restarts it; `waits` steps that block the driver (nowait) let the restart
            # run, and the last step meets it where it is, perhaps half done: the new room in its
            # init, holding its name, the siblings after it not started again yet. A kill there
            # lands inside the init: its supervisor's (the room dies with it), its own (the restart
            # fails and is retried), a registry server's. The last step is not nowait: all settles.
            # A fresh tree (the application's may be gone by now) makes sure the window is there.
            if not (fresh or self.app):
                return
            room, sibling, sup = self._name(("static", 0, "local")), self._name(sibling), "sup"
            if fresh:
                sup = self.label("s")
                room, sibling = {"local": f"{sup}_a"}, {"local": f"{sup}_b"}
                self.apply({"op": "start", "kind": "supervisor", "as": sup, "strategy": strategy, "link": False,
                            "children": [{"id": "a", "kind": "chat_room", "name": room, "init_work": INIT_WORK[-1]},
                                         {"id": "b", "kind": "chat_room", "name": sibling}]})
            self.apply({"op": "kill", "target": room, "nowait": True})
            for _ in range(waits if self.app else 0):
                self.apply({"op": "messages", "target": {"proc": "w"}, "nowait": True})
            if victim == "whereis":
                self.apply({"op": "whereis", "name": sibling})
            elif victim == "children":
                self.apply({"op": "which_children", "sup": {"proc": sup}})
            else:
                target = {"sup": {"proc": sup}, "room": room, "sibling": sibling, "registry": {"local": registry}}[victim]
                self.apply({"op": "kill", "target": target, "reason": reason})

        @rule(ref=ROOM_REFS, reason=st.sampled_from(REASONS), then=st.sampled_from(["whereis", "cast", "registry"]),
              registry=st.sampled_from(REGISTRY_SERVERS))
        def use_name_of_the_dying(self, ref, reason, then, registry):
            # REG-LOCAL-8, VIA-2: right after a nowait kill of a room its name is still the dead
            # holder's (until it handled the kill, or until the registry saw its DOWN); the next
            # step (not nowait) meets that window: a lookup, a cast, or the registry server killed
            # before it cleaned up.
            name = self._name(ref)
            self.apply({"op": "kill", "target": name, "reason": reason, "nowait": True})
            if then == "whereis":
                self.apply({"op": "whereis", "name": name})
            elif then == "cast":
                self.apply({"op": "cast", "to": name, "msg": ["add_message", {"str": "hi"}]})
            else:
                self.apply({"op": "kill", "target": {"local": registry}, "reason": "kill"})

        @rule(ref=ROOM_REFS, reason=st.sampled_from(REASONS), who=collectors)
        def take_name_of_the_dying(self, ref, reason, who):
            # The same window (REG-LOCAL-8, VIA-2): another process takes the name.
            if who is NOBODY:
                return
            name = self._name(ref)
            self.apply({"op": "kill", "target": name, "reason": reason, "nowait": True})
            self.apply({"op": "register", "name": name, "target": {"proc": who}})

        # -- rules: kills ---------------------------------------------------------
        @rule(ref=ROOM_REFS, reason=st.sampled_from(REASONS), nowait=st.booleans())
        def kill_by_name(self, ref, reason, nowait):
            self.apply({"op": "kill", "target": self._name(ref), "reason": reason, "nowait": nowait})

        @rule(who=rooms | dynamic, reason=st.sampled_from(REASONS))
        def kill_first_pid(self, who, reason):
            if who is not NOBODY:
                label = who[0] if isinstance(who, tuple) else who
                self.apply({"op": "kill", "target": {"proc": label}, "reason": reason})

        @rule(sup=st.sampled_from(["sup", "dsup", "inner"]), reason=st.sampled_from(["kill", "shutdown", "boom"]))
        def kill_supervisor(self, sup, reason):
            if {"sup": self.app, "dsup": self.chat_sup, "inner": self.nested}[sup]:
                self.apply({"op": "kill", "target": {"proc": sup}, "reason": reason})

        @rule(server=st.sampled_from(REGISTRY_SERVERS), reason=st.sampled_from(["kill", "boom"]))
        def kill_registry_server(self, server, reason):
            self.apply({"op": "kill", "target": {"local": server}, "reason": reason})

        @rule(victim=rooms, reason=st.sampled_from(REASONS))
        def watch_then_kill(self, victim, reason):
            # The watcher sees the order in which the supervisor stops a dead room's siblings (SUP-1).
            if victim is NOBODY:
                return
            for name in self.static_names:
                self.apply({"op": "monitor", "watcher": {"proc": "w"}, "target": name, "as": self.label("m")})
            self.apply({"op": "kill", "target": victim[1], "reason": reason})
            self.apply({"op": "messages", "target": {"proc": "w"}})

        @rule(ref=ROOM_REFS)
        def watch_by_name(self, ref):
            if self.app:
                self.apply({"op": "monitor", "watcher": {"proc": "w"}, "target": self._name(ref),
                            "as": self.label("m")})

        @rule()
        def watcher_messages(self):
            if self.app:
                self.apply({"op": "messages", "target": {"proc": "w"}})

        # -- rules: names held by plain processes ------------------------------------
        @rule(target=collectors)
        def spawn(self):
            label = self.label("c")
            self.apply({"op": "spawn", "kind": "collector", "as": label})
            return label

        @rule(who=collectors, form=st.sampled_from(("global",) + BACKENDS), key=st.sampled_from(["k1", "k2"]))
        def register(self, who, form, key):
            if who is not NOBODY:
                self.apply({"op": "register", "name": room_name(form, key), "target": {"proc": who}})

        @rule(who=collectors, form=st.sampled_from(("global",) + BACKENDS), key=st.sampled_from(["k1", "k2"]))
        def unregister(self, who, form, key):
            step = {"op": "unregister", "name": room_name(form, key)}
            if form in BACKENDS and backends.get(form).self_register:
                if who is NOBODY:
                    return
                step["target"] = {"proc": who}   # only the holder drops a Registry key
            self.apply(step)

        @rule(old=collectors, new=collectors, form=st.sampled_from(("global",) + BACKENDS),
              key=st.sampled_from(["k1", "k2"]), old_dies=st.booleans())
        def hand_over(self, old, new, form, key, old_dies):
            # A name passes from one process to another: the registry must forget the old
            # holder, also when the old holder dies afterwards.
            if old is NOBODY or new is NOBODY:
                return
            name = room_name(form, key)
            self.apply({"op": "register", "name": name, "target": {"proc": old}})
            step = {"op": "unregister", "name": name}
            if form in BACKENDS and backends.get(form).self_register:
                step["target"] = {"proc": old}
            self.apply(step)
            self.apply({"op": "register", "name": name, "target": {"proc": new}})
            if old_dies:
                self.apply({"op": "kill", "target": {"proc": old}, "reason": "boom"})
            self.apply({"op": "whereis", "name": name})

        @rule(form=st.sampled_from(("global",) + BACKENDS), key=st.sampled_from(["k1", "k2"]))
        def whereis_key(self, form, key):
            self.apply({"op": "whereis", "name": room_name(form, key)})

        @rule(who=collectors, reason=st.sampled_from(REASONS), nowait=st.booleans())
        def kill_collector(self, who, reason, nowait):
            if who is not NOBODY:
                self.apply({"op": "kill", "target": {"proc": who}, "reason": reason, "nowait": nowait})

        @rule(who=collectors, backend=st.sampled_from(SERVER_BACKENDS))
        def registry_keys(self, who, backend):
            if who is not NOBODY:
                self.apply({"op": "registry_keys", "registry": backend, "target": {"proc": who}})

        # -- invariants ---------------------------------------------------------------
        @invariant()
        def both_sides_are_sound(self):
            self.check_model()
            assert self.impl.session.invariant_violations() == ()

        @invariant()
        def supervised_children_are_alive(self):
            if self.quiescent:
                assert children_are_live(self.model.session.world) == ()
                assert impl_children_are_live(self.impl.session.runtime) == ()

    return SupervisionMachine
