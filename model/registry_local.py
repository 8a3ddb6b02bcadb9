"""Local names: `register/2`, `unregister/1`, `whereis/1`, `registered/0` (erts BIFs).

Implements: REG-LOCAL-1, REG-LOCAL-2, REG-LOCAL-3, REG-LOCAL-4, REG-LOCAL-5,
REG-LOCAL-6, REG-LOCAL-7, REG-LOCAL-8, PROC-4

Invariants:
- every name maps to a live process, and no pid holds two names;
- a name is released exactly when its holder dies (REG-LOCAL-7), not when
  an exit signal is sent to it (REG-LOCAL-8).

Each function returns `(world, result)`, where a result of
`("error", Atom("badarg"))` means the BIF raised badarg.

>>> from regspec.model.world import new_world, DRIVER
>>> from regspec.terms import Atom
>>> w, ok = register(new_world(), Atom("shell"), DRIVER)
>>> ok, whereis(w, Atom("shell"))
(true, P0)
>>> register(w, Atom("other"), DRIVER)[1]
('error', badarg)
"""

from __future__ import annotations

from regspec.terms import Atom, ErlList, Pid

from .world import World, replace_world

__all__ = ["register", "unregister", "whereis", "registered", "release_name"]

BADARG = ("error", Atom("badarg"))
UNDEFINED = Atom("undefined")


def register(world: World, name: object, pid: object) -> tuple[World, object]:
    """`register(Name, Pid)`: true, or badarg for every case OTP refuses."""
    if not isinstance(name, Atom) or name == UNDEFINED:
        return world, BADARG  # REG-LOCAL-4: `undefined` can never be a name
    if name in world.names:
        return world, BADARG  # REG-LOCAL-1: the name is taken
    if not world.is_alive(pid):
        return world, BADARG  # REG-LOCAL-3: a dead process can never get a name
    if world.name_of(pid) is not None:
        return world, BADARG  # REG-LOCAL-2: one name per process, even the same name again
    return replace_world(world, names=world.names.set(name, pid)), Atom("true")


def unregister(world: World, name: object) -> tuple[World, object]:
    """`unregister(Name)`: any process may free any name; a free name is badarg (REG-LOCAL-5)."""
    if not isinstance(name, Atom) or name not in world.names:
        return world, BADARG
    return replace_world(world, names=world.names.delete(name)), Atom("true")


def whereis(world: World, name: object) -> object:
    """`whereis(Name)`: the holder's pid or `undefined` (REG-LOCAL-6).

    The holder may already have been sent a kill it has not handled yet: the
    name stays until it dies (REG-LOCAL-8).
    """
    return world.names.get(name, UNDEFINED)


def registered(world: World) -> ErlList:
    """`registered()`, sorted by name so the output does not depend on table order."""
    return ErlList(tuple(sorted(world.names, key=lambda a: a.name)))


def release_name(world: World, pid: Pid) -> World:
    """Free the name of a process that is dying (REG-LOCAL-7)."""
    name = world.name_of(pid)
    if name is None:
        return world
    return replace_world(world, names=world.names.delete(name))
