"""Instances a caller may see (invariant 6), filtered as the API and the pages ask.

A caller sees the instances of the projects in its context; an admin sees every project when it
asks for all tenants. Another project's instance is "not found", never "forbidden", so its
existence does not leak. One filter layer for the pages and the API (NetBox's lesson), so both
show the same instances for the same question.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet

from compute import statements
from compute.context import RequestContext
from compute.exceptions import Forbidden, Invalid, NotFound
from compute.models import Instance, InstanceAction
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


def parse_uuid(value: str) -> uuidlib.UUID:
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
    uid = parse_uuid(instance_uuid)
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
        rows = rows.filter(uuid__in=[parse_uuid(u) for u in filters.uuids])
    if filters.uuid_prefix:
        # A reservation id is the first server's UUID prefix; the other servers of that
        # create carry it in their extras (compute.selectors.server_extras).
        rows = rows.filter(
            Q(uuid__startswith=filters.uuid_prefix)
            | Q(extras__reservation_id=f"r-{filters.uuid_prefix}")
        )
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


def instance_actions(*, context: RequestContext, instance: Instance) -> QuerySet[InstanceAction]:
    return instance.actions.prefetch_related("events").order_by("-start_time", "-id")
