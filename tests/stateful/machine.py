"""The differential state machine: the model and the threaded runtime driven by the same steps.

Every rule is one scenario step, applied to a `ModelSession` and to an
`ImplSession`; their canonical results must be equal after every step.
The steps run so far are kept in scenario form, and `note()`d on failure,
so every counterexample is a file that `regspec run` replays.

`SystemMachine` is a factory product (`system_machine()`) so that a test can
build a machine over a patched runtime (the planted bugs).
"""

from __future__ import annotations

import json

from hypothesis import note, strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from regspec.canonical import Encoder
from regspec.model import ModelSession
from regspec.model.invariants import check
from regspec.runner import _binding, decode_step

NAMES = ("alpha", "beta", "gamma")
REASONS = ("kill", "normal", "shutdown", "boom", ["shutdown", "bye"])
MSGS = ("ping", ["n", 1], {"str": "hi"})


class Side:
    """One target of the comparison: a session plus its own bindings and ref numbering."""

    def __init__(self, session):
        self.session = session
        self.bindings: dict = {}
        self.encoder = Encoder(node=session.node)

    def apply(self, step: dict) -> object:
        args = decode_step(step, self.bindings, self.encoder)
        result = self.session.perform(step["op"], args, bool(step.get("nowait", False)))
        if "as" in step:
            self.bindings[step["as"]] = _binding(step["op"], result)
        return self.encoder.encode(result)


