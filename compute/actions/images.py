"""Images of an instance: snapshots, backups, and shelving (a snapshot, then the host released)."""

from __future__ import annotations

from compute.actions.spec import ActionSpec, Result, Step, allowed
from compute.states import TaskState, VmState

T = TaskState
V = VmState

GROUP = "Images & shelving"

CREATE_IMAGE = ActionSpec(
    group=GROUP,
    key="createImage",
    name="createImage",
    api_name="createImage",
    policy="os_compute_api:servers:create_image",
    label="Create snapshot",
    summary="Save the instance's disk as a new image.",
    vm_states=allowed(V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED),
    check_lock=False,
    steps=(
        Step(T.IMAGE_SNAPSHOT_PENDING, progress=0),
        Step(T.IMAGE_SNAPSHOT, "snapshot", progress=25),
        Step(T.IMAGE_PENDING_UPLOAD, progress=50),
        Step(T.IMAGE_UPLOADING, "upload_image", progress=75),
    ),
    result=Result.UNCHANGED,
    params=("name",),
    manager_function="snapshot_instance",
    prepare="snapshot",
    finish="capture",
)

CREATE_BACKUP = ActionSpec(
    group=GROUP,
    key="createBackup",
    name="createBackup",
    api_name="createBackup",
    policy="os_compute_api:os-create-backup",
    label="Create backup",
    summary="Save the instance's disk as a rotated backup image.",
    vm_states=allowed(V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED),
    check_lock=False,
    steps=(Step(T.IMAGE_BACKUP, "snapshot", progress=0),),
    result=Result.UNCHANGED,
    params=("name", "backup_type", "rotation"),
    manager_function="backup_instance",
    prepare="snapshot",
    finish="backup",
)

SHELVE = ActionSpec(
    group=GROUP,
    key="shelve",
    name="shelve",
    api_name="shelve",
    policy="os_compute_api:os-shelve:shelve",
    label="Shelve",
    summary="Snapshot and power off the instance, then release its host.",
    vm_states=allowed(V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED),
    steps=(
        Step(T.SHELVING, "power_off", progress=0),
        Step(T.SHELVING_IMAGE_PENDING_UPLOAD, "snapshot", progress=30),
        Step(T.SHELVING_IMAGE_UPLOADING, "upload_image", progress=60),
    ),
    result=V.SHELVED,
    manager_function="shelve_instance",
    finish="shelve",
    offloads=True,
    snapshot_name="{name}-shelved",
)

SHELVE_OFFLOAD = ActionSpec(
    group=GROUP,
    key="shelveOffload",
    name="shelveOffload",
    api_name="shelveOffload",
    policy="os_compute_api:os-shelve:shelve_offload",
    label="Shelve offload",
    summary="Release the host of a shelved instance.",
    vm_states=allowed(V.SHELVED),
    steps=(Step(T.SHELVING_OFFLOADING, "destroy"),),
    result=V.SHELVED_OFFLOADED,
    manager_function="shelve_offload_instance",
)

UNSHELVE = ActionSpec(
    group=GROUP,
    key="unshelve",
    name="unshelve",
    api_name="unshelve",
    policy="os_compute_api:os-shelve:unshelve",
    label="Unshelve",
    summary="Bring a shelved instance back, scheduling it again if it was offloaded.",
    vm_states=allowed(V.SHELVED, V.SHELVED_OFFLOADED),
    steps=(Step(T.UNSHELVING, "unshelve", progress=0),),
    result=V.ACTIVE,
    error_on_failure=True,
    manager_function="unshelve_instance",
    prepare="unshelve",
    finish="unshelve",
)

#: The family's user actions, in the order the page shows their buttons.
SHOWN: tuple[ActionSpec, ...] = (CREATE_IMAGE, CREATE_BACKUP, SHELVE, SHELVE_OFFLOAD, UNSHELVE)
