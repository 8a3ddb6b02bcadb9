"""The scenario's test process, as code that runs in its own thread: `collector`; the bodies by kind.

Implements: SCN-4, SCN-5, LINK-5

This module is in the process layer (with the runtime and the driver): a
collector uses nothing but the BIFs of its `Context`, so the driver spawns
and asks collectors without importing the OTP library. A kind the library
defines (the chat room, in `behaviours`) reaches `body_for` as an entry of
`BODIES`, which the library adds (`add_body`) when it is imported.

- A collector keeps what it receives. In "eager" mode it takes every message
  out of its mailbox, in order; in "mailbox" mode it takes only the driver's
  requests and leaves scenario messages in the mailbox, which matters for
  `demonitor(Ref, [flush])` (MON-5). It performs the control requests
  (messages, monitor, demonitor, link, unlink, trap_exit) itself, as the
  caller of those BIFs, and answers `{Tag, Result}`; `sys:terminate` (from
  `stop`) ends it. A library call only the holder itself may make (taking a
  unique Registry key) reaches it as `("apply", Fun, *Args)`: it runs
  `Fun(ctx, *Args)` as itself and answers what that returns.
- A chat room (`behaviours.chat_room`, in the library) is not a collector:
  it treats a `Control` as an ordinary message and ignores it.
"""

from __future__ import annotations

from typing import Callable

import attrs

from regspec.common.records import SystemStop
from regspec.common.results import ErlangError
from regspec.terms import Atom, ErlList, LocalName, Outcome, Pid, Ref

from .mailbox import ANY
from .process import Context

__all__ = ["Control", "collector", "BODIES", "add_body", "body_for", "dead_collector_answer", "refusal"]

TRUE = Atom("true")
FALSE = Atom("false")


@attrs.frozen
class Control:
    """A request from the driver to a collector, carried as a message; `tag` marks the reply.

    `request` is a tuple whose first item names the action. Any other kind
    of process treats it as an ordinary message (a chat room ignores it).
    """

    tag: Ref
    request: tuple
    reply_to: Pid


_BODIES: dict = {}   # mode -> the body `collector` gives


def _is_system(msg: object) -> bool:
    """A driver request (control, or `sys:terminate`) rather than a scenario message."""
    return isinstance(msg, (Control, SystemStop))


def collector(mode: str = "eager") -> Callable[[Context], None]:
    """The body of a collector in `mode` ("eager" or "mailbox"); one per mode, shared by every collector
    (a body keeps nothing of its own outside its call)."""
    body = _BODIES.get(mode)
    if body is None:
        body = _BODIES[mode] = _collector(mode)
    return body


def _collector(mode: str) -> Callable[[Context], None]:
    eager = mode == "eager"
    take = ANY if eager else _is_system

    def body(ctx: Context) -> None:
        kept: list = []   # messages taken out of the mailbox, in arrival order
        if eager:
            ctx.atomic(_share_kept, kept)
        while True:
            msg = ctx.receive(take)
            if isinstance(msg, Control):
                ctx.send(msg.reply_to, (msg.tag, _perform(ctx, kept if eager else None, msg.request)))
            elif isinstance(msg, SystemStop):
                ctx.exit(msg.reason)   # GS-7: it obeys `sys:terminate` in order with its messages
            else:
                kept.append(msg)
    return body


def refusal(proc, request: tuple) -> object:
    """What a collector request answers when no live collector takes it, or None when one does:
    a live process that is no collector answers not_a_collector (SCN-11), anything else as gone."""
    if proc is not None and proc.alive:
        return None if proc.kind == "collector" else Outcome("error", Atom("not_a_collector"))
    return dead_collector_answer(proc, request)


def dead_collector_answer(proc, request: tuple) -> object:
    """A request to a collector that is gone (SCN-8): noproc, except `messages` of an
    eager collector, which stay readable after it died."""
    if proc is not None and request[0] == "messages" and proc.kind == "collector" and proc.kept is not None:
        return ErlList(tuple(proc.kept))
    return Outcome("error", Atom("noproc"))


def _share_kept(rt, me: Pid, kept: list) -> None:
    rt.process(me).kept = kept   # the driver reads it once the collector is dead


def _perform(ctx: Context, kept: list | None, request: tuple) -> object:
    """One control request, performed by the collector itself; a BIF error is answered as data.

    `kept` is what an eager collector took so far, None in mailbox mode.
    """
    action, *args = request
    try:
        if action == "messages":
            if kept is not None:
                # What it took so far; messages behind this request are not taken yet.
                return ErlList(tuple(kept))
            # `process_info(self(), messages)`: the whole mailbox, driver requests aside.
            return ErlList(tuple(m for m in ctx.mailbox_messages() if not _is_system(m)))
        if action == "trap_exit":
            return TRUE if ctx.trap_exit(args[0]) else FALSE   # LINK-5
        if action == "monitor":
            return ctx.monitor(args[0])
        if action == "demonitor":
            if not isinstance(args[0], Ref):
                raise ErlangError("error", Atom("badarg"))
            return ctx.demonitor(args[0], args[1])
        if action in ("link", "unlink"):
            other = args[0]
            if isinstance(other, LocalName):   # the collector looks the name up, then links to what it found
                other = ctx.whereis(other.name)
            return ctx.link(other) if action == "link" else ctx.unlink(other)
        if action == "apply":
            # A call only the holder itself may make (a unique_registry name is taken or
            # dropped by the holder); the asker names the function, as `apply(M, F, A)`.
            fun, *fun_args = args
            return fun(ctx, *fun_args)
    except ErlangError as e:
        return Outcome("error", e.reason)
    raise ValueError(f"unknown control request {action!r}")  # pragma: no cover - the driver sends only these


# The body of each kind `Driver.start` spawns directly, as a function of the collector mode.
BODIES: dict[str, Callable[[str], Callable[[Context], None]]] = {"collector": collector}


def add_body(kind: str, body_of_mode: Callable[[str], Callable[[Context], None]]) -> None:
    """Make `body_of_mode(mode)` the body `body_for(kind, mode)` gives (the library adds its kinds)."""
    BODIES[kind] = body_of_mode


def body_for(kind: str, mode: str = "eager") -> Callable[[Context], None]:
    """The body of a scenario kind."""
    body_of_mode = BODIES.get(kind)
    if body_of_mode is None:
        raise ValueError(f"unknown kind {kind!r} (expected one of {', '.join(BODIES)})")
    return body_of_mode(mode)
