"""Catching a page up: every event it may see after the sequence number it last saw."""

from __future__ import annotations

from django.db.models import Q

from compute.context import RequestContext
from compute.models import ChangeEvent, Instance
from compute.outbox.audience import OutboxRow, groups_for, messages_for
from compute.outbox.fanout import DeltaMessage
from compute.policy import members_see_host_status


def replay(
    *, context: RequestContext, since: int, limit: int = 1000
) -> tuple[list[DeltaMessage], bool]:
    """Visible events after ``since``; the flag is False if the outbox no longer reaches back
    that far (or there are more than ``limit``), and the page must reload its state instead."""
    rows = ChangeEvent.objects.filter(id__gt=since).order_by("id")
    member_hosts: dict[str, list[str]] = {}
    if not context.is_admin:
        if members_see_host_status():
            # The hosts of the caller's instances now: where their host_status cells are.
            for host_uuid, project in (
                Instance.objects.filter(
                    project_id__in=context.project_ids,
                    deleted_at__isnull=True,
                    host__isnull=False,
                )
                .values_list("host__uuid", "project_id")
                .distinct()
            ):
                member_hosts.setdefault(str(host_uuid), []).append(project)
        visible = Q(kind=ChangeEvent.Kind.INSTANCE, project_id__in=context.project_ids)
        if context.user_id is not None:
            visible |= Q(kind=ChangeEvent.Kind.NOTIFICATION, object_id=str(context.user_id))
        if member_hosts:
            visible |= Q(kind=ChangeEvent.Kind.HOST, object_id__in=list(member_hosts))
        rows = rows.filter(visible)
    oldest = ChangeEvent.objects.order_by("id").values_list("id", flat=True).first()
    complete = oldest is None or since >= oldest - 1
    batch = list(rows[: limit + 1])
    if len(batch) > limit:
        complete = False
        batch = batch[:limit]
    # The same messages the relay sends live, for the groups this caller's socket joins.
    joined = set(groups_for(context)).__contains__
    messages: list[DeltaMessage] = []
    for r in batch:
        projects = tuple(sorted(member_hosts.get(r.object_id, ())))
        row = OutboxRow(r.id, r.kind, r.project_id, r.payload, projects, object_id=r.object_id)
        messages.extend(message for _, message in messages_for(row, joined))
    return messages, complete


def latest_seq() -> int:
    return ChangeEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
