"""Reads: what a caller may see, filtered, sorted and paged. One filter layer for the pages and
the API (NetBox's lesson), so both show the same instances for the same question.

Visibility (invariant 6): a caller sees the instances of the projects in its context; an admin
sees every project when it asks for all tenants. Another project's instance is "not found",
never "forbidden", so its existence does not leak.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from compute.context import RequestContext
from compute.exceptions import Forbidden, Invalid, NotFound
from compute.models import Host, Instance, InstanceAction, PowerSyncPass
from compute.status import UnknownStatus, status_filter

#: Sort keys a caller may use, mapped to columns (Nova's valid sort keys that exist here).
SORT_KEYS: dict[str, str] = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "display_name": "name",
    "name": "name",
    "vm_state": "vm_state",
    "task_state": "task_state",
    "power_state": "power_state",
    "host": "host__host",
    "uuid": "uuid",
    "launched_at": "launched_at",
    "availability_zone": "availability_zone",
}
ADMIN_SORT_KEYS = frozenset({"host"})


@dataclass(frozen=True)
class InstanceFilters:
    statuses: Sequence[str] = ()
    name: str | None = None
    host: str | None = None
    #: Admins only: every project, not just the scoped one.
    all_tenants: bool = False
    #: Admins with all_tenants: one project.
    project_id: str | None = None
    changes_since: datetime | None = None
    #: Admins only: deleted instances instead of live ones.
    deleted: bool = False
    vm_states: Sequence[str] = ()
    task_states: Sequence[str | None] = ()
    power_states: Sequence[int] = ()
    sort: Sequence[tuple[str, str]] = field(default_factory=lambda: (("created_at", "desc"),))


def _parse_uuid(value: str) -> uuidlib.UUID:
    try:
        return uuidlib.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        raise NotFound(f"Instance {value} could not be found.") from None


def visible_instances(context: RequestContext, *, all_tenants: bool = False) -> QuerySet[Instance]:
    rows = Instance.objects.select_related("host", "flavor", "image", "project")
    if context.is_admin and (all_tenants or context.project_id is None):
        return rows
    return rows.filter(project_id__in=context.project_ids)


def instance_get(
    *, context: RequestContext, instance_uuid: str, include_deleted: bool = False
) -> Instance:
    uid = _parse_uuid(instance_uuid)
    # An admin reaches any instance by id, as in Nova; a member only its projects'.
    rows = visible_instances(context, all_tenants=True)
    if not include_deleted:
        rows = rows.filter(deleted_at__isnull=True)
    found = rows.filter(uuid=uid).first()
    if found is None:
        raise NotFound(f"Instance {instance_uuid} could not be found.")
    return found


def instance_list(*, context: RequestContext, filters: InstanceFilters) -> QuerySet[Instance]:
    """The instances a caller asked for, sorted, without pagination (see ``paginate``)."""
    if filters.deleted and not context.is_admin:
        raise Forbidden("Only administrators may list deleted instances")
    rows = visible_instances(context, all_tenants=filters.all_tenants and context.is_admin)
    if filters.project_id and context.is_admin:
        rows = rows.filter(project_id=filters.project_id)
    if filters.deleted and context.is_admin:
        rows = rows.filter(deleted_at__isnull=False)
    elif filters.changes_since is None:
        rows = rows.filter(deleted_at__isnull=True)
    if filters.changes_since is not None:
        rows = rows.filter(updated_at__gte=filters.changes_since)
    if filters.statuses:
        try:
            wanted = status_filter(filters.statuses)
        except UnknownStatus as bad:
            raise Invalid(f"Invalid status value: {bad}") from None
        rows = rows.filter(vm_state__in=wanted.vm_states)
        if not wanted.any_task:
            rows = rows.filter(task_state__in=wanted.task_states)
    if filters.name:
        rows = rows.filter(name__icontains=filters.name)
    if filters.host and context.is_admin:
        rows = rows.filter(host__host=filters.host)
    if filters.vm_states:
        rows = rows.filter(vm_state__in=filters.vm_states)
    if filters.task_states:
        named = [t for t in filters.task_states if t is not None]
        q = Q(task_state__in=named)
        if None in filters.task_states:
            q |= Q(task_state__isnull=True)
        rows = rows.filter(q)
    if filters.power_states:
        rows = rows.filter(power_state__in=filters.power_states)
    return rows.order_by(*_ordering(context, filters.sort))


def _ordering(context: RequestContext, sort: Sequence[tuple[str, str]]) -> list[str]:
    order: list[str] = []
    for key, direction in sort:
        if key not in SORT_KEYS or (key in ADMIN_SORT_KEYS and not context.is_admin):
            raise Invalid(f"Invalid sort key: {key}")
        if direction not in ("asc", "desc"):
            raise Invalid(f"Invalid sort direction: {direction}")
        order.append(("-" if direction == "desc" else "") + SORT_KEYS[key])
    # A unique tie-breaker keeps marker pagination stable.
    order.append("-id" if (order and order[0].startswith("-")) or not order else "id")
    return order


def paginate(
    rows: QuerySet[Instance], *, limit: int | None, marker: str | None, context: RequestContext
) -> list[Instance]:
    """Marker pagination over the sorted rows: the page after ``marker``'s row."""
    if limit is not None and limit < 0:
        raise Invalid("limit must be >= 0")
    items = rows
    if marker:
        ids = list(rows.values_list("uuid", flat=True))
        try:
            position = ids.index(_parse_uuid(marker))
        except (ValueError, NotFound):
            raise Invalid(f"marker [{marker}] not found") from None
        wanted = ids[position + 1 : position + 1 + (limit if limit is not None else len(ids))]
        by_uuid = {i.uuid: i for i in rows.filter(uuid__in=wanted)}
        return [by_uuid[u] for u in wanted if u in by_uuid]
    return list(items[:limit] if limit is not None else items)


def instance_actions(*, context: RequestContext, instance: Instance) -> QuerySet[InstanceAction]:
    return instance.actions.prefetch_related("events").order_by("-start_time", "-id")


def host_list() -> QuerySet[Host]:
    return Host.objects.annotate(
        live_instances=Count("instances", filter=Q(instances__deleted_at__isnull=True))
    ).order_by("host")


def host_get(*, host: str | None = None, host_uuid: str | None = None) -> Host:
    if host is not None:
        found = Host.objects.filter(host=host).first()
    else:
        try:
            found = Host.objects.filter(uuid=uuidlib.UUID(str(host_uuid))).first()
        except ValueError:
            found = None
    if found is None:
        raise NotFound(f"Compute host {host or host_uuid} could not be found.")
    return found


def host_vm_state_counts(host: Host) -> dict[str, int]:
    rows = (
        Instance.objects.filter(host=host, deleted_at__isnull=True)
        .values("vm_state")
        .annotate(n=Count("id"))
    )
    return {r["vm_state"]: r["n"] for r in rows}


def host_last_sync(host: Host) -> PowerSyncPass | None:
    return host.sync_passes.order_by("-started_at").first()
