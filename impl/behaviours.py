"""The scenario process kinds, as code that runs in a process's own thread: `collector`, `chat_room`.

Implements: SCN-4, SCN-5, LINK-5

- A collector keeps what it receives. In "eager" mode it takes every message
  out of its mailbox, in order; in "mailbox" mode it takes only the driver's
  requests and leaves scenario messages in the mailbox, which matters for
  `demonitor(Ref, [flush])` (MON-5). It performs the control requests
  (messages, monitor, demonitor, link, unlink, trap_exit) itself, as the
  caller of those BIFs, and answers `{Tag, Result}`; `sys:terminate` (from
  `stop`) ends it.
- A chat room is the article's `Chat.Server` gen_server: cast
  `{add_message, M}` prepends, call `get_messages` returns the list newest
  first, any other call or cast stops it with `{bad_call, R}` /
  `{bad_cast, R}`, and any other message is ignored.
"""

from __future__ import annotations

from typing import Callable

import attrs

from regspec.common.chat_room import ChatRoom  # the article's callbacks are pure: one copy serves both
from regspec.common.records import SystemStop
from regspec.common.results import ErlangError
from regspec.terms import Atom, ErlList, LocalName, Outcome, Pid, Ref

from . import gen_server
from .process import Context

__all__ = ["Control", "collector", "chat_room", "KINDS", "body_for", "dead_collector_answer"]

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


def _is_system(msg: object) -> bool:
    """A driver request (control, or `sys:terminate`) rather than a scenario message."""
    return isinstance(msg, (Control, SystemStop))


def collector(mode: str = "eager") -> Callable[[Context], None]:
    """The body of a collector in `mode` ("eager" or "mailbox")."""
    eager = mode == "eager"
    take = (lambda m: True) if eager else _is_system

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
        if action in ("register", "unregister"):
            # A unique_registry name is taken or dropped by the holder itself.
            from . import registry_via
            if action == "register":
                return ctx.atomic(registry_via.unique_register, args[0].name, ctx.pid)
            return ctx.atomic(registry_via.unique_unregister, args[0].name)
    except ErlangError as e:
        return Outcome("error", e.reason)
    raise ValueError(f"unknown control request {action!r}")  # pragma: no cover - the driver sends only these


def chat_room(ctx: Context) -> None:
    """The body of a chat room: `gen_server:loop` over `ChatRoom`, starting with no messages."""
    gen_server.serve(ctx, ChatRoom, ())


KINDS = ("collector", "chat_room")


def body_for(kind: str, mode: str = "eager") -> Callable[[Context], None]:
    """The body of a scenario kind."""
    if kind == "collector":
        return collector(mode)
    if kind == "chat_room":
        return chat_room
    raise ValueError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
