"""Moving an instance: resize, cold and live migration, and the end of a resize."""

from __future__ import annotations

from compute.actions.spec import ActionSpec, HostCheck, Moves, Result, Step, allowed
from compute.models.tenancy import Role
from compute.states import TaskState, VmState

T = TaskState
V = VmState

GROUP = "Resize & move"

#: Resize and cold migration walk the same task_states: Nova runs both as a resize.
COLD_MIGRATION: tuple[Step, ...] = (
    Step(T.RESIZE_PREP, progress=0),
    Step(
        T.RESIZE_MIGRATING, "migrate_disk_and_power_off", progress=20, migration_status="migrating"
    ),
    Step(T.RESIZE_MIGRATED, progress=60, migration_status="post-migrating"),
    Step(T.RESIZE_FINISH, "finish_migration", progress=80),
)

RESIZE = ActionSpec(
    group=GROUP,
    key="resize",
    name="resize",
    api_name="resize",
    policy="os_compute_api:servers:resize",
    label="Resize",
    summary="Move the instance to another flavor; confirm or revert afterwards.",
    vm_states=allowed(V.ACTIVE, V.STOPPED),
    host_check=HostCheck.UP,
    steps=COLD_MIGRATION,
    result=V.RESIZED,
    params=("flavorRef",),
    error_on_failure=True,
    manager_function="resize_instance",
    prepare="resize",
    finish="move",
    moves=Moves(opens="resize", accepted="pre-migrating", done="finished", failed="error"),
)

MIGRATE = ActionSpec(
    group=GROUP,
    key="migrate",
    name="migrate",
    api_name="migrate",
    policy="os_compute_api:os-migrate-server:migrate",
    label="Cold migrate",
    summary="Move the instance to another host; confirm or revert afterwards.",
    vm_states=allowed(V.ACTIVE, V.STOPPED),
    host_check=HostCheck.UP,
    role=Role.MANAGER,
    steps=COLD_MIGRATION,
    result=V.RESIZED,
    params=("host",),
    error_on_failure=True,
    manager_function="resize_instance",
    prepare="migrate",
    finish="move",
    moves=Moves(opens="migration", accepted="pre-migrating", done="finished", failed="error"),
)

CONFIRM_RESIZE = ActionSpec(
    group=GROUP,
    key="confirmResize",
    name="confirmResize",
    api_name="confirmResize",
    policy="os_compute_api:servers:confirm_resize",
    label="Confirm resize",
    summary="Keep the new flavor or host and drop the old copy.",
    vm_states=allowed(V.RESIZED),
    host_check=HostCheck.SOURCE_UP,
    result=Result.BY_POWER,
    remembers_state=False,
    manager_function="confirm_resize",
    complete="confirm_resize",
    moves=Moves(continues="finished", done="confirmed"),
)

REVERT_RESIZE = ActionSpec(
    group=GROUP,
    key="revertResize",
    name="revertResize",
    api_name="revertResize",
    policy="os_compute_api:servers:revert_resize",
    label="Revert resize",
    summary="Go back to the old flavor and host.",
    vm_states=allowed(V.RESIZED),
    steps=(Step(T.RESIZE_REVERTING, "finish_revert_migration"),),
    result=Result.ACTIVE_OR_STOPPED,
    remembers_state=False,
    error_on_failure=True,
    manager_function="revert_resize",
    finish="move_back",
    moves=Moves(continues="finished", accepted="reverting", done="reverted", failed="error"),
)

LIVE_MIGRATE = ActionSpec(
    group=GROUP,
    key="os-migrateLive",
    name="live-migration",
    api_name="os-migrateLive",
    policy="os_compute_api:os-migrate-server:migrate_live",
    label="Live migrate",
    summary="Move the running instance to another host.",
    vm_states=allowed(V.ACTIVE, V.PAUSED),
    role=Role.MANAGER,
    steps=(Step(T.MIGRATING, "live_migrate", progress=0, migration_status="running"),),
    result=Result.UNCHANGED,
    params=("host",),
    manager_function="live_migration",
    prepare="live_migrate",
    finish="live_move",
    # Nova: queued when the compute takes the request, preparing before the transfer,
    # running during it; a failed transfer is rolled back ("failed"), an abort "cancelled".
    moves=Moves(
        opens="live-migration",
        accepted="queued",
        started="preparing",
        done="completed",
        failed="failed",
    ),
)

EVACUATE = ActionSpec(
    group=GROUP,
    key="evacuate",
    name="evacuate",
    api_name="evacuate",
    policy="os_compute_api:os-evacuate",
    label="Evacuate",
    summary="Rebuild the instance on another host because its own is down.",
    vm_states=allowed(V.ACTIVE, V.STOPPED, V.ERROR),
    # Nova's evacuate has no lock check; its host must be down.
    check_lock=False,
    host_check=HostCheck.DOWN,
    role=Role.ADMIN,
    # Run by the destination's agent: Nova's rebuild_instance with recreate=True.
    steps=(
        Step(T.REBUILDING, progress=0),
        Step(T.REBUILD_BLOCK_DEVICE_MAPPING, progress=30),
        Step(T.REBUILD_SPAWNING, "evacuate_spawn", progress=60),
    ),
    result=Result.ACTIVE_OR_STOPPED,
    params=("host",),
    error_on_failure=True,
    manager_function="rebuild_instance",
    prepare="evacuate",
    finish="evacuated",
    moves=Moves(opens="evacuation", accepted="accepted", done="done", failed="failed"),
)

#: The family's user actions, in the order the page shows their buttons.
SHOWN: tuple[ActionSpec, ...] = (
    RESIZE,
    CONFIRM_RESIZE,
    REVERT_RESIZE,
    MIGRATE,
    LIVE_MIGRATE,
    EVACUATE,
)

#: What an admin may do to a live migration in progress (Nova's ``live_migrate_force_complete``
#: and ``live_migrate_abort``, served under ``/servers/{id}/migrations/{id}``): no buttons of
#: their own, but the same guard with Nova's texts. The service completes them by asking the
#: agent running the migration (``compute.services.migrations``).
FORCE_COMPLETE = ActionSpec(
    group=GROUP,
    key="live_migration_force_complete",
    name="live_migration_force_complete",
    api_name="force_complete",
    policy="os_compute_api:servers:migrations:force_complete",
    label="Force complete",
    summary="Make the running live migration converge now.",
    vm_states=allowed(V.ACTIVE),
    task_states=frozenset({T.MIGRATING}),
    role=Role.MANAGER,
    manager_function="live_migration_force_complete",
)

ABORT = ActionSpec(
    group=GROUP,
    key="live_migration_abort",
    name="live_migration_cancel",
    api_name="abort live migration",
    policy="os_compute_api:servers:migrations:delete",
    label="Abort",
    summary="Stop the live migration; the instance stays on its host.",
    vm_states=None,
    task_states=frozenset({T.MIGRATING}),
    role=Role.MANAGER,
    manager_function="live_migration_abort",
)