def system_machine(make_impl_session, *, kills_inside_calls: bool = True):
    """A `RuleBasedStateMachine` class comparing the model with `make_impl_session()`."""

    class SystemMachine(RuleBasedStateMachine):
        collectors = Bundle("collectors")
        rooms = Bundle("rooms")
        refs = Bundle("refs")

        def __init__(self):
            super().__init__()
            self.model = Side(ModelSession("a"))
            self.impl = Side(make_impl_session())
            self.steps: list[dict] = []
            self.counter = 0

        def teardown(self):
            self.impl.session.close()

        # -- the comparison ---------------------------------------------
        def apply(self, step: dict):
            self.steps.append(step)
            expected = self.model.apply(step)
            actual = self.impl.apply(step)
            if expected != actual:
                note("replay with `regspec run FILE --on impl` where FILE is:\n"
                     + json.dumps({"name": "counterexample", "steps": self.steps}, indent=1))
            assert expected == actual, f"step {len(self.steps) - 1} {step}: model {expected} impl {actual}"
            return expected

        def label(self, prefix: str) -> str:
            self.counter += 1
            return f"{prefix}{self.counter}"

        # -- first: one of each kind, so every rule has someone to act on ----
        @initialize(target=collectors, trap_exit=st.booleans())
        def first_collector(self, trap_exit):
            return self._spawn(trap_exit, False, "eager")

        @initialize(target=rooms, name=st.none() | st.sampled_from(NAMES))
        def first_room(self, name):
            return self._start_room(name, True)

        def _spawn(self, trap_exit, link, mode):
            label = self.label("c")
            self.apply({"op": "spawn", "kind": "collector", "as": label, "trap_exit": trap_exit, "link": link,
                        "mode": mode})
            return label

        def _start_room(self, name, link):
            label = self.label("r")
            step = {"op": "start", "kind": "chat_room", "as": label, "link": link}
            if name:
                step["name"] = {"local": name}
            self.apply(step)
            return label

        # -- rules: creating ----------------------------------------------
        @rule(target=collectors, trap_exit=st.booleans(), link=st.booleans(),
              mode=st.sampled_from(["eager", "mailbox"]))
        def spawn(self, trap_exit, link, mode):
            return self._spawn(trap_exit, link, mode)

        @rule(target=rooms, name=st.none() | st.sampled_from(NAMES), link=st.booleans())
        def start_room(self, name, link):
            return self._start_room(name, link)

        # -- rules: names -------------------------------------------------
        @rule(name=st.sampled_from(NAMES), who=collectors | rooms)
        def register(self, name, who):
            self.apply({"op": "register", "name": {"local": name}, "target": {"proc": who}})

        @rule(name=st.sampled_from(NAMES))
        def unregister(self, name):
            self.apply({"op": "unregister", "name": {"local": name}})

        @rule(name=st.sampled_from(NAMES))
        def whereis(self, name):
            self.apply({"op": "whereis", "name": {"local": name}})

        @rule()
        def registered(self):
            self.apply({"op": "registered"})

        # -- rules: messages and calls --------------------------------------
        @rule(to=collectors | rooms, by_name=st.none() | st.sampled_from(NAMES), msg=st.sampled_from(MSGS),
              nowait=st.booleans())
        def send(self, to, by_name, msg, nowait):
            dest = {"local": by_name} if by_name else {"proc": to}
            self.apply({"op": "send", "to": dest, "msg": msg, "nowait": nowait})

        @rule(to=collectors | rooms, by_name=st.none() | st.sampled_from(NAMES),
              msg=st.sampled_from(["get_messages", "get_messages", "bogus"]))
        def call(self, to, by_name, msg):
            dest = {"local": by_name} if by_name else {"proc": to}
            self.apply({"op": "call", "to": dest, "msg": msg, "timeout": 20})

        @rule(to=rooms, by_name=st.none() | st.sampled_from(NAMES),
              msg=st.sampled_from([["add_message", {"str": "hi"}], ["add_message", 3], "bogus"]),
              nowait=st.booleans())
        def cast(self, to, by_name, msg, nowait):
            dest = {"local": by_name} if by_name else {"proc": to}
            self.apply({"op": "cast", "to": dest, "msg": msg, "nowait": nowait})

        @rule(who=rooms, reason=st.sampled_from(["normal", "shutdown", "boom", "kill"]))
        def stop(self, who, reason):
            self.apply({"op": "stop", "target": {"proc": who}, "reason": reason})

        # -- rules: kills -------------------------------------------------
        @rule(who=collectors | rooms, by_name=st.none() | st.sampled_from(NAMES),
              reason=st.sampled_from(REASONS), nowait=st.booleans())
        def kill(self, who, by_name, reason, nowait):
            dest = {"local": by_name} if by_name else {"proc": who}
            self.apply({"op": "kill", "target": dest, "reason": reason, "nowait": nowait})

        @rule(who=rooms, reason=st.sampled_from(REASONS),
              msg=st.sampled_from(["get_messages", "bogus"]))
        def kill_then_call(self, who, reason, msg):
            # The kill is queued ahead of the call: the call meets a process
            # that is dying, or already dead.
            self.apply({"op": "kill", "target": {"proc": who}, "reason": reason, "nowait": True})
            self.apply({"op": "call", "to": {"proc": who}, "msg": msg, "timeout": 20})

        @rule(who=rooms, reason=st.sampled_from(REASONS), msg=st.sampled_from(["get_messages", "bogus"]))
        def kill_inside_call(self, who, reason, msg):
            # The exit signal reaches the server while the call is pending, as
            # if another process killed it meanwhile. Not a contract field: a
            # replay file holding this step must drop "exit_during".
            self.apply({"op": "call", "to": {"proc": who}, "msg": msg, "timeout": 20, "exit_during": reason})

        @rule(watcher=collectors, who=collectors | rooms, reason=st.sampled_from(REASONS),
              nowait=st.booleans())
        def kill_watched(self, watcher, who, reason, nowait):
            # The chat-room story in three steps: a watcher monitors, the
            # watched process is killed, the watcher reads what it got.
            self.apply({"op": "monitor", "watcher": {"proc": watcher}, "target": {"proc": who},
                        "as": self.label("m")})
            self.apply({"op": "kill", "target": {"proc": who}, "reason": reason, "nowait": nowait})
            self.apply({"op": "messages", "target": {"proc": watcher}})

        # -- rules: links and monitors --------------------------------------
        @rule(target=refs, watcher=collectors, whom=collectors | rooms,
              by_name=st.none() | st.sampled_from(NAMES))
        def monitor(self, watcher, whom, by_name):
            label = self.label("m")
            dest = {"local": by_name} if by_name else {"proc": whom}
            self.apply({"op": "monitor", "watcher": {"proc": watcher}, "target": dest, "as": label})
            return (label, watcher)

        @rule(ref=consumes(refs), flush=st.booleans())
        def demonitor(self, ref, flush):
            label, watcher = ref
            self.apply({"op": "demonitor", "watcher": {"proc": watcher}, "ref": {"ref": label}, "flush": flush})

        @rule(a=collectors, b=collectors | rooms, op=st.sampled_from(["link", "unlink"]))
        def link(self, a, b, op):
            self.apply({"op": op, "a": {"proc": a}, "b": {"proc": b}})

        @rule(who=collectors, value=st.booleans())
        def trap_exit(self, who, value):
            self.apply({"op": "trap_exit", "target": {"proc": who}, "value": value})

        @rule(who=collectors)
        def messages(self, who):
            self.apply({"op": "messages", "target": {"proc": who}})

        @rule(who=collectors | rooms)
        def alive(self, who):
            self.apply({"op": "alive", "target": {"proc": who}})

        # -- invariants ---------------------------------------------------
        @invariant()
        def model_world_is_sound(self):
            assert check(self.model.session.world) == ()

        @invariant()
        def runtime_agrees_with_its_own_invariants(self):
            impl = self.impl.session
            if hasattr(impl, "invariant_violations"):
                assert impl.invariant_violations() == ()

    return SystemMachine
