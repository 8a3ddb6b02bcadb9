"""my_backend: a via backend of one's own, added to regspec without touching its package.

`my_registry` is a registry server holding a map from names to pids where
the last to register wins: `register_name` always answers `yes`, and a
name taken again moves to the newest registrant. It monitors nothing, and
a lookup checks that the holder is alive, so a dead holder's names are
free at once. It runs on the three targets, one leg each:

- `model_leg.py`: the model's leg (generators of `regspec.model` effects);
- `impl_leg.py`: the threaded runtime's leg (code run by the caller's thread);
- `my_registry.erl`: the beam leg (the via module OTP calls).

Register it with `regspec ... --backend my_backend:BACKEND` (from this
folder's parent), `regspec.common.backends.register(BACKEND)`, or the
`regspec.backends` entry point of a package that ships it.
"""

from pathlib import Path

from regspec.common.backends import Backend

BACKEND = Backend(
    "my_registry",
    model="my_backend.model_leg:LEG",
    impl="my_backend.impl_leg:LEG",
    beam=Path(__file__).resolve().with_name("my_registry.erl"),
    server=True,
    doc="a map registry where the last to register a name wins",
)
