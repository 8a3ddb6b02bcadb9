"""gen_server: the server loop (OTP `gen.erl`, `gen_server.erl`).

Implements: GS-2, GS-4, GS-5, GS-6, GS-7

`serve` is `gen_server:loop`, run by the server's own thread: it takes
every message in order and feeds it to the behaviour's callbacks, which
return a tagged result (`("reply", Reply, State)`, `("noreply", State)`,
`("stop", Reason, State)`). The client side of call, cast and stop is the
driver's (`driver.py`); the call and cast message shapes are
`regspec.common.protocol`.

Invariants:
- a server never unregisters its own name; the runtime frees a local name
  when the server dies (GS-2, REG-LOCAL-7);
- a callback that returns stop ends the process with that reason; a caller
  waiting on it gets the reason from its monitor (GS-5).
"""

from __future__ import annotations

# The call protocol is shared with the model: the same message shapes and reply tag.
from regspec.common.protocol import GEN_CALL, GEN_CAST
from regspec.common.records import SystemStop

from .process import Context

__all__ = ["serve"]


def serve(ctx: Context, callbacks, state: object) -> None:
    """`gen_server:loop`: never returns; the process ends through `ctx.exit` or a kill."""
    while True:
        term = ctx.receive()
        if isinstance(term, SystemStop):
            ctx.exit(term.reason)  # GS-7: the system message of gen_server:stop, in order with the rest
        if isinstance(term, tuple) and len(term) == 3 and term[0] == GEN_CALL \
                and isinstance(term[1], tuple) and len(term[1]) == 2:
            (caller, tag), request = term[1], term[2]
            result = callbacks.handle_call(request, state)
            if result[0] == "reply":
                _, value, state = result
                ctx.send(caller, (tag, value))
                continue
        elif isinstance(term, tuple) and len(term) == 2 and term[0] == GEN_CAST:
            result = callbacks.handle_cast(term[1], state)
        else:
            result = callbacks.handle_info(term, state)
        if result[0] == "noreply":
            state = result[1]
            continue
        # ("stop", Reason, State): terminate/2 would run here; then the process exits.
        ctx.exit(result[1])
