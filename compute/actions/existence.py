"""An instance's beginning and end: its build, every kind of delete, and restore."""

from __future__ import annotations

from dataclasses import replace

from compute.actions.spec import ActionSpec, Step, allowed
from compute.states import TaskState, VmState

T = TaskState
V = VmState

GROUP = "Delete"

#: Not a user action: the build an instance goes through after ``POST /servers``.
CREATE = ActionSpec(
    key="create",
    name="create",
    api_name="create",
    policy="os_compute_api:servers:create",
    label="Create",
    summary="Schedule, network and spawn a new instance.",
    vm_states=allowed(V.BUILDING),
    must_have_launched=False,
    steps=(
        Step(T.SCHEDULING, progress=0),
        Step(T.NETWORKING, progress=25),
        Step(T.BLOCK_DEVICE_MAPPING, progress=50),
        Step(T.SPAWNING, "spawn", progress=75),
    ),
    result=V.ACTIVE,
    error_on_failure=True,
    manager_function="build_and_run_instance",
    finish="launch",
)

DELETE = ActionSpec(
    group=GROUP,
    key="delete",
    name="delete",
    api_name="delete",
    policy="os_compute_api:servers:delete",
    label="Delete",
    summary="Delete the instance (softly, if reclaim_instance_interval is set).",
    vm_states=None,
    task_states=None,
    must_have_launched=False,
    steps=(Step(T.DELETING, "destroy"),),
    result=V.DELETED,
    destructive=True,
    manager_function="terminate_instance",
    reclaiming="softDelete",
)

#: Nova's ``force_delete``: the same delete, under its own name and rule, never soft.
FORCE_DELETE = replace(
    DELETE,
    key="forceDelete",
    api_name="forceDelete",
    policy="os_compute_api:os-deferred-delete:force",
    label="Force delete",
    summary="Delete the instance at once, even a soft-deleted one.",
    reclaiming="",
)

RESTORE = ActionSpec(
    group=GROUP,
    key="restore",
    name="restore",
    api_name="restore",
    policy="os_compute_api:os-deferred-delete:restore",
    label="Restore",
    summary="Bring back a soft-deleted instance.",
    vm_states=allowed(V.SOFT_DELETED),
    locked_reads_invalid_state=True,
    steps=(Step(T.RESTORING, "power_on"),),
    result=V.ACTIVE,
    manager_function="restore_instance",
    finish="restore",
)

#: The soft delete that ``delete`` becomes when reclaim_instance_interval > 0.
SOFT_DELETE = ActionSpec(
    key="softDelete",
    name="delete",
    api_name="delete",
    policy="os_compute_api:servers:delete",
    label="Delete",
    summary="Power off and keep the instance restorable until it is reclaimed.",
    vm_states=None,
    task_states=None,
    steps=(Step(T.SOFT_DELETING, "power_off"),),
    result=V.SOFT_DELETED,
    destructive=True,
    manager_function="soft_delete_instance",
)

#: Not a user action: Nova's ``compute_api.delete``, always a hard delete. ``delete`` as the API
#: and the pages ask for it becomes a soft delete when reclaim_instance_interval is set (that is
#: the REST layer's choice in Nova); the sync's delete of a ``shutdown_terminate`` instance calls
#: the compute API directly, so it never does.
TERMINATE = replace(
    DELETE,
    key="terminate",
    label="Terminate",
    reclaiming="",
    summary="Delete the instance at once, whatever reclaim_instance_interval says.",
)

#: The family's user actions, in the order the page shows their buttons.
SHOWN: tuple[ActionSpec, ...] = (DELETE, FORCE_DELETE, RESTORE)
