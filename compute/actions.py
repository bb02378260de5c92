"""The action table: one declarative row per action a user or admin can take.

Each ``ActionSpec`` says everything Nova's decorators and compute manager say about an action
(reference §5): the vm_states and task_states it may start from, whether the lock and the host
are checked, the task_state set when it is accepted, the task_states the agent walks through
with the driver call made at each, and the vm_state it ends in. Everything else reads this
table: the guard and the "what may I do now, and why not" answer (``compute.preconditions``)
that the services, the API and the pages use, the agent's executor, the state-machine diagram
and the docs.

Changing what an action needs or does means changing its row here, nowhere else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from compute.states import ALLOW_HARD_REBOOT, ALLOW_REBOOT, TaskState, VmState

T = TaskState
V = VmState

#: "No task is running" — the default allowed task_states of Nova's check_instance_state.
NO_TASK: frozenset[str | None] = frozenset({None})


class HostCheck(enum.Enum):
    NONE = "none"
    #: instance.host must be set (Nova's check_instance_host).
    SET = "set"
    #: instance.host must be set and its compute service up (check_is_up=True).
    UP = "up"
    #: The compute the instance was resized or migrated away from must be up, checked after the
    #: states (confirmResize: Nova's ``_get_source_compute_service``).
    SOURCE_UP = "source_up"


class Result(enum.Enum):
    """How the resulting vm_state is found when it is not a plain state."""

    #: vm_state is left as it was (snapshot, password, live migration).
    UNCHANGED = "unchanged"
    #: vm_state saved in system_metadata["old_vm_state"] at acceptance, default active.
    PREVIOUS = "previous"
    #: active, unless the instance was stopped before the action: then powered off → stopped.
    ACTIVE_OR_STOPPED = "active_or_stopped"
    #: active, or stopped when the guest's power state is SHUTDOWN (confirmResize).
    BY_POWER = "by_power"


@dataclass(frozen=True)
class Step:
    """One task_state of the agent's walk and the driver call made while in it."""

    task_state: str | None
    driver_call: str | None = None
    #: ``progress`` reported when the step starts (long tasks only).
    progress: int | None = None


@dataclass(frozen=True)
class ActionSpec:
    key: str
    #: Nova's instance-action name, used in the action log (``reboot``, ``live-migration``).
    name: str
    #: The action as Nova's REST handlers name it in refusals (``reboot``, ``os-migrateLive``).
    api_name: str
    label: str
    summary: str
    #: Allowed vm_states; None accepts any.
    vm_states: frozenset[str] | None
    #: Allowed task_states (None in the set = no task); None accepts any.
    task_states: frozenset[str | None] | None = NO_TASK
    check_lock: bool = True
    host_check: HostCheck = HostCheck.NONE
    #: Nova's ``check_instance_host`` stands above ``check_instance_state`` (start, stop,
    #: trigger_crash_dump): a host-less instance is "not ready" whatever its vm_state.
    host_checked_first: bool = False
    must_have_launched: bool = True
    #: The REST handler lets ``InstanceIsLocked`` fall into its ``InstanceInvalidState`` branch
    #: (changePassword, restore), so a locked instance reads "… is in an invalid state for …".
    locked_reads_invalid_state: bool = False
    admin_only: bool = False
    #: Nova's policy rule for the action, named in a 403 ("Policy doesn't allow … to be
    #: performed.").
    policy: str = ""
    #: A second rule the caller needs when the instance's lock is the other party's (unlock's
    #: ``unlock_override``, admins by default; ``compute.policy.lock_is_foreign``).
    foreign_lock_policy: str = ""
    #: The task_state set when the action is accepted, followed by the agent's walk. The first
    #: step's task_state is the one the service sets; an empty walk runs without the agent.
    steps: tuple[Step, ...] = ()
    result: str | Result = Result.UNCHANGED
    #: Parameters the action takes (names as in Nova's request bodies).
    params: tuple[str, ...] = ()
    #: Asks the browser user to confirm first.
    destructive: bool = False
    #: Saves the vm_state it started from (system_metadata "old_vm_state"), for actions whose
    #: result depends on it. Off for the actions that read a state saved earlier.
    remembers_state: bool = True
    #: A driver failure leaves vm_state ERROR (build, rebuild, resize …) rather than as it was.
    error_on_failure: bool = False
    #: Nova's compute-manager function, named in the action's event (``compute_<function>``).
    manager_function: str = ""

    @property
    def start_task(self) -> str | None:
        return self.steps[0].task_state if self.steps else None

    @property
    def walk(self) -> tuple[str, ...]:
        """The task_states the instance passes through, in order."""
        return tuple(s.task_state for s in self.steps if s.task_state)


