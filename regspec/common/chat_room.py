"""The article's Chat.Server callbacks: pure functions from a request and a state to a tagged result.

Shared because they are the behaviour's own code, not OTP's: each
implementation runs them in its own gen_server loop (`gen_server.handle` in
the model, `gen_server.serve` in the runtime), which is what the tests
compare.

>>> ChatRoom.handle_cast((Atom("add_message"), "hi"), ())
('noreply', ('hi',))
>>> ChatRoom.handle_call(Atom("bad"), ("hi",))
('stop', (bad_call, bad), ('hi',))
"""

from __future__ import annotations

from regspec.terms import Atom, ErlList

__all__ = ["ChatRoom"]


class ChatRoom:
    """Callbacks of the article's Chat.Server; state is a tuple of messages, newest first."""

    @staticmethod
    def handle_call(request, state):
        if request == Atom("get_messages"):
            return ("reply", ErlList(state), state)
        return ("stop", (Atom("bad_call"), request), state)

    @staticmethod
    def handle_cast(msg, state):
        if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == Atom("add_message"):
            return ("noreply", (msg[1],) + state)
        return ("stop", (Atom("bad_cast"), msg), state)

    @staticmethod
    def handle_info(msg, state):
        return ("noreply", state)
