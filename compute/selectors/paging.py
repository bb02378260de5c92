"""Paging a caller's instance list: the sort Nova allows the caller, and the page after a marker
(a keyset condition on the sort's columns where none of them can be NULL, else the rows'
positions)."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet

from compute.context import RequestContext
from compute.exceptions import Invalid, NotFound
from compute.models import Instance
from compute.selectors.instances import parse_uuid


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
            position = ids.index(parse_uuid(marker))
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
        at = rows.filter(uuid=parse_uuid(marker)).values(*names).first()
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
