"""first_registry_broken: good_registry's backend with one bug, which `regspec conformance` finds.

Its `unregister_name` drops the name but keeps the monitor of its former
holder. When that process dies later, its DOWN drops the name again, from
whoever holds it by then: the next holder loses a name it never gave up
(BACKEND-3).

    cd examples/conformance
    regspec conformance broken_registry:BACKEND --examples 20 --seed 1
"""

from regspec.common.backends import Backend
from regspec.model.registry_via import MapBackend as ModelMap

from good_registry import FirstRegistry


def forget_but_keep_the_monitor(ctx, name, state):
    """unregister, wrong: the name goes, the monitor stays (its DOWN still names `name`)."""
    state.names.pop(name, None)


BACKEND = Backend(
    "first_registry_broken",
    model=ModelMap("first_registry_broken", monitor=True),
    impl=FirstRegistry("first_registry_broken", forget=forget_but_keep_the_monitor),
    server=True,
    dead_holder="down",
    doc="first_registry, whose unregister forgets to demonitor",
)
