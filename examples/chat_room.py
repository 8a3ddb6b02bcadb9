"""The article's chat application, one recorded session at a time.

    python examples/chat_room.py                               # every session, on the model
    python examples/chat_room.py --on impl                     # the same on the threaded runtime
    python examples/chat_room.py registry-nomonitor registry   # only these sessions
    python examples/chat_room.py --list                        # the sessions and what each shows

The story follows the classic "process registry in Elixir" article: one chat
room registered as `chat_room` under a supervisor; then many rooms under a
simple_one_for_one supervisor, found through a registry server that keeps a
map from names to pids, first without monitors (the bug), then with them;
then Elixir's own Registry with unique keys.

Each session is a scenario file in `examples/chat/`, a copy of the
`article-*` scenario of the test corpus, with the results real Erlang/OTP
printed for it (`.expected.json`; tests/test_example_chat_room.py checks that
the copies match the corpus). For every step the script prints the step (in
an Elixir-like notation), the result exactly as `regspec run` prints it, and,
when that result is the recorded one, a note on what it shows. A session
name is the file's stem with or without its `article-chat-` prefix.

`--on` picks the target as `regspec run --on` does (model, impl or beam).
The threaded runtime (`impl`) has no supervisors, via names or :global yet:
until it has, a session on it stops with an error (today at its first step)
or answers `{"unsupported": op}` for some steps, and the script says which.

Exit status: 0 when every step printed the recorded BEAM result; 1 when some
step differed or the target failed on a session; 2 for an unknown session
name; 3 when the target cannot run on this machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys
import textwrap

from regspec import targets
from regspec.scenario import Scenario, load

__all__ = ["SESSIONS", "Session", "CHAT", "find", "load_session", "run_session", "tell", "main"]

CHAT = pathlib.Path(__file__).resolve().parent / "chat"
PREFIX = "article-chat-"
WIDTH = 100


@dataclasses.dataclass(frozen=True)
class Session:
    """One article session: its scenario's stem, a heading, the lesson, and notes by step.

    `notes` maps a step index to `(op, text)`; `op` is that step's op, so a
    note cannot silently drift onto another step when a scenario changes.
    """

    stem: str
    title: str
    lesson: str
    notes: dict[int, tuple[str, str]]

    @property
    def short(self) -> str:
        return self.stem.removeprefix(PREFIX)


SESSIONS = (
    Session(
        "article-chat-room-local-supervised",
        "One room, registered as chat_room, under a one_for_one supervisor",
        "A killed room is restarted as a new process; the local name follows the new pid; "
        "the messages are lost with the old process.",
        {4: ("whereis", "the room's pid before the kill"),
         6: ("whereis", "a new pid: the supervisor restarted the room, which registered chat_room again"),
         7: ("alive", "the old pid stays dead"),
         8: ("call", "the restarted room starts empty")}),
    Session(
        "article-chat-registry-nomonitor",
        "Many rooms through a map registry WITHOUT monitors (the bug)",
        "The registry maps names to pids but never monitors them. A killed room's name keeps "
        "its dead pid, so every restart of that room fails with already_started: the supervisor "
        "can never restart the child, hits its restart limit and takes room2 down with it.",
        {8: ("kill", "room1 dies; its supervisor tries to restart it under the same via name"),
         9: ("messages", "BUG: the supervisor could never restart room1 (each restart found the name held "
                         "by the dead pid: already_started), so it gave up, shut room2 down and stopped: "
                         "both DOWNs say shutdown"),
         10: ("alive", "the rooms' supervisor is gone"),
         11: ("whereis", "BUG: a stale dead pid: the name still answers room1's old pid, since nothing "
                         "told the registry it died"),
         12: ("call", "a call through the name goes to that dead pid: noproc"),
         13: ("whereis", "room2 died with the supervisor, and its name is stale too")}),
    Session(
        "article-chat-registry",
        "Many rooms through a map registry WITH monitors",
        "The registry monitors every pid it registers and drops its names when the DOWN arrives, "
        "so the restarted room can take its name again.",
        {5: ("whereis", "a new pid under the same name: the registry dropped the dead room on its DOWN "
                        "and the restarted room registered again"),
         6: ("call", "the restarted room starts empty")}),
    Session(
        "article-chat-registry-two-rooms",
        "Two rooms, each behind its own via name",
        "Killing one room restarts only that room; the other keeps its pid and its messages.",
        {8: ("whereis", "room1 has a new pid"),
         9: ("call", "and no messages"),
         10: ("call", "room2 was not touched"),
         11: ("which_children", "the supervisor's children: room2 and the new room1")}),
    Session(
        "article-chat-registry-kill-nowait-window",
        "The window between a room's death and its DOWN (map registry)",
        "Right after a kill (without waiting), the map registry has not handled the DOWN yet and "
        "still answers the dead pid; once everything has run, the restarted room holds the name.",
        {3: ("kill", "nowait: the next step runs at once"),
         4: ("whereis", "the window: the registry still answers room1's old pid, its DOWN not yet handled"),
         5: ("alive", "that pid is dead"),
         6: ("whereis", "after quiescence: the restarted room")}),
    Session(
        "article-chat-registry-server-killed",
        "When the registry itself is killed",
        "The rooms keep running, but every lookup through a via name is a call to the dead "
        "registry and exits noproc.",
        {4: ("alive", "room1 still runs"),
         5: ("call", "but nobody can reach it by name: the lookup call to the registry exits noproc"),
         6: ("start_child", "a new room cannot start either: registering its name exits the same way"),
         7: ("which_children", "only room1 is a child")}),
    Session(
        "article-chat-app-tree-registry-restart-one-for-one",
        "The application tree, one_for_one: registry and rooms' supervisor under one supervisor",
        "A killed registry is restarted empty; the old rooms run on but have lost their names, "
        "so a second room1 can start beside the first.",
        {4: ("whereis", "the registry was restarted: a new pid"),
         5: ("alive", "the old room1 still runs"),
         6: ("whereis", "but the new registry is empty: the name is lost"),
         7: ("start_child", "so a second room1 starts beside the old one"),
         8: ("call", "the name now reaches the new, empty room")}),
    Session(
        "article-chat-app-tree-registry-restart-rest-for-one",
        "The application tree, rest_for_one",
        "The rooms' supervisor, started after the registry, is restarted with it: the old rooms "
        "go, and new rooms take the names in the new registry.",
        {5: ("alive", "the old room1 is gone: rest_for_one restarted chat_supervisor too"),
         6: ("whereis", "the new registry is empty"),
         7: ("start_child", "a new room1 starts under the new chat_supervisor"),
         9: ("which_children", "both children have new pids")}),
    Session(
        "article-chat-dynamic-supervisor",
        "Elixir's DynamicSupervisor instead of simple_one_for_one",
        "The same story with DynamicSupervisor: a killed room comes back empty under its name.",
        {6: ("whereis", "a new pid under the same name"),
         7: ("call", "the restarted room starts empty")}),
    Session(
        "article-chat-registry-unique",
        "Elixir's Registry with unique keys",
        "Each room registers its own name as it starts; Registry drops the key when the room "
        "dies, so the restarted room takes it again.",
        {1: ("start", "P3, not P2: the Registry is two processes, a supervisor and its partition"),
         6: ("registry_keys", "room1 holds its own name"),
         8: ("whereis", "a new pid under the same name"),
         9: ("call", "the restarted room starts empty")}),
    Session(
        "article-chat-registry-unique-kill-nowait-window",
        "No window with Registry",
        "Registry checks on lookup that the pid is alive, so right after a kill the name is "
        "already undefined instead of answering the dead pid.",
        {3: ("kill", "nowait: the next step runs at once"),
         4: ("whereis", "undefined, not the dead pid (compare the map registry's window)"),
         6: ("whereis", "after quiescence: the restarted room")}),
)


def find(name: str) -> Session:
    """The session whose stem is `name`, with or without the `article-chat-` prefix."""
    for session in SESSIONS:
        if name in (session.stem, session.short):
            return session
    raise KeyError(name)


def load_session(session: Session) -> tuple[Scenario, list[dict]]:
    """The session's validated scenario and the results the BEAM printed for it."""
    scenario = load(str(CHAT / f"{session.stem}.json"))
    expected = json.loads((CHAT / f"{session.stem}.expected.json").read_text())
    return scenario, expected


