"""The via backends, registered in one place: one `Backend` record per backend.

A via backend is what a `{"via": [backend, term]}` name goes through, the
`Module` of `{via, Module, Term}`. It runs on three targets, so it has
three legs, one module each:

- the model leg (`model`): an object whose `register_name`,
  `unregister_name`, `whereis_name` and `send` are generators of the
  model's effects (`regspec.model.code`), as `regspec.model.registry_via`
  writes the built-in ones;
- the impl leg (`impl`): an object with the same four functions as plain
  code taking the calling process's `Context` first
  (`regspec.impl.registry_via`);
- the beam leg (`beam`): an Erlang (`.erl`) or Elixir (`.ex`) source file
  whose module (`module`, by default the backend's name) exports the four
  functions of OTP's via protocol.

A leg is given as the object itself or as a `"package.module:attr"` string,
imported only when a target first needs it, so this registry (shared by
the model and the runtime) imports neither. docs/backends.md says what each
leg must provide, with a complete example under `examples/my_backend/`.

Everything that needs to know the backends reads this registry: the
validator (`regspec.scenario`), the random scenarios (`regspec.generate`),
the state machines of the tests, the model and the runtime (their legs, and
the registry servers they start before step 0), and the beam target (which
sources it compiles, and the table it hands its driver).

>>> names()
('map_registry', 'map_registry_nomonitor', 'unique_registry')
>>> get("unique_registry").self_register, get("map_registry").server_type
(True, 'worker')
>>> get("no_such")
Traceback (most recent call last):
  ...
regspec.common.backends.UnknownBackend: no via backend 'no_such' is registered (known: map_registry, map_registry_nomonitor, unique_registry)
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import re
from pathlib import Path
from typing import Iterator

import attrs

from regspec.terms import Pid

__all__ = ["Backend", "BackendError", "UnknownBackend", "BUILTIN", "REDIS_REGISTRY", "ENTRY_POINT_GROUP", "register",
           "unregister", "registered", "substituted", "names", "all_backends", "get", "model_leg", "impl_leg",
           "server_pid", "load",
           "load_entry_points", "resolve", "VIA_FUNCTIONS", "SERVER_FUNCTIONS", "SELF_REGISTER_FUNCTIONS"]

ENTRY_POINT_GROUP = "regspec.backends"
_NAME = re.compile(r"^[a-z][A-Za-z0-9_]*$")   # an Erlang atom that needs no quotes
_BEAM_DIR = Path(__file__).resolve().parent.parent / "beam"


class BackendError(ValueError):
    """A backend record, leg or `module:attr` reference that cannot be used; the message is one line."""


class UnknownBackend(BackendError, KeyError):
    """No backend of that name is registered."""

    def __str__(self) -> str:
        return self.args[0]


def _check_name(instance, attribute, value) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise BackendError(f"a backend's name is an atom written plainly (a-z, then letters, digits, _), "
                           f"got {value!r}")


def _check_type(instance, attribute, value) -> None:
    if value not in ("worker", "supervisor"):
        raise BackendError(f"server_type is 'worker' or 'supervisor', got {value!r}")


def _check_window(instance, attribute, value) -> None:
    if value not in (None, "none", "down", "lease"):
        raise BackendError(f"dead_holder is 'none', 'down' or 'lease' (or None), got {value!r}")


def _path(value) -> str | None:
    return None if value is None else str(value)


@attrs.frozen
class Backend:
    """One via backend: its name, its three legs and the traits the validator and generator read.

    - `name`: the backend's name in scenarios (`{"via": [name, term]}`,
      `"backend": name`), and the atom a pre-started server prints as.
    - `model`, `impl`: the legs for the two Python targets, objects or
      `"module:attr"` strings; None: the target cannot run the backend.
    - `beam`: the path of the beam leg's `.erl` or `.ex` source, None: the
      beam target refuses the backend; `module`: the module it defines
      (default: `name`).
    - `server`: the backend keeps its names in a registry server. One is
      started before step 0 (it gets no number and prints as `name`); a
      `registry_server` step starts a new one that serves the backend from
      then on (VIA-6), and `registry_keys` asks the current one. The legs
      then also provide the server functions (docs/backends.md).
    - `server_type`: the child type of a supervised `registry_server` of this
      backend (`"supervisor"` for Elixir's Registry, else `"worker"`).
    - `self_register`: only the calling process can take a name for itself
      (Elixir's Registry): a `register` or `unregister` step whose target is
      a collector asks the collector to do it.
    - `dead_holder`: how long a dead holder may still be returned, the class
      the conformance kit checks the backend in (`regspec.conformance`,
      BACKEND-5): `"none"` (liveness checked on lookup), `"down"` (until the
      registry handles the holder's DOWN), `"lease"` (until a lease
      expires); None: not said (`none` for a self-registering backend, else
      `down`).
    """

    name: str = attrs.field(validator=_check_name)
    model: object = None
    impl: object = None
    beam: str | None = attrs.field(default=None, converter=_path)
    module: str | None = None
    server: bool = False
    server_type: str = attrs.field(default="worker", validator=_check_type)
    self_register: bool = False
    dead_holder: str | None = attrs.field(default=None, validator=_check_window)
    doc: str = attrs.field(default="", eq=False)

    @property
    def beam_module(self) -> str:
        """The module the beam leg defines: the atom in `{via, Module, Term}` on the beam."""
        return self.module or self.name


# -- the built-in backends (docs/scenario-format.md, section 6) --------------------------

BUILTIN = (
    Backend("map_registry", model="regspec.model.registry_via:MAP_REGISTRY",
            impl="regspec.impl.registry_via:MAP_REGISTRY", beam=_BEAM_DIR / "map_registry.erl", server=True,
            dead_holder="down", doc="the article's Chat.Registry: a gen_server holding a map, monitoring what it registers"),
    Backend("map_registry_nomonitor", model="regspec.model.registry_via:MAP_REGISTRY_NOMONITOR",
            impl="regspec.impl.registry_via:MAP_REGISTRY_NOMONITOR",
            beam=_BEAM_DIR / "map_registry_nomonitor.erl", server=True,
            dead_holder="down", doc="the same server without monitors: a dead pid keeps its names"),
    Backend("unique_registry", model="regspec.model.registry_via:UNIQUE_REGISTRY",
            impl="regspec.impl.registry_via:UNIQUE_REGISTRY", beam=_BEAM_DIR / "unique_registry.erl", server=True,
            server_type="supervisor", self_register=True,
            dead_holder="none", doc="Elixir's Registry with unique keys"),
)

# Names shared by runtimes through a Redis server (VIA-9, VIA-10; docs/backends.md, "The Redis
# backend"). Not built in: every run would start its server and connect to Redis. Register it for a
# run with `regspec run FILE --on impl --backend regspec.common.backends:REDIS_REGISTRY`, or
# `backends.register(REDIS_REGISTRY)`; the server's URL is REGSPEC_REDIS_URL. The model runs the
# reference of its class (a map registry with monitors); there is no beam leg.
REDIS_REGISTRY = Backend(
    "redis_registry", model="regspec.model.registry_via:REDIS_REGISTRY", impl="regspec.impl.registry_redis:LEG",
    server=True, dead_holder="lease",
    doc="names shared by runtimes through Redis: SET NX with a fencing token, a lease renewed by a heartbeat; "
        "dead-holder window: the DOWN inside a runtime, the lease when a whole runtime vanishes")

# The pids of the built-in servers from before step 0 (the unique Registry's partition is -4 and
# the global name server -5, regspec.common.records); a user backend's server gets one below -100.
_BUILTIN_PIDS = {"map_registry": -1, "map_registry_nomonitor": -2, "unique_registry": -3}

# What each leg must provide (docs/backends.md): the via protocol, and more for some traits.
VIA_FUNCTIONS = ("register_name", "unregister_name", "whereis_name", "send")
SERVER_FUNCTIONS = {"model": ("boot", "start_server", "keys"), "impl": ("prestart", "start_server", "keys")}
SELF_REGISTER_FUNCTIONS = {"model": ("register_self", "unregister_self"), "impl": ()}

_REGISTRY: dict[str, Backend] = {b.name: b for b in BUILTIN}
_LEGS: dict[tuple[str, str], tuple[Backend, object]] = {}   # (name, "model"|"impl") -> (record, resolved leg)


def register(backend: Backend) -> Backend:
    """Register `backend` (again: a no-op when the record is the same). Returns it.

    A different record under a name already registered is refused: unregister it first.
    """
    if not isinstance(backend, Backend):
        raise BackendError(f"not a regspec.common.backends.Backend record: {backend!r}")
    old = _REGISTRY.get(backend.name)
    if old is not None and old != backend:
        raise BackendError(f"a different via backend {backend.name!r} is registered already")
    _REGISTRY[backend.name] = backend
    return backend


def unregister(name: str) -> None:
    """Forget a backend registered with `register` (the built-in ones stay)."""
    if name in _BUILTIN_PIDS:
        raise BackendError(f"the built-in backend {name!r} cannot be unregistered")
    _REGISTRY.pop(name, None)


@contextlib.contextmanager
def registered(*records: Backend) -> Iterator[tuple[Backend, ...]]:
    """`with registered(B): ...` registers the backends for the block only (those not registered before)."""
    added = [b for b in records if b.name not in _REGISTRY]
    for b in records:
        register(b)
    try:
        yield records
    finally:
        for b in added:
            unregister(b.name)


@contextlib.contextmanager
def substituted(record: Backend) -> Iterator[Backend]:
    """`with substituted(B): ...` puts `B` in place of the backend of its name for the block (a built-in
    one too), keeping its place in the registry (so its `server_pid`), then puts the old record back.

    The conformance kit (`regspec.conformance`) runs one scenario under two records of one name: the
    subject's, and a reference backend's model leg.
    """
    if not isinstance(record, Backend):
        raise BackendError(f"not a regspec.common.backends.Backend record: {record!r}")
    old = _REGISTRY.get(record.name)
    _REGISTRY[record.name] = record
    try:
        yield record
    finally:
        if old is None:
            _REGISTRY.pop(record.name, None)
        else:
            _REGISTRY[record.name] = old


def names() -> tuple[str, ...]:
    """The registered backends' names, the built-in ones first, then in order of registration."""
    return tuple(_REGISTRY)


def all_backends() -> tuple[Backend, ...]:
    return tuple(_REGISTRY.values())


def get(name: str) -> Backend:
    """The record of the backend `name`; raises `UnknownBackend`."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownBackend(f"no via backend {name!r} is registered (known: {', '.join(_REGISTRY)})") from None


def server_pid(name: str) -> Pid:
    """The pid of the backend's server from before step 0, the same on the model and the runtime."""
    if name in _BUILTIN_PIDS:
        return Pid(_BUILTIN_PIDS[name])
    return Pid(-100 - list(_REGISTRY).index(name))


def _leg(name: str, target: str) -> object:
    backend = get(name)
    cached = _LEGS.get((name, target))
    if cached is not None and cached[0] is backend:
        return cached[1]
    ref = getattr(backend, target)
    if ref is None:
        raise BackendError(f"via backend {name!r} has no {target} leg")
    leg = resolve(ref) if isinstance(ref, str) else ref
    wanted = VIA_FUNCTIONS + (SERVER_FUNCTIONS[target] if backend.server else ()) \
        + (SELF_REGISTER_FUNCTIONS[target] if backend.self_register else ())
    missing = [f for f in wanted if not callable(getattr(leg, f, None))]
    if missing:
        raise BackendError(f"the {target} leg of via backend {name!r} ({ref!r}) lacks {', '.join(missing)}")
    _LEGS[(name, target)] = (backend, leg)
    return leg


def model_leg(name: str) -> object:
    """The model's leg of backend `name`, imported on first use (only the model asks for it)."""
    return _leg(name, "model")


def impl_leg(name: str) -> object:
    """The runtime's leg of backend `name`, imported on first use (only the runtime asks for it)."""
    return _leg(name, "impl")


def resolve(ref: str) -> object:
    """The object a `"package.module:attr"` reference names (attr may be dotted)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise BackendError(f"{ref!r}: expected module:attr")
    try:
        obj = importlib.import_module(module_name)
    except Exception as e:   # an ImportError, or whatever the module raised while it ran
        raise BackendError(f"{ref!r}: cannot import {module_name}: {type(e).__name__}: {e}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise BackendError(f"{ref!r}: module {module_name} has no attribute {attr}") from None
    return obj


def load(ref: str) -> Backend:
    """Import the `Backend` record `"package.module:attr"` names and register it (the CLI's `--backend`)."""
    backend = resolve(ref)
    if not isinstance(backend, Backend):
        raise BackendError(f"{ref!r} is a {type(backend).__name__}, not a backend record "
                           f"(regspec.common.backends.Backend)")
    return register(backend)


def load_entry_points(group: str = ENTRY_POINT_GROUP) -> tuple[Backend, ...]:
    """Register the backend records installed packages declare in the entry-point group `regspec.backends`.

    In a package's pyproject.toml:

        [project.entry-points."regspec.backends"]
        my_registry = "my_backend:BACKEND"
    """
    loaded = []
    for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
        try:
            backend = ep.load()
        except Exception as e:
            raise BackendError(f"entry point {ep.name} = {ep.value!r} ({group}): cannot load it: "
                               f"{type(e).__name__}: {e}") from None
        if not isinstance(backend, Backend):
            raise BackendError(f"entry point {ep.name} = {ep.value!r} ({group}) is a {type(backend).__name__}, "
                               f"not a backend record")
        loaded.append(register(backend))
    return tuple(loaded)
