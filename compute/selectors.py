"""Reads: what a caller may see, filtered, sorted and paged. One filter layer for the pages and
the API (NetBox's lesson), so both show the same instances for the same question.

Visibility (invariant 6): a caller sees the instances of the projects in its context; an admin
sees every project when it asks for all tenants. Another project's instance is "not found",
never "forbidden", so its existence does not leak.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from compute import statements
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
    "terminated_at": "terminated_at",
    "display_description": "description",
    "project_id": "project_id",
    "user_id": "user_id",
    "image_ref": "image_id",
    "instance_type_id": "flavor_id",
    "progress": "progress",
    "locked": "locked",
    "locked_by": "locked_by",
    "node": "host__host",
}
ADMIN_SORT_KEYS = frozenset({"host", "node"})

#: Nova's regular-expression filters on instance columns (``GET /servers?availability_zone=…``).
REGEX_FILTERS: dict[str, str] = {
    "availability_zone": "availability_zone",
    "description": "description",
    "locked_by": "locked_by",
    "progress": "progress",
    "created_at": "created_at",
    "launched_at": "launched_at",
    "terminated_at": "terminated_at",
    "node": "host__host",
    "hostname": "name",
}


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
    #: Admins only: these instance uuids.
    uuids: Sequence[str] = ()
    #: Instances whose uuid starts with this (hex digits; Nova's ``reservation_id`` here).
    uuid_prefix: str | None = None
    #: Booted from this image id / sized by this flavor id (Nova's ``flavorid``).
    image_id: str | None = None
    flavor_id: str | None = None
    user_id: str | None = None
    locked: bool | None = None
    #: Last changed at or before this moment (Nova 2.66); like changes_since, it also
    #: returns deleted instances.
    changes_before: datetime | None = None
    #: (filter name in REGEX_FILTERS, pattern) pairs: Nova's regex filters.
    regex: Sequence[tuple[str, str]] = ()
    #: Patterns matched (``re.match``) against the instance's IPv4 / IPv6 addresses.
    ip: str | None = None
    ip6: str | None = None


def _parse_uuid(value: str) -> uuidlib.UUID:
    try:
        return uuidlib.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        raise NotFound(f"Instance {value} could not be found.") from None


#: The relations read with an instance unless a caller names fewer: what the pages show.
JOINED: tuple[str, ...] = ("host", "flavor", "image", "project")


def visible_instances(
    context: RequestContext, *, all_tenants: bool = False, joined: Sequence[str] = JOINED
) -> QuerySet[Instance]:
    """The instances the caller may see, with the ``joined`` relations read in the same query
    (a caller that shows less names less: every join costs a model per row)."""
    rows = Instance.objects.select_related(*joined) if joined else Instance.objects.all()
    if context.is_admin and (all_tenants or context.project_id is None):
        return rows
    return rows.filter(project_id__in=context.project_ids)


def instance_get(
    *,
    context: RequestContext,
    instance_uuid: str,
    include_deleted: bool = False,
    joined: Sequence[str] = JOINED,
) -> Instance:
    uid = _parse_uuid(instance_uuid)
    # An admin reaches any instance by id, as in Nova; a member only its projects'. Every
    # action's acceptance starts here: one statement made once per shape, not per call
    # (compute.statements), and the same rows ``visible_instances`` would give.
    found = statements.instance_by_uuid(
        uid,
        project_ids=None if context.is_admin else sorted(context.project_ids),
        include_deleted=include_deleted,
        joined=joined,
    )
    if found is None:
        raise NotFound(f"Instance {instance_uuid} could not be found.")
    return found


def instance_list(
    *, context: RequestContext, filters: InstanceFilters, joined: Sequence[str] = JOINED
) -> QuerySet[Instance]:
    """The instances a caller asked for, sorted, without pagination (see ``paginate``)."""
    if filters.deleted and not context.is_admin:
        raise Forbidden("Only administrators may list deleted instances")
    rows = visible_instances(
        context, all_tenants=filters.all_tenants and context.is_admin, joined=joined
    )
    if filters.project_id and context.is_admin:
        rows = rows.filter(project_id=filters.project_id)
    if filters.deleted and context.is_admin:
        rows = rows.filter(deleted_at__isnull=False)
    elif filters.changes_since is None and filters.changes_before is None:
        rows = rows.filter(deleted_at__isnull=True)
    if filters.changes_since is not None:
        rows = rows.filter(updated_at__gte=filters.changes_since)
    if filters.changes_before is not None:
        rows = rows.filter(updated_at__lte=filters.changes_before)
    if filters.statuses:
        try:
            wanted = status_filter(filters.statuses)
        except UnknownStatus as bad:
            raise Invalid(f"Invalid status value: {bad}") from None
        rows = rows.filter(vm_state__in=wanted.vm_states)
        if not wanted.any_task:
            rows = rows.filter(task_state__in=wanted.task_states)
    if filters.name:
        # Nova matches the name as a regular expression (searched, case-insensitive as on its
        # MySQL); a pattern that does not compile is matched as plain text.
        rows = rows.filter(name__iregex=_pattern_or_text(filters.name))
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
    rows = _more_filters(rows, context, filters)
    return rows.order_by(*_ordering(context, filters.sort))


def _pattern_or_text(value: str) -> str:
    try:
        re.compile(value)
    except re.error:
        return re.escape(value)
    return value


def _more_filters(
    rows: QuerySet[Instance], context: RequestContext, filters: InstanceFilters
) -> QuerySet[Instance]:
    if filters.uuids and context.is_admin:
        rows = rows.filter(uuid__in=[_parse_uuid(u) for u in filters.uuids])
    if filters.uuid_prefix:
        rows = rows.filter(uuid__startswith=filters.uuid_prefix)
    if filters.image_id is not None:
        image = uuid_or_none(filters.image_id)
        rows = rows.filter(image_id=image) if image else rows.none()
    if filters.flavor_id is not None:
        rows = rows.filter(flavor__flavorid=filters.flavor_id)
    if filters.user_id is not None:
        user = filters.user_id
        rows = rows.filter(user_id=int(user)) if user.isdigit() else rows.none()
    if filters.locked is not None:
        rows = rows.filter(locked=filters.locked)
    for name, pattern in filters.regex:
        if name not in REGEX_FILTERS:
            raise Invalid(f"Invalid filter field: {name}.")
        rows = rows.filter(**{f"{REGEX_FILTERS[name]}__regex": pattern})
    if filters.ip or filters.ip6:
        # Nova matches addresses in Python too; one pass over the candidates' addresses.
        wanted = [
            pk
            for pk, addresses in rows.values_list("pk", "addresses")
            if _address_matches(addresses, 4, filters.ip)
            and _address_matches(addresses, 6, filters.ip6)
        ]
        rows = rows.filter(pk__in=wanted)
    return rows


def uuid_or_none(value: object) -> uuidlib.UUID | None:
    """``value`` as a uuid, or None if it is not one."""
    try:
        return uuidlib.UUID(str(value))
    except ValueError:
        return None


def _address_matches(addresses: object, version: int, pattern: str | None) -> bool:
    if not pattern:
        return True
    try:
        regex = re.compile(pattern)
    except re.error:
        raise Invalid(f"Invalid regular expression: {pattern}") from None
    networks = addresses.values() if isinstance(addresses, dict) else ()
    return any(
        regex.match(str(a.get("addr", "")))
        for network in networks
        for a in network
        if isinstance(a, dict) and a.get("version") == version
    )


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
    rows: QuerySet[Instance],
    *,
    limit: int | None,
    marker: str | None,
    context: RequestContext,
    columns: Sequence[str] | None = None,
) -> list[Any]:
    """Marker pagination over the sorted rows: the page after ``marker``'s row.

    Model instances; or, with ``columns`` (which must include ``uuid``), value tuples of those
    columns, for a caller that shows many rows and needs no models.
    """
    if limit is not None and limit < 0:
        raise Invalid("limit must be >= 0")
    items: QuerySet[Any] = rows if columns is None else rows.values_list(*columns)
    if marker:
        after = _after_marker(rows, marker)
        if after is not None:
            page = after if columns is None else after.values_list(*columns)
            return list(page[:limit] if limit is not None else page)
        # A sort on a column that may be NULL: find the marker's place in the whole order.
        ids = list(rows.values_list("uuid", flat=True))
        try:
            position = ids.index(_parse_uuid(marker))
        except (ValueError, NotFound):
            raise Invalid(f"marker [{marker}] not found") from None
        wanted = ids[position + 1 : position + 1 + (limit if limit is not None else len(ids))]
        if columns is None:
            by_uuid = {i.uuid: i for i in rows.filter(uuid__in=wanted)}
        else:
            at = list(columns).index("uuid")
            by_uuid = {v[at]: v for v in items.filter(uuid__in=wanted)}
        return [by_uuid[u] for u in wanted if u in by_uuid]
    return list(items[:limit] if limit is not None else items)


def rows_before(rows: QuerySet[Instance], instance_uuid: uuidlib.UUID) -> int | None:
    """How many of ``rows`` come before the row ``instance_uuid`` in their order (a page's
    "21–40 of 57"); None if that row is not one of them.

    A count over the keyset condition (``_after_marker`` on the reversed order) where the sort
    columns are never NULL; elsewhere the row's place in the whole list of uuids.
    """
    try:
        before = _after_marker(rows.reverse(), str(instance_uuid))
    except Invalid:
        return None
    if before is not None:
        return before.count()
    try:
        return list(rows.values_list("uuid", flat=True)).index(instance_uuid)
    except ValueError:
        return None


def _after_marker(rows: QuerySet[Instance], marker: str) -> QuerySet[Instance] | None:
    """The rows after ``marker``'s row in ``rows``' order, as a condition on the sort columns
    (keyset paging: an index range, whatever the page's depth); None if a sort column may be
    NULL, where the databases disagree on where NULLs sort.

    The order always ends on the unique ``id`` (``_ordering``), so "after" is exact. The marker
    must be one of ``rows`` (visible to the caller and matching the filters), as Nova asks.
    """
    order = [str(o) for o in rows.query.order_by]
    if not order or not all(_never_null(o.lstrip("-")) for o in order):
        return None
    if not rows.query.standard_ordering:  # ``.reverse()``: the mirror image
        order = [o[1:] if o.startswith("-") else f"-{o}" for o in order]
    names = [o.lstrip("-") for o in order]
    try:
        at = rows.filter(uuid=_parse_uuid(marker)).values(*names).first()
    except NotFound:  # not even a uuid
        at = None
    if at is None:
        raise Invalid(f"marker [{marker}] not found")
    later = Q(pk__in=[])
    for n, (name, column) in enumerate(zip(order, names, strict=True)):
        same = {earlier: at[earlier] for earlier in names[:n]}
        later |= Q(**same, **{f"{column}__{'lt' if name.startswith('-') else 'gt'}": at[column]})
    return rows.filter(later)


def _never_null(name: str) -> bool:
    """Whether the sort column ``name`` (a field of Instance, not through a relation) can never
    be NULL."""
    if "__" in name:
        return False
    try:
        return not Instance._meta.get_field(name).null
    except FieldDoesNotExist:
        return False


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


def hosts_last_sync(hosts: Sequence[Host]) -> dict[int, PowerSyncPass]:
    """The latest power-state sync pass of each host: one query, whatever the number of hosts."""
    latest = (
        PowerSyncPass.objects.filter(host=OuterRef("host_id"))
        .order_by("-started_at", "-id")
        .values("id")[:1]
    )
    passes = PowerSyncPass.objects.filter(host__in=[h.pk for h in hosts]).filter(
        id=Subquery(latest)
    )
    return {p.host_id: p for p in passes}