def _vm(*states: str) -> frozenset[str]:
    return frozenset(states)


_S = Step

#: Resize and cold migration walk the same task_states: Nova runs both as a resize.
_COLD_MIGRATION: tuple[Step, ...] = (
    _S(T.RESIZE_PREP, progress=0),
    _S(T.RESIZE_MIGRATING, "migrate_disk_and_power_off", progress=20),
    _S(T.RESIZE_MIGRATED, progress=60),
    _S(T.RESIZE_FINISH, "finish_migration", progress=80),
)

_DELETE = ActionSpec(
    key="delete",
    name="delete",
    api_name="delete",
    policy="os_compute_api:servers:delete",
    label="Delete",
    summary="Delete the instance (softly, if reclaim_instance_interval is set).",
    vm_states=None,
    task_states=None,
    must_have_launched=False,
    steps=(_S(T.DELETING, "destroy"),),
    result=V.DELETED,
    destructive=True,
    manager_function="terminate_instance",
)

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        key="start",
        name="start",
        api_name="start",
        policy="os_compute_api:servers:start",
        label="Start",
        summary="Power on a stopped instance.",
        vm_states=_vm(V.STOPPED),
        host_check=HostCheck.SET,
        host_checked_first=True,
        steps=(_S(T.POWERING_ON, "power_on"),),
        result=V.ACTIVE,
        manager_function="start_instance",
    ),
    ActionSpec(
        key="stop",
        name="stop",
        api_name="stop",
        policy="os_compute_api:servers:stop",
        label="Stop",
        summary="Shut the guest down cleanly, then power it off.",
        vm_states=_vm(V.ACTIVE, V.ERROR),
        host_check=HostCheck.SET,
        host_checked_first=True,
        steps=(_S(T.POWERING_OFF, "power_off"),),
        result=V.STOPPED,
        destructive=True,
        manager_function="stop_instance",
    ),
    ActionSpec(
        key="reboot",
        name="reboot",
        api_name="reboot",
        policy="os_compute_api:servers:reboot",
        label="Soft reboot",
        summary="Ask the guest OS to restart.",
        vm_states=_vm(V.ACTIVE),
        steps=(_S(T.REBOOTING), _S(T.REBOOT_PENDING), _S(T.REBOOT_STARTED, "reboot_soft")),
        result=V.ACTIVE,
        manager_function="reboot_instance",
    ),
    ActionSpec(
        key="reboot_hard",
        name="reboot",
        api_name="reboot",
        policy="os_compute_api:servers:reboot",
        label="Hard reboot",
        summary="Power-cycle the instance; also recovers a stuck reboot, pause or suspend.",
        vm_states=frozenset(ALLOW_HARD_REBOOT),
        task_states=ALLOW_REBOOT,
        steps=(
            _S(T.REBOOTING_HARD),
            _S(T.REBOOT_PENDING_HARD),
            _S(T.REBOOT_STARTED_HARD, "reboot_hard"),
        ),
        result=V.ACTIVE,
        destructive=True,
        manager_function="reboot_instance",
    ),
    ActionSpec(
        key="pause",
        name="pause",
        api_name="pause",
        policy="os_compute_api:os-pause-server:pause",
        label="Pause",
        summary="Freeze the guest in memory.",
        vm_states=_vm(V.ACTIVE),
        steps=(_S(T.PAUSING, "pause"),),
        result=V.PAUSED,
        manager_function="pause_instance",
    ),
    ActionSpec(
        key="unpause",
        name="unpause",
        api_name="unpause",
        policy="os_compute_api:os-pause-server:unpause",
        label="Unpause",
        summary="Let a paused guest run again.",
        vm_states=_vm(V.PAUSED),
        steps=(_S(T.UNPAUSING, "unpause"),),
        result=V.ACTIVE,
        manager_function="unpause_instance",
    ),
    ActionSpec(
        key="suspend",
        name="suspend",
        api_name="suspend",
        policy="os_compute_api:os-suspend-server:suspend",
        label="Suspend",
        summary="Save the guest's memory to disk and stop it.",
        vm_states=_vm(V.ACTIVE),
        steps=(_S(T.SUSPENDING, "suspend"),),
        result=V.SUSPENDED,
        manager_function="suspend_instance",
    ),
    ActionSpec(
        key="resume",
        name="resume",
        api_name="resume",
        policy="os_compute_api:os-suspend-server:resume",
        label="Resume",
        summary="Restore a suspended guest from its saved memory.",
        vm_states=_vm(V.SUSPENDED),
        steps=(_S(T.RESUMING, "resume"),),
        result=Result.PREVIOUS,
        remembers_state=False,
        manager_function="resume_instance",
    ),
    ActionSpec(
        key="rescue",
        name="rescue",
        api_name="rescue",
        policy="os_compute_api:os-rescue",
        label="Rescue",
        summary="Boot the instance from a rescue image to repair it.",
        vm_states=_vm(V.ACTIVE, V.STOPPED, V.ERROR),
        steps=(_S(T.RESCUING, "rescue"),),
        result=V.RESCUED,
        params=("rescue_image_ref",),
        error_on_failure=True,
        manager_function="rescue_instance",
    ),
    ActionSpec(
        key="unrescue",
        name="unrescue",
        api_name="unrescue",
        policy="os_compute_api:os-unrescue",
        label="Unrescue",
        summary="Boot the instance from its own disk again.",
        vm_states=_vm(V.RESCUED),
        steps=(_S(T.UNRESCUING, "unrescue"),),
        result=V.ACTIVE,
        error_on_failure=True,
        manager_function="unrescue_instance",
    ),
    ActionSpec(
        key="resize",
        name="resize",
        api_name="resize",
        policy="os_compute_api:servers:resize",
        label="Resize",
        summary="Move the instance to another flavor; confirm or revert afterwards.",
        vm_states=_vm(V.ACTIVE, V.STOPPED),
        host_check=HostCheck.UP,
        steps=_COLD_MIGRATION,
        result=V.RESIZED,
        params=("flavorRef",),
        error_on_failure=True,
        manager_function="resize_instance",
    ),
    ActionSpec(
        key="migrate",
        name="migrate",
        api_name="migrate",
        policy="os_compute_api:os-migrate-server:migrate",
        label="Cold migrate",
        summary="Move the instance to another host; confirm or revert afterwards.",
        vm_states=_vm(V.ACTIVE, V.STOPPED),
        host_check=HostCheck.UP,
        admin_only=True,
        steps=_COLD_MIGRATION,
        result=V.RESIZED,
        params=("host",),
        error_on_failure=True,
        manager_function="resize_instance",
    ),
    ActionSpec(
        key="confirmResize",
        name="confirmResize",
        api_name="confirmResize",
        policy="os_compute_api:servers:confirm_resize",
        label="Confirm resize",
        summary="Keep the new flavor or host and drop the old copy.",
        vm_states=_vm(V.RESIZED),
        host_check=HostCheck.SOURCE_UP,
        result=Result.BY_POWER,
        remembers_state=False,
        manager_function="confirm_resize",
    ),
    ActionSpec(
        key="revertResize",
        name="revertResize",
        api_name="revertResize",
        policy="os_compute_api:servers:revert_resize",
        label="Revert resize",
        summary="Go back to the old flavor and host.",
        vm_states=_vm(V.RESIZED),
        steps=(_S(T.RESIZE_REVERTING, "finish_revert_migration"),),
        result=Result.ACTIVE_OR_STOPPED,
        remembers_state=False,
        error_on_failure=True,
        manager_function="revert_resize",
    ),
    ActionSpec(
        key="os-migrateLive",
        name="live-migration",
        api_name="os-migrateLive",
        policy="os_compute_api:os-migrate-server:migrate_live",
        label="Live migrate",
        summary="Move the running instance to another host.",
        vm_states=_vm(V.ACTIVE, V.PAUSED),
        admin_only=True,
        steps=(_S(T.MIGRATING, "live_migrate", progress=0),),
        result=Result.UNCHANGED,
        params=("host",),
        manager_function="live_migration",
    ),
    ActionSpec(
        key="rebuild",
        name="rebuild",
        api_name="rebuild",
        policy="os_compute_api:servers:rebuild",
        label="Rebuild",
        summary="Reinstall the instance from an image, keeping its identity.",
        vm_states=_vm(V.ACTIVE, V.STOPPED, V.ERROR),
        steps=(
            _S(T.REBUILDING, progress=0),
            _S(T.REBUILD_BLOCK_DEVICE_MAPPING, progress=30),
            _S(T.REBUILD_SPAWNING, "rebuild", progress=60),
        ),
        result=Result.ACTIVE_OR_STOPPED,
        params=("imageRef",),
        destructive=True,
        error_on_failure=True,
        manager_function="rebuild_instance",
    ),
    ActionSpec(
        key="createImage",
        name="createImage",
        api_name="createImage",
        policy="os_compute_api:servers:create_image",
        label="Create snapshot",
        summary="Save the instance's disk as a new image.",
        vm_states=_vm(V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED),
        check_lock=False,
        steps=(
            _S(T.IMAGE_SNAPSHOT_PENDING, progress=0),
            _S(T.IMAGE_SNAPSHOT, "snapshot", progress=25),
            _S(T.IMAGE_PENDING_UPLOAD, progress=50),
            _S(T.IMAGE_UPLOADING, "upload_image", progress=75),
        ),
        result=Result.UNCHANGED,
        params=("name",),
        manager_function="snapshot_instance",
    ),
    ActionSpec(
        key="createBackup",
        name="createBackup",
        api_name="createBackup",
        policy="os_compute_api:os-create-backup",
        label="Create backup",
        summary="Save the instance's disk as a rotated backup image.",
        vm_states=_vm(V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED),
        check_lock=False,
        steps=(_S(T.IMAGE_BACKUP, "snapshot", progress=0),),
        result=Result.UNCHANGED,
        params=("name", "backup_type", "rotation"),
        manager_function="backup_instance",
    ),
    ActionSpec(
        key="changePassword",
        name="changePassword",
        api_name="changePassword",
        policy="os_compute_api:os-admin-password",
        label="Change password",
        summary="Set the guest's administrator password.",
        vm_states=_vm(V.ACTIVE),
        locked_reads_invalid_state=True,
        steps=(_S(T.UPDATING_PASSWORD, "set_admin_password"),),
        result=Result.UNCHANGED,
        params=("adminPass",),
        manager_function="set_admin_password",
    ),
    ActionSpec(
        key="shelve",
        name="shelve",
        api_name="shelve",
        policy="os_compute_api:os-shelve:shelve",
        label="Shelve",
        summary="Snapshot and power off the instance, then release its host.",
        vm_states=_vm(V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED),
        steps=(
            _S(T.SHELVING, "power_off", progress=0),
            _S(T.SHELVING_IMAGE_PENDING_UPLOAD, "snapshot", progress=30),
            _S(T.SHELVING_IMAGE_UPLOADING, "upload_image", progress=60),
        ),
        result=V.SHELVED,
        manager_function="shelve_instance",
    ),
    ActionSpec(
        key="shelveOffload",
        name="shelveOffload",
        api_name="shelveOffload",
        policy="os_compute_api:os-shelve:shelve_offload",
        label="Shelve offload",
        summary="Release the host of a shelved instance.",
        vm_states=_vm(V.SHELVED),
        steps=(_S(T.SHELVING_OFFLOADING, "destroy"),),
        result=V.SHELVED_OFFLOADED,
        manager_function="shelve_offload_instance",
    ),
    ActionSpec(
        key="unshelve",
        name="unshelve",
        api_name="unshelve",
        policy="os_compute_api:os-shelve:unshelve",
        label="Unshelve",
        summary="Bring a shelved instance back, scheduling it again if it was offloaded.",
        vm_states=_vm(V.SHELVED, V.SHELVED_OFFLOADED),
        steps=(_S(T.UNSHELVING, "unshelve", progress=0),),
        result=V.ACTIVE,
        error_on_failure=True,
        manager_function="unshelve_instance",
    ),
    _DELETE,
    ActionSpec(
        key="forceDelete",
        name="delete",
        api_name="forceDelete",
        policy="os_compute_api:os-deferred-delete:force",
        label="Force delete",
        summary="Delete the instance at once, even a soft-deleted one.",
        vm_states=None,
        task_states=None,
        must_have_launched=False,
        steps=(_S(T.DELETING, "destroy"),),
        result=V.DELETED,
        destructive=True,
        manager_function="terminate_instance",
    ),
    ActionSpec(
        key="restore",
        name="restore",
        api_name="restore",
        policy="os_compute_api:os-deferred-delete:restore",
        label="Restore",
        summary="Bring back a soft-deleted instance.",
        vm_states=_vm(V.SOFT_DELETED),
        locked_reads_invalid_state=True,
        steps=(_S(T.RESTORING, "power_on"),),
        result=V.ACTIVE,
        manager_function="restore_instance",
    ),
    ActionSpec(
        key="lock",
        name="lock",
        api_name="lock",
        policy="os_compute_api:os-lock-server:lock",
        label="Lock",
        summary="Refuse actions by non-admins until unlocked.",
        vm_states=None,
        task_states=None,
        check_lock=False,
        must_have_launched=False,
        params=("locked_reason",),
        manager_function="lock",
    ),
    ActionSpec(
        key="unlock",
        name="unlock",
        api_name="unlock",
        policy="os_compute_api:os-lock-server:unlock",
        foreign_lock_policy="os_compute_api:os-lock-server:unlock:unlock_override",
        label="Unlock",
        summary="Allow actions again.",
        vm_states=None,
        task_states=None,
        check_lock=False,
        must_have_launched=False,
        manager_function="unlock",
    ),
    ActionSpec(
        key="trigger_crash_dump",
        name="trigger_crash_dump",
        api_name="trigger_crash_dump",
        policy="os_compute_api:servers:trigger_crash_dump",
        label="Trigger crash dump",
        summary="Send an NMI so the guest writes a crash dump.",
        vm_states=_vm(V.ACTIVE, V.PAUSED, V.RESCUED, V.RESIZED, V.ERROR),
        host_check=HostCheck.SET,
        host_checked_first=True,
        steps=(_S(None, "trigger_crash_dump"),),
        result=Result.UNCHANGED,
        destructive=True,
        manager_function="trigger_crash_dump",
    ),
    ActionSpec(
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
        admin_only=True,
        params=("state",),
        destructive=True,
        manager_function="reset_state",
    ),
)

