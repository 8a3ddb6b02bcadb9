"""The shapes of OTP's messages, and the receive patterns that match them.

Shared because both implementations speak the same protocol to each other's
copies of the same processes: a gen_server call is `{'$gen_call', {From,
[alias | Mref]}, Request}` in both, and the patterns a selective receive
uses (a DOWN, an EXIT, a reply, proc_lib's init ack) are pure predicates on
terms. Each pattern's `matches(term)` is what a `receive` clause tests.

>>> from regspec.terms import Pid, Ref
>>> msg = call_message(Pid(0), Ref(1), Atom("get_messages"))
>>> msg[0], msg[1][1] == reply_tag(Ref(1)), TagOf(reply_tag(Ref(1))).matches((msg[1][1], Atom("ok")))
($gen_call, True, True)
>>> ReplyOrDown(reply_tag(Ref(1)), Ref(1)).matches((Atom("DOWN"), Ref(1), Atom("process"), Pid(2), Atom("normal")))
True
"""

from __future__ import annotations

import attrs

from regspec.terms import Atom, ErlList, GlobalName, LocalName, Pid, Ref

__all__ = ["GEN_CALL", "GEN_CAST", "ALIAS", "ACK", "DOWN", "EXIT", "call_message", "reply_tag", "server_ref",
           "DownOf", "ExitFrom", "AnyDownOf", "TagOf", "ReplyOrDown", "Ack"]

GEN_CALL = Atom("$gen_call")
GEN_CAST = Atom("$gen_cast")
ALIAS = Atom("alias")
ACK = Atom("ack")
DOWN = Atom("DOWN")
EXIT = Atom("EXIT")


# -- gen_server's call protocol ----------------------------------------------------

_ALIAS_HEAD = (ALIAS,)   # the items of `[alias | Mref]` (made once: a call is the runtime's hottest path)


def reply_tag(mref: Ref, timeout: object = 5000) -> object:
    """The tag of an OTP 25 call: `[alias | Mref]`, replies going to the monitor's alias (GS-4); a call
    with timeout infinity (`None`) to a local process needs no alias and is tagged with `Mref` alone
    (gen.erl's `do_call/4`)."""
    return mref if timeout is None else ErlList(_ALIAS_HEAD, mref)


def call_message(caller: Pid, mref: Ref, request: object, timeout: object = 5000) -> tuple:
    """`{'$gen_call', {From, Tag}, Request}`, `Tag` as `reply_tag` gives it."""
    return (GEN_CALL, (caller, reply_tag(mref, timeout)), request)


def server_ref(ref: object) -> object:
    """A server as gen_server:call names it: the local atom, `{global, T}`, or the pid."""
    if isinstance(ref, LocalName):
        return ref.name
    if isinstance(ref, GlobalName):
        return (Atom("global"), ref.name)
    return ref


# -- receive patterns ----------------------------------------------------------------
# A receive runs its pattern on every message it looks at: each `matches` is a few comparisons
# and allocates nothing (`x is y or x == y`: the tag or ref in a reply is mostly the very object
# the receiver made, and equality of records is Python code).

@attrs.frozen
class DownOf:
    """`{'DOWN', Ref, process, _, _}`, the monitor `ref` firing."""

    ref: Ref

    def matches(self, term: object) -> bool:
        return isinstance(term, tuple) and len(term) == 5 and term[0] == DOWN and \
            (term[1] is self.ref or term[1] == self.ref)


@attrs.frozen
class ExitFrom:
    """`{'EXIT', Pid, _}`."""

    pid: Pid

    def matches(self, term: object) -> bool:
        return isinstance(term, tuple) and len(term) == 3 and term[0] == EXIT and term[1] == self.pid


@attrs.frozen
class AnyDownOf:
    """A DOWN of any of the monitors `refs` (a supervisor waiting for several children)."""

    refs: tuple

    def matches(self, term: object) -> bool:
        return isinstance(term, tuple) and len(term) == 5 and term[0] == DOWN and term[1] in self.refs


@attrs.frozen
class TagOf:
    """`{Tag, Reply}`: the answer to a request tagged `tag`."""

    tag: object

    def matches(self, term: object) -> bool:
        return isinstance(term, tuple) and len(term) == 2 and (term[0] is self.tag or term[0] == self.tag)


@attrs.frozen
class ReplyOrDown:
    """`{Tag, Reply}`, or the DOWN of `mref`: a call's reply or the callee's death, whichever comes first."""

    tag: object
    mref: Ref

    def matches(self, term: object) -> bool:
        """`TagOf(tag).matches(term) or DownOf(mref).matches(term)`, in one go."""
        if not isinstance(term, tuple):
            return False
        if len(term) == 2:
            return term[0] is self.tag or term[0] == self.tag
        return len(term) == 5 and term[0] == DOWN and (term[1] is self.mref or term[1] == self.mref)


@attrs.frozen
class Ack:
    """`{ack, Pid, Return}` from `pid`, or its `{'EXIT', Pid, Reason}` (proc_lib:sync_start_link)."""

    pid: Pid

    def matches(self, term: object) -> bool:
        if isinstance(term, tuple) and len(term) == 3 and term[0] == ACK and term[1] == self.pid:
            return True
        return isinstance(term, tuple) and len(term) == 3 and term[0] == EXIT and term[1] == self.pid