def run_session(session: Session, target: str) -> list[dict]:
    """Canonical results of the session's steps on `target` (as `regspec run` prints them)."""
    return targets.run(load_session(session)[0], target)


# -- showing steps -------------------------------------------------------------
_TARGET_FIELDS = ("sup", "to", "target", "watcher", "a", "b", "pid", "registry")
_TERM_FIELDS = ("msg", "reason", "id")


def show(value: object) -> str:
    """A scenario value in Elixir-like notation: atoms `:a`, binaries `"s"`, tuples `{}`."""
    if isinstance(value, int):  # also true and false
        return json.dumps(value)
    if isinstance(value, str):
        return f":{value}"
    if isinstance(value, list):
        return "{" + ", ".join(show(v) for v in value) + "}"
    ((tag, inner),) = value.items()
    if tag == "str":
        return json.dumps(inner)
    if tag == "atom":
        return f":{inner}"
    if tag == "list":
        return "[" + ", ".join(show(v) for v in inner) + "]"
    if tag in ("proc", "pid", "ref"):
        return str(inner)
    if tag == "arg":
        return f"arg{inner}"
    if tag == "local":
        return show(inner)
    if tag == "global":
        return "{:global, " + show(inner) + "}"
    if tag == "via":
        return "{:via, :" + inner[0] + ", " + show(inner[1]) + "}"
    return json.dumps(value)


