"""The migrations table's writes: a move's record opened at acceptance and walked through Nova's
statuses by the host's agent, as the action table's rows say (``ActionSpec.moves``,
``Step.migration_status``).

A status is written only from the status the walk expects, never over a final one, so a record
an admin aborted ("cancelled") or the executor failed is never brought back to life by a late
step. The live migration's figures are the driver's, written as it reports them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.utils import timezone

from compute.actions import ActionSpec
from compute.context import RequestContext
from compute.models import Instance, Migration

#: Statuses a migration never leaves (Nova's list of "not in progress" for a host's
#: migrations, ``migration_get_in_progress_by_host_and_node``; "finished" is a resize that
#: waits for its confirmation or revert).
FINAL = frozenset({"confirmed", "reverted", "error", "failed", "completed", "cancelled", "done"})
#: A live migration in progress (Nova's shared list in the API and the database layer).
LIVE_IN_PROGRESS = ("queued", "preparing", "running", "post-migrating")

#: The figures a driver reports, by the table's column names.
FIGURES = (
    "memory_total",
    "memory_processed",
    "memory_remaining",
    "disk_total",
    "disk_processed",
    "disk_remaining",
)


def migration_open(
    *,
    context: RequestContext,
    spec: ActionSpec,
    instance: Instance,
    params: dict[str, Any],
) -> Migration | None:
    """The record of the move ``spec`` starts, in the caller's transaction: a new one for an
    action that opens one (from the dispatch's destination and flavor), the instance's open
    one moved to the action's accepted status for one that carries it on. None if the action
    keeps no record, or carries on a migration the instance does not have (a resize made
    before records were kept)."""
    moves = spec.moves
    if moves is None:
        return None
    now = timezone.now()
    if not moves.opens:
        current = migration_current(instance, status=moves.continues)
        if current is not None and moves.accepted:
            Migration.objects.filter(pk=current.pk).update(status=moves.accepted, updated_at=now)
            current.status = moves.accepted
        return current
    source = instance.host.host if instance.host_id else None
    dest = params.get("dest_host")
    old_flavor = instance.flavor_id
    new_flavor = params.get("flavor_id", old_flavor)
    return Migration.objects.create(
        instance=instance,
        migration_type=moves.opens,
        status=moves.accepted,
        source_compute=source,
        source_node=source,
        dest_compute=dest,
        dest_node=dest,
        dest_host=dest,
        old_instance_type_id=old_flavor,
        new_instance_type_id=new_flavor,
        user_id=context.user_id,
        project_id=instance.project_id,
    )


def migration_current(instance: Instance | int, *, status: str) -> Migration | None:
    """The instance's newest migration in ``status`` (Nova's ``get_by_instance_and_status``)."""
    pk = instance.pk if isinstance(instance, Instance) else instance
    return Migration.objects.filter(instance_id=pk, status=status).order_by("-id").first()


def migration_set_status(
    migration_id: int | None, status: str, *, expected: Collection[str] | None = None
) -> bool:
    """Move a record to ``status``: from one of ``expected`` if given, else from any status
    that is not final. False if the record is elsewhere (aborted, failed, gone)."""
    if not migration_id or not status:
        return False
    rows = Migration.objects.filter(pk=migration_id)
    rows = rows.filter(status__in=list(expected)) if expected is not None else rows
    rows = rows.exclude(status__in=FINAL)
    return rows.update(status=status, updated_at=timezone.now()) == 1


#: An evacuation's statuses while its source may still hold the old guest (Nova's filter in
#: ``_destroy_evacuated_instances``; "done" is this project's end of the rebuild).
EVACUATED = ("accepted", "pre-migrating", "done")


def migration_evacuation_completed(migration_id: int) -> bool:
    """An evacuation's source has destroyed its old guest (or found the instance back): Nova's
    last step of an evacuation, from "done" (final for the walk) to "completed"."""
    rows = Migration.objects.filter(
        pk=migration_id, migration_type=Migration.Type.EVACUATION, status__in=EVACUATED
    )
    return rows.update(status="completed", updated_at=timezone.now()) == 1


def migration_report(migration_id: int, figures: dict[str, int]) -> None:
    """The driver's memory and disk figures of a live migration in progress."""
    values = {k: int(v) for k, v in figures.items() if k in FIGURES}
    if values:
        Migration.objects.filter(pk=migration_id).exclude(status__in=FINAL).update(
            **values, updated_at=timezone.now()
        )


def migration_requested(migration_id: int) -> str:
    """What an admin asked of a running migration: "abort", "force_complete" or ""."""
    found = Migration.objects.filter(pk=migration_id).values_list("requested", flat=True).first()
    return found or ""


__all__ = [
    "EVACUATED",
    "FIGURES",
    "FINAL",
    "LIVE_IN_PROGRESS",
    "migration_current",
    "migration_evacuation_completed",
    "migration_open",
    "migration_report",
    "migration_requested",
    "migration_set_status",
]
