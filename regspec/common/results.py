"""Erlang exceptions, exit reasons, and what a driver step answers.

Shared because both implementations must print the same result for the
same step: one `ErlangError` for an Erlang exception raised in OTP code or
a BIF, one rule for the exit reason of a process an exception escapes from,
and the pure helpers that turn OTP's return values and exit reasons into a
step's result (`{"ok": X}`, `{"error": R}`, `{"exit": R}`).

>>> e = ErlangError("error", Atom("badarg"))
>>> e.cls, e.reason, exit_reason(ErlangError("exit", Atom("normal")))
('error', badarg, normal)
>>> ok_error((Atom("ok"), Atom("x"))), bif_result(("error", Atom("badarg")))
(Outcome(tag='ok', value=x), Outcome(tag='error', value=badarg))
"""

from __future__ import annotations

from regspec.terms import Atom, ElixirException, ErlList, Outcome, Pid

__all__ = ["ErlangError", "exit_reason", "ARGUMENT_ERROR", "CALLING_SELF", "bif_result", "ok_error", "strip_call",
           "stop_result", "stop_self", "link_parties"]

OK = Atom("ok")
NOPROC = Atom("noproc")
CALLING_SELF = Atom("calling_self")
# What Elixir raises for an unknown Registry or a refused argument, as a step prints it.
ARGUMENT_ERROR = ElixirException("ArgumentError")


class ErlangError(Exception):
    """An Erlang exception, as `catch Class:Reason` sees it: `cls` is "error", "exit" or "throw".

    Raised by a BIF (`link/1` of a dead process: error noproc) or by OTP
    code (a failed `gen_server:call` exits); code that does not catch it
    ends its process with `exit_reason(e)`. Both arguments are required:
    `ErlangError("exit", Reason)`.
    """

    def __init__(self, cls: str, reason: object):
        super().__init__(cls, reason)
        self.cls = cls
        self.reason = reason


def exit_reason(e: ErlangError) -> object:
    """The exit reason of a process that `e` escapes from (the stack is not modelled)."""
    if e.cls == "exit":
        return e.reason
    if e.cls == "error":
        return (e.reason, ErlList(()))  # {Reason, Stack}
    return ((Atom("nocatch"), e.reason), ErlList(()))


def bif_result(result: object) -> object:
    """A registry function's `("error", R)` as the step result `{"error": R}`."""
    if isinstance(result, tuple) and len(result) == 2 and result[0] == "error":
        return Outcome("error", result[1])
    return result


def ok_error(result: object) -> object:
    """`{ok, X}` / `{error, X}` as the step results `{"ok": X}` / `{"error": X}`."""
    if isinstance(result, tuple) and len(result) == 2 and result[0] in (OK, Atom("error")):
        return Outcome(result[0].name, result[1])
    return result


def strip_call(reason: object) -> object:
    """`{Reason, {gen_server, call, Args}}` prints as Reason (the contract drops the wrapper)."""
    if isinstance(reason, tuple) and len(reason) == 2 and isinstance(reason[1], tuple) and len(reason[1]) == 3 \
            and reason[1][0] in (Atom("gen_server"), Atom("Elixir.GenServer")) and reason[1][1] == Atom("call"):
        return reason[0]
    return reason


def stop_result(target: Pid, asked: object, reason: object) -> object:
    """What `gen_server:stop(Target, Asked, infinity)` returns once the server is down with `reason` (GS-7).

    `proc_lib:stop` waits in `sys:terminate`, a call: a server that was
    already gone is `noproc`; one that died of something else exits with
    that reason wrapped in the failed `sys:terminate` call.
    """
    if reason == asked:
        return OK
    if reason == NOPROC:
        return Outcome("exit", NOPROC)
    return Outcome("exit", (reason, _sys_terminate(target, asked)))


def _sys_terminate(pid: Pid, reason: object) -> tuple:
    return (Atom("sys"), Atom("terminate"), ErlList((pid, reason, Atom("infinity"))))


def stop_self(pid: Pid, reason: object) -> Outcome:
    """`stop` of the caller itself: sys:terminate's call exits calling_self (GS-3)."""
    return Outcome("exit", (CALLING_SELF, _sys_terminate(pid, reason)))


def link_parties(a: object, b: object, resolve, is_collector) -> tuple[object, object]:
    """Who calls `link`/`unlink` and with what, as the beam driver chooses (DRIVER.md).

    The collector among `a` and `b` calls it (`a` first) with the other as
    the step named it; if neither is a collector, an unbound one "calls"
    (no process: noproc). `resolve` gives a target's pid or None.
    """
    pa, pb = resolve(a), resolve(b)
    if is_collector(pa):
        return pa, b
    if is_collector(pb):
        return pb, a
    if pb is None and pa is not None:
        return b, a
    return a, b
