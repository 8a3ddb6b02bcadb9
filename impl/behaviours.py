"""The scenario process kinds, as code that runs in a process's own thread: `collector`, `chat_room`.

Implements: SCN-4, SCN-5

- A collector is the process layer's (`collector`, re-exported here): it
  uses only BIFs, so the driver needs no part of the OTP library for it.
- A chat room is the article's `Chat.Server` gen_server: cast
  `{add_message, M}` prepends, call `get_messages` returns the list newest
  first, any other call or cast stops it with `{bad_call, R}` /
  `{bad_cast, R}`, and any other message is ignored. It holds its messages
  in a persistent list (`Room`): a cast costs the same however many it
  holds, as on the BEAM; `get_messages` copies them out.

This module is in the OTP library layer: importing it adds the chat room
to the bodies the driver spawns by kind (`collector.BODIES`).
"""

from __future__ import annotations

import os
import time

from regspec.common.chat_room import ChatRoom  # the article's callbacks are pure: one copy serves both

from . import gen_server
from .collector import BODIES, Control, add_body, body_for, collector, dead_collector_answer
from .process import Context

__all__ = ["Control", "collector", "chat_room", "WorkingRoom", "chat_room_init", "compute", "Room", "BODIES",
           "body_for", "dead_collector_answer"]


def chat_room(ctx: Context) -> None:
    """The body of a chat room: `gen_server:loop` over `Room`, starting with no messages."""
    gen_server.serve(ctx, WorkingRoom(ctx), ())


# Gives up the GIL and the CPU: the runtime's threads share one CPU (`Runtime(one_cpu=True)`), where
# `time.sleep(0)` gives up the GIL only to take it straight back (the thread that wants it cannot
# run before this one's time slice ends), and a thread waiting for it then waits for Python's switch
# interval (5 ms) to force a switch.
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))


def compute(ctx: Context, n: int) -> int:
    """Be busy for about `n` iterations in the process's own code, never calling the runtime.

    First the process gives up its slice (`Runtime.end_slice`), so the
    scheduler preempts it and handles its signals on its behalf while it
    computes; the loop lets the other threads run now and then (`_yield`).
    """
    ctx.atomic(lambda rt, me: rt.end_slice(me))
    acc = 0
    for i in range(n):
        acc ^= i
        if i % 500 == 499:
            _yield()   # a system call that lets the GIL go, not a BIF
    return acc


def chat_room_init(ctx: Context, starter, init_work: int = 0) -> tuple:
    """The article's Chat.Server init: no messages yet, after `init_work` steps of a loop (SCN-5),
    with the room's name taken and its starter waiting for the ack. The room goes on once
    nothing else can run, as the model's `FinishWork`; a kill meanwhile lands in the loop."""
    if init_work > 0:
        compute(ctx, init_work)
        ctx.computed()
    return ()


class Room(ChatRoom):
    """`ChatRoom` over a persistent list: `()` or `(newest, rest)`, so `add` copies nothing."""

    @staticmethod
    def add(message, state: tuple) -> tuple:
        return (message, state)

    @staticmethod
    def messages(state: tuple) -> tuple:
        out = []
        while state:
            message, state = state
            out.append(message)
        return tuple(out)


class WorkingRoom(Room):
    """`Room` for the room of `ctx`: a `{work, N}` cast computes before it is handled.

    One instance per room, not a class: a class made per room would be cyclic garbage (a type
    refers to itself) for the collector to find once the room is gone.
    """

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def handle_cast(self, msg, state):
        n = self.work(msg)
        if n is not None:
            compute(self.ctx, n)
        return _handle_cast(self, msg, state)


_handle_cast = ChatRoom.handle_cast.__func__   # the shared callback, called with the room for its `cls`


add_body("chat_room", lambda mode: chat_room)
