"""Reads for scheduled actions: what a cron expression means in the owner's time zone, which
instances a schedule's saved filter selects at a run (through ``instance_list`` — the same filter
layer and visibility as the instances list and the API), and the schedules and runs a user sees.

Cron is ``croniter``'s: five fields (minute hour day month weekday), or six with seconds last. It
is evaluated on the owner's wall clock (``zoneinfo``) and the moment stored in UTC; across a DST
change it does what croniter does — a time skipped by spring-forward runs at the first moment
after the gap (02:30 on a Paris spring day runs at 03:00), a time repeated by fall-back runs in
both offsets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter
from django.db.models import QuerySet

from compute.context import RequestContext
from compute.exceptions import Invalid
from compute.models import Instance, ScheduledAction, ScheduleRun
from compute.selectors.instances import InstanceFilters, instance_list

#: The instances list's filter parameters a schedule keeps (its saved views' filters, without
#: sort and paging): name (Nova's regex), status (a Nova status), host (admins), project_id.
FILTER_KEYS = ("name", "status", "host", "project_id")


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"Unknown time zone {name!r}: an IANA name such as Europe/Paris.") from None


def cron_valid(expression: str) -> str:
    """The expression, stripped, if croniter reads it as 5 or 6 fields; else ``Invalid``."""
    text = " ".join(expression.split())
    if len(text.split(" ")) not in (5, 6) or not croniter.is_valid(text):
        raise Invalid(
            f"Invalid cron expression {expression!r}: five fields (minute hour day month "
            "weekday), e.g. '0 3 * * 1-5'."
        )
    return text


def next_run(expression: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first moment of the cron grid strictly after ``after``, on the zone's wall clock,
    in UTC."""
    try:
        moment = croniter(expression, after.astimezone(zone)).get_next(datetime)
    except CroniterError as error:  # e.g. 30 February: no moment ever matches
        raise Invalid(f"Cron expression {expression!r} never matches: {error}") from None
    return moment.astimezone(UTC)


def clean_filter(given: dict[str, Any]) -> dict[str, str]:
    """The filter with only its known, non-empty keys, each a string; ``Invalid`` otherwise."""
    unknown = set(given) - set(FILTER_KEYS)
    if unknown:
        raise Invalid(
            f"Unknown filter parameter(s) {', '.join(sorted(unknown))}: "
            f"one of {', '.join(FILTER_KEYS)}."
        )
    kept: dict[str, str] = {}
    for key in FILTER_KEYS:
        value = given.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            raise Invalid(f"Filter parameter {key!r} must be a string.")
        kept[key] = value
    return kept


def filtered_instances(
    *, context: RequestContext, target_filter: dict[str, str]
) -> QuerySet[Instance]:
    """The live instances the filter selects for this caller, oldest first — read as the
    instances list reads its query (``dashboard.web.views.instances.list_filters``): host and
    project narrow an admin's all-projects view; a member's project narrows their own."""
    admin = context.is_admin
    project = target_filter.get("project_id") or None
    filters = InstanceFilters(
        statuses=[target_filter["status"]] if target_filter.get("status") else [],
        name=target_filter.get("name") or None,
        host=target_filter.get("host") if admin else None,
        all_tenants=admin,
        project_id=project if admin else None,
        sort=[("created_at", "asc")],
    )
    rows = instance_list(
        context=context, filters=filters, joined=("host",)
    )  # raises Invalid on a bad status
    if project and not admin:
        rows = rows.filter(project_id=project)
    return rows


def schedules_of(*, context: RequestContext) -> QuerySet[ScheduledAction]:
    """A user's own schedules, newest first (a schedule is its owner's: others never see it)."""
    return (
        ScheduledAction.objects.select_related("instance")
        .filter(owner_id=context.user_id)
        .order_by("-id")
    )


def schedule_runs(*, context: RequestContext, schedule_id: int) -> QuerySet[ScheduleRun]:
    return ScheduleRun.objects.filter(schedule_id=schedule_id, schedule__owner_id=context.user_id)