#: Not a user action: the build an instance goes through after ``POST /servers``.
CREATE = ActionSpec(
    key="create",
    name="create",
    api_name="create",
    policy="os_compute_api:servers:create",
    label="Create",
    summary="Schedule, network and spawn a new instance.",
    vm_states=_vm(V.BUILDING),
    must_have_launched=False,
    steps=(
        _S(T.SCHEDULING, progress=0),
        _S(T.NETWORKING, progress=25),
        _S(T.BLOCK_DEVICE_MAPPING, progress=50),
        _S(T.SPAWNING, "spawn", progress=75),
    ),
    result=V.ACTIVE,
    error_on_failure=True,
    manager_function="build_and_run_instance",
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
    steps=(_S(T.SOFT_DELETING, "power_off"),),
    result=V.SOFT_DELETED,
    destructive=True,
    manager_function="soft_delete_instance",
)

#: Not a user action: Nova's ``force_stop``, which the power-state sync calls for a guest that
#: runs (or is paused, or suspended) while its instance is stopped, or that is off while it is
#: paused. Unlike ``stop`` it accepts any vm_state; like it, it needs no task in progress. Only
#: the system context may start it (``compute.services.instances.instance_action``).
FORCE_STOP = ActionSpec(
    key="forceStop",
    name="stop",
    api_name="stop",
    policy="os_compute_api:servers:stop",
    label="Force stop",
    summary="Power off a guest whatever its vm_state says, leaving the instance stopped.",
    vm_states=None,
    host_check=HostCheck.SET,
    steps=(_S(T.POWERING_OFF, "power_off"),),
    result=V.STOPPED,
    manager_function="stop_instance",
)

#: Not a user action: Nova's ``compute_api.delete``, always a hard delete. ``delete`` as the API
#: and the pages ask for it becomes a soft delete when reclaim_instance_interval is set (that is
#: the REST layer's choice in Nova); the sync's delete of a ``shutdown_terminate`` instance calls
#: the compute API directly, so it never does.
TERMINATE = replace(
    _DELETE,
    key="terminate",
    label="Terminate",
    summary="Delete the instance at once, whatever reclaim_instance_interval says.",
)

#: Internal actions only the system context (the sync, the watchdog) may start by key.
INTERNAL_ACTIONS: tuple[ActionSpec, ...] = (FORCE_STOP, TERMINATE)

BY_KEY: dict[str, ActionSpec] = {
    a.key: a for a in (*ACTIONS, CREATE, SOFT_DELETE, *INTERNAL_ACTIONS)
}


def get(key: str) -> ActionSpec:
    return BY_KEY[key]
