"""What an admin may do to a live migration in progress: force it to complete, or abort it
(Nova's ``live_migrate_force_complete`` and ``live_migrate_abort``).

Both are guarded by their rows of the action table (``MIGRATION_CONTROLS``: lock, vm_state,
task_state — Nova's 409 texts), then by the migration's status (Nova's 404 / 400 texts). A
request for a migration the host's agent is running is written on the record, where the
driver's monitor reads it on its next tick. An abort of a migration still queued for the agent
(2.65) drops the queued dispatch: in one transaction the dispatch is failed, the task cleared
and the record ``cancelled``; the agent, if it claims the row in between, loses that race and
the abort is asked of the running migration instead.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from compute import migration_records, preconditions, records, state_machine
from compute.actions import moving
from compute.context import RequestContext
from compute.exceptions import ComputeError, Invalid, NotFound, UnexpectedTaskState
from compute.models import ActionDispatch, Instance, InstanceAction, Migration
from compute.selectors import instance_get
from compute.selectors.migrations import migration_of_instance
from compute.states import TaskState

#: Statuses abort takes before 2.65, and the queued ones it takes from 2.65.
ABORTABLE = ("running",)
ABORTABLE_QUEUED = ("queued", "preparing")


class MigrationNotFoundForInstance(NotFound):
    def __init__(self, *, migration_id: str, instance_uuid: str) -> None:
        super().__init__(f"Migration {migration_id} not found for instance {instance_uuid}")


class InvalidMigrationState(Invalid):
    def __init__(self, *, migration_id: str, instance_uuid: str, state: str, method: str) -> None:
        super().__init__(
            f"Migration {migration_id} state of instance {instance_uuid} is {state}. "
            f"Cannot {method} while the migration is in this state."
        )


def _target(
    context: RequestContext, instance_uuid: str, migration_id: str, spec_key: str
) -> tuple[Instance, Migration | None]:
    spec = moving.FORCE_COMPLETE if spec_key == "force_complete" else moving.ABORT
    instance = instance_get(context=context, instance_uuid=instance_uuid, joined=("host",))
    preconditions.check(spec, instance, context)
    return instance, migration_of_instance(instance, migration_id)


def migration_force_complete(
    *, context: RequestContext, instance_uuid: str, migration_id: str
) -> InstanceAction:
    """Ask the agent to make a running live migration converge now."""
    instance, migration = _target(context, instance_uuid, migration_id, "force_complete")
    if migration is None:
        # Nova's force-complete answers a missing migration with a 400.
        raise Invalid(
            MigrationNotFoundForInstance(
                migration_id=migration_id, instance_uuid=instance_uuid
            ).message
        )
    if migration.status != "running":
        raise InvalidMigrationState(
            migration_id=migration_id,
            instance_uuid=instance_uuid,
            state=migration.status,
            method="force complete",
        )
    return _ask(context, instance, migration, moving.FORCE_COMPLETE.key, "running")


def migration_abort(
    *, context: RequestContext, instance_uuid: str, migration_id: str, queued: bool = False
) -> InstanceAction:
    """Abort a live migration: a running one by asking its agent (the guest stays on the
    source, the task is cleared, the record ends ``cancelled``), a queued one (``queued``:
    Nova's 2.65) by dropping it before the agent takes it up."""
    instance, migration = _target(context, instance_uuid, migration_id, "abort")
    if migration is None:
        raise MigrationNotFoundForInstance(migration_id=migration_id, instance_uuid=instance_uuid)
    allowed = ABORTABLE + (ABORTABLE_QUEUED if queued else ())
    if migration.status not in allowed:
        raise InvalidMigrationState(
            migration_id=migration_id,
            instance_uuid=instance_uuid,
            state=migration.status,
            method="abort live migration",
        )
    if migration.status == "queued":
        dropped = _drop_queued(context, instance, migration)
        if dropped is not None:
            return dropped
    return _ask(context, instance, migration, moving.ABORT.key, *allowed)


def _ask(
    context: RequestContext, instance: Instance, migration: Migration, key: str, *statuses: str
) -> InstanceAction:
    """Write the request on the record, conditional on its status still being one of
    ``statuses``, and log the action as Nova does (its event closes at once: the agent acts)."""
    spec = moving.FORCE_COMPLETE if key == moving.FORCE_COMPLETE.key else moving.ABORT
    request = "force_complete" if spec is moving.FORCE_COMPLETE else "abort"
    with transaction.atomic():
        written = (
            Migration.objects.filter(pk=migration.pk, status__in=statuses)
            .exclude(requested=Migration.Request.ABORT)
            .update(requested=request, updated_at=timezone.now())
        )
        if not written:
            current = Migration.objects.filter(pk=migration.pk).values_list("status", flat=True)
            raise InvalidMigrationState(
                migration_id=str(migration.pk),
                instance_uuid=str(instance.uuid),
                state=current.first() or "deleted",
                method="force complete" if request == "force_complete" else "abort live migration",
            )
        action, event = records.action_start(
            context=context,
            instance=instance,
            spec=spec,
            host=instance.host.host if instance.host_id else "",
        )
        records.event_finish(event)
    return action


def _drop_queued(
    context: RequestContext, instance: Instance, migration: Migration
) -> InstanceAction | None:
    """A queued live migration cancelled before its agent claimed it; None if the agent won."""
    dispatch = (
        ActionDispatch.objects.filter(
            instance=instance, kind="os-migrateLive", state=ActionDispatch.State.PENDING
        )
        .select_related("action")
        .order_by("-id")
        .first()
    )
    if dispatch is None or dispatch.params.get("migration_id") != migration.pk:
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            taken = ActionDispatch.objects.filter(
                pk=dispatch.pk, state=ActionDispatch.State.PENDING
            ).update(state=ActionDispatch.State.DONE, finished_at=now)
            if not taken:
                raise _AgentWon
            state_machine.transition(
                instance, expected_task_state=TaskState.MIGRATING, task_state=None
            )
            migration_records.migration_set_status(migration.pk, "cancelled")
            for opened in dispatch.action.events.filter(finish_time__isnull=True):
                records.event_finish(opened, details="Aborted while queued; nothing moved.")
            action, event = records.action_start(
                context=context, instance=instance, spec=moving.ABORT, event_prefix="api"
            )
            records.event_finish(event)
    except (_AgentWon, UnexpectedTaskState):
        return None
    return action


class _AgentWon(ComputeError):
    def __init__(self) -> None:
        super().__init__("The agent took the migration up first.")