def _spec(spec: dict) -> str:
    return "%{" + ", ".join(f"{k}: {_field(k, v)}" for k, v in spec.items()) + "}"


def _field(key: str, value: object) -> str:
    if key == "children":
        return "[" + ", ".join(_spec(spec) for spec in value) + "]"
    if key == "child" or (key == "spec" and isinstance(value, dict)):
        return _spec(value)
    if key == "spec":  # a dynamic supervisor's start arguments
        return "[" + ", ".join(show(v) for v in value) + "]"
    if key == "registry" and isinstance(value, str):  # a backend's name
        return value
    if key in _TARGET_FIELDS or key in _TERM_FIELDS or key == "name":
        return show(value)
    return value if isinstance(value, str) else json.dumps(value)


def describe(step: dict) -> str:
    """One step as `label = op field: value, ...` (plus `(nowait)`)."""
    fields = [f"{k}: {_field(k, v)}" for k, v in step.items() if k not in ("op", "as", "nowait")]
    text = f"{step['op']} " + ", ".join(fields) if fields else step["op"]
    if "as" in step:
        text = f"{step['as']} = {text}"
    return text + ("  (nowait)" if step.get("nowait") else "")


# -- telling the story -----------------------------------------------------------
def tell(session: Session, number: int, target: str, out=None) -> int | None:
    """Print one session on `target`.

    Returns:
        How many steps printed something other than the BEAM recording, or
        None when the target failed on the session (the error is printed).

    Raises:
        targets.TargetUnavailable: the target cannot run on this machine.
    """
    out = out or sys.stdout
    scenario, expected = load_session(session)
    print(f"\n== {number}. {session.title}\n   ({session.stem}.json)", file=out)
    print(textwrap.fill(session.lesson, WIDTH, initial_indent="   ", subsequent_indent="   ") + "\n", file=out)
    try:
        results = targets.run(scenario, target)
    except targets.TargetUnavailable:
        raise
    except Exception as e:  # a target that cannot run a session yet is reported, not a traceback
        print(f"   {target} could not run this session: {type(e).__name__}: {e}", file=out)
        return None
    differ = 0
    for i, step in enumerate(scenario.steps):
        got, want = results[i]["result"], expected[i]["result"]
        print(textwrap.fill(describe(step.source), WIDTH, initial_indent=f"  {i:>2}  ", subsequent_indent=" " * 10,
                            break_long_words=False), file=out)
        print(f"      => {json.dumps(got)}", file=out)
        if got != want:
            differ += 1
            print(f"      !! differs from the BEAM, which printed {json.dumps(want)}", file=out)
        elif i in session.notes:
            # A note explains the recorded result, so it is shown only beside that result.
            print(textwrap.fill(session.notes[i][1], WIDTH, initial_indent="      -- ",
                                subsequent_indent="         "), file=out)
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The article's chat application, session by session.")
    parser.add_argument("--on", choices=targets.TARGETS, default="model", help="the target to run on (default: model)")
    parser.add_argument("--list", action="store_true", help="list the sessions and exit")
    parser.add_argument("sessions", nargs="*", metavar="session",
                        help="session names (default: all, in story order)")
    args = parser.parse_args(argv)
    if args.list:
        for s in SESSIONS:
            print(f"{s.short:<44} {s.title}")
        return 0
    try:
        chosen = [find(name) for name in args.sessions] or list(SESSIONS)
    except KeyError as e:
        print(f"unknown session {e.args[0]!r} (see --list)", file=sys.stderr)
        return 2
    differ, failed = 0, []
    try:
        for session in chosen:
            n = tell(session, SESSIONS.index(session) + 1, args.on)
            if n is None:
                failed.append(session.short)
            else:
                differ += n
    except targets.TargetUnavailable as e:
        print(f"target {args.on}: {e}", file=sys.stderr)
        return 3
    print()
    if failed:
        print(f"{args.on} could not run {len(failed)} of {len(chosen)} session(s): {', '.join(failed)}")
    if differ:
        print(f"{args.on}: {differ} step(s) differ from the BEAM recordings")
    if failed or differ:
        return 1
    print(f"{args.on}: every step of {len(chosen)} session(s) printed what the BEAM printed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
