"""The three state vocabularies of an instance, spelt exactly as Nova spells them.

- ``VmState`` (column ``vm_state``): the stable state the instance rests in between tasks.
- ``TaskState`` (column ``task_state``): what is happening to it now; NULL means nothing is.
- ``PowerState`` (column ``power_state``): the hypervisor's last-seen word on the guest, stored as
  Nova's integer. Only the hypervisor is authoritative; the column is a snapshot kept in step by
  the end of every task and by the power-state sync.

Source: ``nova/compute/vm_states.py``, ``task_states.py``, ``power_state.py``. Note the hyphens in ``soft-delete``,
``powering-off``, ``powering-on`` and ``soft-deleting``: they are Nova's and are kept.
"""

from __future__ import annotations

from django.db import models


class VmState(models.TextChoices):
    ACTIVE = "active", "Active"
    BUILDING = "building", "Building"
    PAUSED = "paused", "Paused"
    SUSPENDED = "suspended", "Suspended"
    STOPPED = "stopped", "Stopped"
    RESCUED = "rescued", "Rescued"
    RESIZED = "resized", "Resized"
    SOFT_DELETED = "soft-delete", "Soft deleted"
    DELETED = "deleted", "Deleted"
    ERROR = "error", "Error"
    SHELVED = "shelved", "Shelved"
    SHELVED_OFFLOADED = "shelved_offloaded", "Shelved offloaded"


class TaskState(models.TextChoices):
    # Build
    SCHEDULING = "scheduling", "Scheduling"
    BLOCK_DEVICE_MAPPING = "block_device_mapping", "Block device mapping"
    NETWORKING = "networking", "Networking"
    SPAWNING = "spawning", "Spawning"
    # Snapshot and backup
    IMAGE_SNAPSHOT = "image_snapshot", "Snapshotting"
    IMAGE_SNAPSHOT_PENDING = "image_snapshot_pending", "Image snapshot pending"
    IMAGE_PENDING_UPLOAD = "image_pending_upload", "Image pending upload"
    IMAGE_UPLOADING = "image_uploading", "Image uploading"
    IMAGE_BACKUP = "image_backup", "Image backup"
    # Password
    UPDATING_PASSWORD = "updating_password", "Updating password"
    # Resize and cold migration
    RESIZE_PREP = "resize_prep", "Preparing resize or migrate"
    RESIZE_MIGRATING = "resize_migrating", "Resizing or migrating"
    RESIZE_MIGRATED = "resize_migrated", "Resized or migrated"
    RESIZE_FINISH = "resize_finish", "Finishing resize or migrate"
    RESIZE_REVERTING = "resize_reverting", "Reverting resize or migrate"
    RESIZE_CONFIRMING = "resize_confirming", "Confirming resize or migrate"
    # Reboot
    REBOOTING = "rebooting", "Rebooting"
    REBOOT_PENDING = "reboot_pending", "Reboot pending"
    REBOOT_STARTED = "reboot_started", "Reboot started"
    REBOOTING_HARD = "rebooting_hard", "Hard rebooting"
    REBOOT_PENDING_HARD = "reboot_pending_hard", "Hard reboot pending"
    REBOOT_STARTED_HARD = "reboot_started_hard", "Hard reboot started"
    # Pause and suspend
    PAUSING = "pausing", "Pausing"
    UNPAUSING = "unpausing", "Resuming (unpausing)"
    SUSPENDING = "suspending", "Suspending"
    RESUMING = "resuming", "Resuming"
    # Power
    POWERING_OFF = "powering-off", "Powering off"
    POWERING_ON = "powering-on", "Powering on"
    # Rescue
    RESCUING = "rescuing", "Rescuing"
    UNRESCUING = "unrescuing", "Unrescuing"
    # Rebuild
    REBUILDING = "rebuilding", "Rebuilding"
    REBUILD_BLOCK_DEVICE_MAPPING = "rebuild_block_device_mapping", "Rebuild block device mapping"
    REBUILD_SPAWNING = "rebuild_spawning", "Rebuild spawning"
    # Live migration
    MIGRATING = "migrating", "Migrating"
    # Delete
    DELETING = "deleting", "Deleting"
    SOFT_DELETING = "soft-deleting", "Soft deleting"
    RESTORING = "restoring", "Restoring"
    # Shelve
    SHELVING = "shelving", "Shelving"
    SHELVING_IMAGE_PENDING_UPLOAD = (
        "shelving_image_pending_upload",
        "Shelving, image pending upload",
    )
    SHELVING_IMAGE_UPLOADING = "shelving_image_uploading", "Shelving, image uploading"
    SHELVING_OFFLOADING = "shelving_offloading", "Shelving offloading"
    UNSHELVING = "unshelving", "Unshelving"


class PowerState(models.IntegerChoices):
    """Nova's power_state integers; 2 and 5 are unused gaps in the enum and never stored."""

    NOSTATE = 0, "No state"
    RUNNING = 1, "Running"
    PAUSED = 3, "Paused"
    SHUTDOWN = 4, "Shutdown"
    CRASHED = 6, "Crashed"
    SUSPENDED = 7, "Suspended"


#: Nova's ``STATE_MAP``: the enum string the API and notifications use for each integer.
POWER_STATE_NAMES: dict[int, str] = {
    PowerState.NOSTATE: "pending",
    PowerState.RUNNING: "running",
    PowerState.PAUSED: "paused",
    PowerState.SHUTDOWN: "shutdown",
    PowerState.CRASHED: "crashed",
    PowerState.SUSPENDED: "suspended",
}

V = VmState
T = TaskState

# --- vm_state helper sets (nova/compute/vm_states.py) -------------------------------------
ALLOW_SOFT_REBOOT: frozenset[str] = frozenset({V.ACTIVE})
ALLOW_HARD_REBOOT: frozenset[str] = frozenset({V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED, V.ERROR})
ALLOW_TRIGGER_CRASH_DUMP: frozenset[str] = frozenset(
    {V.ACTIVE, V.PAUSED, V.RESCUED, V.RESIZED, V.ERROR}
)

# --- task_state groupings (nova/compute/task_states.py) -----------------------------------
#: Task states from which a *hard* reboot may start. ``None`` means no task. Note that
#: reboot_pending_hard and reboot_started_hard are deliberately absent, as in Nova.
ALLOW_REBOOT: frozenset[str | None] = frozenset(
    {
        None,
        T.REBOOTING,
        T.REBOOT_PENDING,
        T.REBOOT_STARTED,
        T.RESUMING,
        T.REBOOTING_HARD,
        T.UNPAUSING,
        T.PAUSING,
        T.SUSPENDING,
    }
)
SOFT_REBOOT_STATES: frozenset[str] = frozenset({T.REBOOTING, T.REBOOT_PENDING, T.REBOOT_STARTED})
HARD_REBOOT_STATES: frozenset[str] = frozenset(
    {T.REBOOTING_HARD, T.REBOOT_PENDING_HARD, T.REBOOT_STARTED_HARD}
)
RESIZING_STATES: frozenset[str] = frozenset(
    {T.RESIZE_PREP, T.RESIZE_MIGRATING, T.RESIZE_MIGRATED, T.RESIZE_FINISH}
)
REBUILD_STATES: frozenset[str] = frozenset(
    {T.REBUILDING, T.REBUILD_BLOCK_DEVICE_MAPPING, T.REBUILD_SPAWNING}
)

ALL_VM_STATES: tuple[str, ...] = tuple(VmState.values)
#: Every task_state including ``None`` (no task): the grid the precondition tests walk.
ALL_TASK_STATES: tuple[str | None, ...] = (None, *TaskState.values)
