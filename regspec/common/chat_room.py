"""The article's Chat.Server callbacks: pure functions from a request and a state to a tagged result.

Shared because they are the behaviour's own code, not OTP's: each
implementation runs them in its own gen_server loop (`gen_server.handle` in
the model, `gen_server.serve` in the runtime), which is what the tests
compare.

>>> ChatRoom.handle_cast((Atom("add_message"), "hi"), ())
('noreply', ('hi',))
>>> ChatRoom.handle_call(Atom("bad"), ("hi",))
('stop', (bad_call, bad), ('hi',))

A cast `{work, N}` (0 <= N <= MAX_WORK, SCN-5) leaves the state as it is: the
work is computing for a while without calling the runtime, which only the
runtime does (`regspec.impl.behaviours.chat_room`; the BEAM loops N times);
the model has no time, so it is a cast that changes nothing.

>>> ChatRoom.work((Atom("work"), 10)), ChatRoom.handle_cast((Atom("work"), 10), ("hi",))
(10, ('noreply', ('hi',)))
>>> ChatRoom.work((Atom("work"), -1)), ChatRoom.work((Atom("work"), True))
(None, None)
"""

from __future__ import annotations

from regspec.terms import Atom, ErlList

__all__ = ["ChatRoom", "MAX_WORK", "GET_MESSAGES", "ADD_MESSAGE"]

MAX_WORK = 1_000_000   # the largest N of a cast {work, N}: a bigger one is any other cast (bad_cast)
GET_MESSAGES = Atom("get_messages")
ADD_MESSAGE = Atom("add_message")
WORK = Atom("work")


class ChatRoom:
    """Callbacks of the article's Chat.Server; the state holds the messages, newest first.

    How the state holds them is `add` and `messages`: a tuple here, which the model keeps (its
    world is hashed and compared whole). The runtime's room keeps them in a persistent list, so
    that a cast costs the same however many messages the room holds (`regspec.impl.behaviours`);
    every answer is the same.
    """

    @classmethod
    def handle_call(cls, request, state):
        if request == GET_MESSAGES:
            return ("reply", ErlList(cls.messages(state)), state)
        return ("stop", (Atom("bad_call"), request), state)

    @classmethod
    def handle_cast(cls, msg, state):
        if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == ADD_MESSAGE:
            return ("noreply", cls.add(msg[1], state))
        if cls.work(msg) is not None:
            return ("noreply", state)
        return ("stop", (Atom("bad_cast"), msg), state)

    @staticmethod
    def add(message, state: tuple) -> tuple:
        """The state with `message` added as the newest."""
        return (message,) + state

    @staticmethod
    def messages(state: tuple) -> tuple:
        """The messages of `state`, newest first."""
        return state

    @staticmethod
    def work(msg) -> int | None:
        """N of a cast `{work, N}` with N an integer in 0..MAX_WORK, else None."""
        if isinstance(msg, tuple) and len(msg) == 2 and msg[0] == WORK:
            n = msg[1]
            if isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_WORK:
                return n
        return None

    @staticmethod
    def handle_info(msg, state):
        return ("noreply", state)
