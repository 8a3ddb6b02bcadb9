"""Which scenario steps this release covers, and the local targets of the steps it does.

Shared because the model and the runtime must refuse the same steps the
same way (SCN-7): both translate a decoded step into their own command,
and both use these to reject what neither covers.
"""

from __future__ import annotations

from regspec.terms import GlobalName, LocalName, ViaName

__all__ = ["UNSUPPORTED_OPS", "Unsupported", "local_target", "local_name"]

# Operations of the contract neither implementation covers in this release (SCN-7): one node only.
UNSUPPORTED_OPS = frozenset({"partition", "heal"})


class Unsupported(Exception):
    """A well-formed step this release does not cover (SCN-7)."""


def local_target(target: object) -> object:
    """A process or local name as a driver's plain commands take it; other names are unsupported."""
    if isinstance(target, (GlobalName, ViaName)):
        raise Unsupported
    return target


def local_name(name: object) -> object:
    """The atom of a local name; any other name is unsupported."""
    if not isinstance(name, LocalName):
        raise Unsupported
    return name.name
