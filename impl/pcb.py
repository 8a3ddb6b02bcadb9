"""The process control block: the runtime's record of one process (erts `Process`).

Implements: PROC-1 (pids in creation order, given by the runtime)

The bottom of the process layer: a plain record that `signals` (which
acts on it) and `process` (whose `Context` acts as it) both read; it
imports neither.

Invariants (each field is read and written only with the runtime lock held,
except where a comment says otherwise):
- `alive` goes from True to False once, in `signals.exit_process` (or at
  shutdown); from then on `links`, `monitors` and `monitored_by` are empty
  and the mailbox is closed;
- `status` tells the scheduler where the process's thread is (see STATUS);
- `killed` is set when the process dies while its thread may still be
  running; the thread then never performs another BIF (each raises
  `ProcessExit`), and `in_user` stays true until the thread's last
  bookkeeping, so the runtime keeps re-raising `ProcessKilled` in it while
  its code runs on (a *zombie*).
"""

from __future__ import annotations

import attrs

from regspec.terms import Pid

from .mailbox import Mailbox

__all__ = ["Process", "READY", "RUNNING", "BUSY", "COMPUTED", "WAITING", "EXITED"]

# STATUS of a process's thread, as the scheduler sees it:
READY = "ready"       # wants the run token: new, or back in receive with a message it can take
RUNNING = "running"   # holds the run token (it is the runtime's `current`)
BUSY = "busy"         # was preempted after a full slice; its code still runs, outside the token
COMPUTED = "computed" # done computing (`Context.computed`): goes on once nothing else can run
WAITING = "waiting"   # blocked in receive with nothing it can take
EXITED = "exited"     # dead; its thread is unwinding or gone


@attrs.define(eq=False)
class Process:
    """The runtime's record of one process, alive or dead (guarded by the runtime lock)."""

    pid: Pid
    kind: str                               # "driver", "collector", "chat_room", or a test's own kind
    mailbox: Mailbox
    trap_exit: bool = False
    alive: bool = True
    exit_reason: object = None
    links: set = attrs.Factory(set)         # pids this process is linked to
    # Keyed by the ref's number (an int hashes in C; a Ref's hash is Python code, and a call makes and drops
    # a monitor on both sides):
    monitors: dict = attrs.Factory(dict)    # ref.n -> target pid (None for a free name): monitors it holds
    monitored_by: dict = attrs.Factory(dict)  # ref.n -> (watcher pid, DOWN object, ref)
    status: str = READY
    thread: object = None                   # its runtime.ProcessThread, from its spawn
    in_user: bool = False                   # its thread runs its own code (not inside a BIF)
    killed: bool = False                    # dead while its thread may still run
    async_sent: int = 0                     # how many times ProcessKilled was raised in its thread
    async_at: float = 0.0                   # when it was last raised (time.monotonic)
    timer: int | None = None                # logical deadline of its pending receive timeout
    in_slice: bool = False                  # it runs because it was handed its signals (not to resume)
    waiter: object = None                   # its thread's `mailbox.EventWaiter`, once it has waited on one
    started: bool = False                   # its thread was started (at its first turn)
    thread_done: bool = False               # its thread has finished, or it died before it was started
    state: object = None                    # a supervisor's state, as it was when it last waited for a message
    kept: list | None = None                # an eager collector's messages, readable after it died (SCN-8)
