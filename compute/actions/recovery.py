"""Recovering an instance: rescue, rebuild, a crash dump, and the admin's reset of its state."""

from __future__ import annotations

from compute.actions.spec import ActionSpec, HostCheck, Result, Step, allowed
from compute.models.tenancy import Role
from compute.states import TaskState, VmState

T = TaskState
V = VmState

GROUP = "Recovery"

RESCUE = ActionSpec(
    group=GROUP,
    key="rescue",
    name="rescue",
    api_name="rescue",
    policy="os_compute_api:os-rescue",
    label="Rescue",
    summary="Boot the instance from a rescue image to repair it.",
    vm_states=allowed(V.ACTIVE, V.STOPPED, V.ERROR),
    steps=(Step(T.RESCUING, "rescue"),),
    result=V.RESCUED,
    params=("rescue_image_ref",),
    error_on_failure=True,
    manager_function="rescue_instance",
    prepare="rescue",
)

UNRESCUE = ActionSpec(
    group=GROUP,
    key="unrescue",
    name="unrescue",
    api_name="unrescue",
    policy="os_compute_api:os-unrescue",
    label="Unrescue",
    summary="Boot the instance from its own disk again.",
    vm_states=allowed(V.RESCUED),
    steps=(Step(T.UNRESCUING, "unrescue"),),
    result=V.ACTIVE,
    error_on_failure=True,
    manager_function="unrescue_instance",
)

REBUILD = ActionSpec(
    group=GROUP,
    key="rebuild",
    name="rebuild",
    api_name="rebuild",
    policy="os_compute_api:servers:rebuild",
    label="Rebuild",
    summary="Reinstall the instance from an image, keeping its identity.",
    vm_states=allowed(V.ACTIVE, V.STOPPED, V.ERROR),
    steps=(
        Step(T.REBUILDING, progress=0),
        Step(T.REBUILD_BLOCK_DEVICE_MAPPING, progress=30),
        Step(T.REBUILD_SPAWNING, "rebuild", progress=60),
    ),
    result=Result.ACTIVE_OR_STOPPED,
    params=("imageRef",),
    destructive=True,
    error_on_failure=True,
    manager_function="rebuild_instance",
    prepare="rebuild",
    finish="rebuild",
)

TRIGGER_CRASH_DUMP = ActionSpec(
    group=GROUP,
    key="trigger_crash_dump",
    name="trigger_crash_dump",
    api_name="trigger_crash_dump",
    policy="os_compute_api:servers:trigger_crash_dump",
    label="Trigger crash dump",
    summary="Send an NMI so the guest writes a crash dump.",
    vm_states=allowed(V.ACTIVE, V.PAUSED, V.RESCUED, V.RESIZED, V.ERROR),
    host_check=HostCheck.SET,
    host_checked_first=True,
    steps=(Step(None, "trigger_crash_dump"),),
    result=Result.UNCHANGED,
    destructive=True,
    manager_function="trigger_crash_dump",
)

RESET_STATE = ActionSpec(
    group=GROUP,
    key="os-resetState",
    name="resetState",
    api_name="os-resetState",
    policy="os_compute_api:os-admin-actions:reset_state",
    label="Reset state",
    summary="Admin: force vm_state to active or error and clear the task.",
    vm_states=None,
    task_states=None,
    check_lock=False,
    must_have_launched=False,
    role=Role.ADMIN,
    params=("state",),
    destructive=True,
    manager_function="reset_state",
    chosen_results=(V.ACTIVE, V.ERROR),
    complete="reset_state",
    prepare="reset_state",
    result=Result.CHOSEN,
)

#: The family's user actions, in the order the page shows their buttons.
SHOWN: tuple[ActionSpec, ...] = (RESCUE, UNRESCUE, REBUILD, TRIGGER_CRASH_DUMP, RESET_STATE)
