"""The action table: one declarative row per action a user or admin can take.

Each ``ActionSpec`` (``compute.actions.spec``) says everything Nova's decorators and compute
manager say about an action, and what the edges need to offer it. The rows live by family, one
module each — power, moving, images, recovery, access, existence — and a family is the group of
buttons the page shows them in. Everything else reads this table: the guard and the "what may I
do now, and why not" answer (``compute.preconditions``) that the services, the API and the pages
use, the services' preparers and completions, the agent's executor, the API's request bodies,
the pages' forms, the state-machine diagram and the docs.

Changing what an action needs or does means changing its row, nowhere else.
"""

from __future__ import annotations

from compute.actions import access, existence, images, moving, power, recovery
from compute.actions.existence import CREATE, SOFT_DELETE, TERMINATE
from compute.actions.power import FORCE_STOP
from compute.actions.spec import (
    NO_TASK,
    ActionSpec,
    HostCheck,
    Moves,
    Result,
    Step,
    Variant,
    allowed,
)

__all__ = [
    "ACTIONS",
    "BY_KEY",
    "CREATE",
    "FORCE_STOP",
    "GROUPS",
    "INTERNAL_ACTIONS",
    "MIGRATION_CONTROLS",
    "NO_TASK",
    "SOFT_DELETE",
    "TERMINATE",
    "ActionSpec",
    "HostCheck",
    "Moves",
    "Result",
    "Step",
    "Variant",
    "allowed",
    "get",
]

#: The actions offered on an instance, in the table's order (the API's and the docs').
ACTIONS: tuple[ActionSpec, ...] = (
    power.START,
    power.STOP,
    power.REBOOT,
    power.REBOOT_HARD,
    power.PAUSE,
    power.UNPAUSE,
    power.SUSPEND,
    power.RESUME,
    recovery.RESCUE,
    recovery.UNRESCUE,
    moving.RESIZE,
    moving.MIGRATE,
    moving.CONFIRM_RESIZE,
    moving.REVERT_RESIZE,
    moving.LIVE_MIGRATE,
    moving.EVACUATE,
    recovery.REBUILD,
    images.CREATE_IMAGE,
    images.CREATE_BACKUP,
    access.CHANGE_PASSWORD,
    images.SHELVE,
    images.SHELVE_OFFLOAD,
    images.UNSHELVE,
    existence.DELETE,
    existence.FORCE_DELETE,
    existence.RESTORE,
    access.LOCK,
    access.UNLOCK,
    recovery.TRIGGER_CRASH_DUMP,
    recovery.RESET_STATE,
)

#: The pages' groups of buttons — the families — in the order they are shown, each with its
#: actions in the order of its buttons.
GROUPS: dict[str, tuple[ActionSpec, ...]] = {
    family.GROUP: family.SHOWN for family in (power, moving, images, recovery, access, existence)
}

#: What an admin may do to a live migration in progress (no buttons: served by the migrations
#: API and the drain's cancel; ``compute.services.migrations``).
MIGRATION_CONTROLS: tuple[ActionSpec, ...] = (moving.FORCE_COMPLETE, moving.ABORT)

#: Internal actions only the system context (the sync, the watchdog) may start by key.
INTERNAL_ACTIONS: tuple[ActionSpec, ...] = (FORCE_STOP, TERMINATE)

BY_KEY: dict[str, ActionSpec] = {
    a.key: a for a in (*ACTIONS, CREATE, SOFT_DELETE, *INTERNAL_ACTIONS)
}


def get(key: str) -> ActionSpec:
    return BY_KEY[key]
