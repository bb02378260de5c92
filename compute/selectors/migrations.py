"""Reading the migrations table as Nova's API does: the admin's list with its filters and 2.59
paging (``migration_get_all_by_filters``), and one server's live migrations in progress.

Policy is the caller's (the API view asks ``compute.policy`` first); these only read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet

from compute.exceptions import NotFound
from compute.migration_records import LIVE_IN_PROGRESS
from compute.models import Instance, Migration
from compute.selectors.instances import uuid_or_none


@dataclass(frozen=True)
class MigrationFilters:
    """Nova's filters of ``GET /os-migrations``; None is "not given"."""

    status: tuple[str, ...] | None = None
    #: Either end of the move (Nova's ``host``), else the source only (``source_compute``).
    host: str | None = None
    source_compute: str | None = None
    migration_type: str | None = None
    #: Nova's ``hidden`` (cross-cell doubles): no record here is hidden.
    hidden: bool | None = None
    instance_uuid: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    changes_since: datetime | None = None
    changes_before: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


def migration_list(
    *, filters: MigrationFilters, limit: int | None = None, marker: str | None = None
) -> list[Migration]:
    """The migrations matching ``filters``, newest first (``created_at``, ``id``, both
    descending, as Nova sorts from 2.59), after ``marker`` (a migration's uuid; Nova's 400
    "Marker … could not be found." if there is none), at most ``limit``."""
    rows = _filtered(filters).select_related("instance").order_by("-created_at", "-id")
    if marker is not None:
        found = Migration.objects.filter(uuid=_uuid_text(marker)).first() if marker else None
        if found is None:
            raise MarkerNotFound(marker)
        rows = rows.filter(
            Q(created_at__lt=found.created_at) | Q(created_at=found.created_at, id__lt=found.id)
        )
    if limit is not None:
        rows = rows[:limit]
    return list(rows)


class MarkerNotFound(NotFound):
    def __init__(self, marker: str) -> None:
        super().__init__(f"Marker {marker} could not be found.")


def _filtered(filters: MigrationFilters) -> QuerySet[Migration]:
    rows = Migration.objects.all()
    # Nova compares updated_at alone: a record never updated matches neither.
    if filters.changes_since is not None:
        rows = rows.filter(updated_at__gte=filters.changes_since)
    if filters.changes_before is not None:
        rows = rows.filter(updated_at__lte=filters.changes_before)
    if filters.status is not None:
        rows = rows.filter(status__in=filters.status)
    if filters.host is not None:
        rows = rows.filter(Q(source_compute=filters.host) | Q(dest_compute=filters.host))
    elif filters.source_compute is not None:
        rows = rows.filter(source_compute=filters.source_compute)
    if filters.migration_type is not None:
        rows = rows.filter(migration_type=filters.migration_type)
    if filters.hidden:
        rows = rows.none()
    if filters.instance_uuid is not None:
        uid = _uuid_text(filters.instance_uuid)
        rows = rows.filter(instance__uuid=uid) if uid else rows.none()
    if filters.user_id is not None:
        user = _int_or_none(filters.user_id)
        rows = rows.filter(user_id=user) if user else rows.none()
    if filters.project_id is not None:
        rows = rows.filter(project_id=filters.project_id)
    return rows


def migrations_in_progress(instance: Instance) -> list[Migration]:
    """The server's live migrations in progress (Nova's
    ``get_in_progress_by_instance(…, 'live-migration')``), oldest first."""
    return list(
        Migration.objects.filter(
            instance=instance,
            migration_type=Migration.Type.LIVE_MIGRATION,
            status__in=LIVE_IN_PROGRESS,
        ).order_by("id")
    )


def migration_of_instance(instance: Instance, migration_id: str) -> Migration | None:
    """The instance's migration ``migration_id``, or None (Nova's
    ``get_by_id_and_instance``)."""
    pk = _int_or_none(migration_id)
    if pk is None:
        return None
    return Migration.objects.filter(pk=pk, instance=instance).first()


def _int_or_none(value: str) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def _uuid_text(value: str) -> str | None:
    found = uuid_or_none(value)
    return str(found) if found else None
