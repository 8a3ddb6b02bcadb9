"""A seeded generator of random, well-formed scenarios over the operations the model covers.

The same seed always gives the same scenario, so a disagreement found with
it can be replayed and saved as a file.

>>> a = generate(7); b = generate(7)
>>> a == b and a["steps"][0]["op"] in ("spawn", "start")
True
"""

from __future__ import annotations

import random

__all__ = ["generate"]

NAMES = ("alpha", "beta", "gamma")
REASONS = ("kill", "normal", "shutdown", "boom", ["shutdown", "bye"])


def generate(seed: int, length: int = 14, nowait: bool = True) -> dict:
    """A scenario of about `length` steps drawn from `random.Random(seed)`."""
    rnd = random.Random(seed)
    steps: list[dict] = []
    collectors: list[str] = []
    rooms: list[str] = []
    refs: list[tuple[str, str]] = []  # (ref label, watcher label)

    def proc(pool=None):
        pool = pool if pool is not None else collectors + rooms
        return {"proc": rnd.choice(pool)}

    def name():
        return {"local": rnd.choice(NAMES)}

    def target():
        return name() if rnd.random() < 0.3 else proc()

    def new_collector():
        label = f"c{len(collectors) + 1}"
        step = {"op": "spawn", "kind": "collector", "as": label}
        if rnd.random() < 0.5:
            step["trap_exit"] = True
        if rnd.random() < 0.4:
            step["link"] = True
        if rnd.random() < 0.3:
            step["mode"] = "mailbox"
        collectors.append(label)
        return step

    def new_room():
        label = f"r{len(rooms) + 1}"
        step = {"op": "start", "kind": "chat_room", "as": label}
        if rnd.random() < 0.7:
            step["name"] = name()
        if rnd.random() < 0.3:
            step["link"] = False
        rooms.append(label)
        return step

    steps.append(new_collector())
    steps.append(new_room())
    while len(steps) < length:
        r = rnd.random()
        kind = rnd.choice([
            "spawn", "start", "register", "unregister", "whereis", "registered", "send", "call", "cast",
            "kill", "kill", "monitor", "monitor", "demonitor", "link", "unlink", "trap_exit", "messages",
            "messages", "alive", "stop",
        ])
        if kind == "spawn":
            step = new_collector()
        elif kind == "start":
            step = new_room()
        elif kind == "register":
            step = {"op": "register", "name": name(), "target": proc()}
        elif kind == "unregister":
            step = {"op": "unregister", "name": name()}
        elif kind == "whereis":
            step = {"op": "whereis", "name": name()}
        elif kind == "registered":
            step = {"op": "registered"}
        elif kind == "send":
            step = {"op": "send", "to": target(), "msg": rnd.choice(["ping", ["n", rnd.randint(1, 9)]])}
        elif kind == "call":
            msg = rnd.choice(["get_messages", "get_messages", "bogus"])
            step = {"op": "call", "to": target(), "msg": msg, "timeout": 50}
        elif kind == "cast":
            msg = rnd.choice([["add_message", {"str": rnd.choice(["hi", "yo"])}], ["add_message", rnd.randint(1, 9)], "bogus"])
            step = {"op": "cast", "to": target(), "msg": msg}
        elif kind == "kill":
            step = {"op": "kill", "target": target()}
            reason = rnd.choice(REASONS)
            if reason != "kill":
                step["reason"] = reason
        elif kind == "monitor":
            w = rnd.choice(collectors)
            label = f"m{len(refs) + 1}"
            refs.append((label, w))
            step = {"op": "monitor", "watcher": {"proc": w}, "target": target(), "as": label}
        elif kind == "demonitor":
            if not refs:
                continue
            label, w = rnd.choice(refs)
            step = {"op": "demonitor", "watcher": {"proc": w}, "ref": {"ref": label}, "flush": rnd.random() < 0.5}
        elif kind in ("link", "unlink"):
            step = {"op": kind, "a": proc(collectors), "b": proc()}
        elif kind == "trap_exit":
            step = {"op": "trap_exit", "target": proc(collectors), "value": rnd.random() < 0.5}
        elif kind == "messages":
            step = {"op": "messages", "target": proc(collectors)}
        elif kind == "alive":
            step = {"op": "alive", "target": proc()}
        else:
            step = {"op": "stop", "target": proc(rooms), "reason": rnd.choice(["normal", "shutdown", "boom"])}
        if nowait and step["op"] in ("kill", "send", "cast") and r < 0.15:
            step["nowait"] = True
        steps.append(step)
    steps.extend({"op": "messages", "target": {"proc": c}} for c in collectors)
    steps.append({"op": "registered"})
    return {"name": f"random-{seed}", "doc": f"Random scenario from seed {seed}.", "steps": steps}
