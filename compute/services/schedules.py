"""Scheduled actions: create (one instance or a saved filter; once at a moment or on a cron
expression, in the owner's time zone), pause, resume and cancel. Running the due ones is
``compute.services.schedule_runs``.

A schedule is its owner's alone: only they see, pause, resume or cancel it (each a conditional
UPDATE from the state it must be in, so a run or another request in between is never
overwritten). What it may act on is decided at each run with the owner's rights at that moment.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from compute.conf import conf
from compute.context import RequestContext
from compute.exceptions import Invalid, NotFound
from compute.models import ScheduledAction
from compute.selectors import instance_get
from compute.selectors.schedules import (
    clean_filter,
    cron_valid,
    filtered_instances,
    next_run,
    zone_of,
)

#: The actions that may be scheduled (action-table keys).
SCHEDULABLE = ("start", "stop", "reboot", "reboot_hard", "shelve", "createImage")
State = ScheduledAction.State


def schedule_create(
    *,
    context: RequestContext,
    action: str,
    instance_uuid: str = "",
    target_filter: dict[str, Any] | None = None,
    run_at: str = "",
    cron: str = "",
    time_zone: str = "UTC",
    params: dict[str, object] | None = None,
    now: datetime | None = None,
) -> ScheduledAction:
    """One of ``instance_uuid`` or ``target_filter``, and one of ``run_at`` (an ISO date and
    time in ``time_zone``, an IANA name such as Europe/Paris, or with its own offset) or
    ``cron``."""
    if context.user_id is None:
        raise Invalid("Only a user may schedule an action.")
    if action not in SCHEDULABLE:
        raise Invalid(f"Action {action!r} cannot be scheduled: one of {', '.join(SCHEDULABLE)}.")
    zone = zone_of(time_zone)
    if bool(run_at) == bool(cron):
        raise Invalid("Give either run_at (once) or cron (recurring), not both.")
    if cron:
        cron = cron_valid(cron)
        moment = next_run(cron, zone, now or timezone.now())
        _check_interval(cron, zone, moment)
    else:
        try:
            moment = datetime.fromisoformat(run_at)
        except (TypeError, ValueError):
            raise Invalid(f"Invalid run_at {run_at!r}: an ISO date and time is expected.") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
    if action == "createImage" and not (params or {}).get("name"):
        raise Invalid("A scheduled createImage needs the image's name (params.name).")
    if bool(instance_uuid) == (target_filter is not None):
        raise Invalid("Give either an instance or a filter of instances, not both.")
    made = ScheduledAction(
        owner_id=context.user_id,
        action=action,
        params=dict(params or {}),
        cron=cron,
        run_at=moment.astimezone(UTC),
        time_zone=time_zone,
    )
    if instance_uuid:
        instance = instance_get(context=context, instance_uuid=instance_uuid)
        made.instance, made.project_id = instance, instance.project_id
    else:
        kept = clean_filter(target_filter or {})
        project = kept.get("project_id", "")
        if project and not context.is_admin and project not in context.project_ids:
            raise NotFound(f"Project {project} could not be found.")
        filtered_instances(context=context, target_filter=kept)  # a bad status is refused now
        made.target_filter, made.project_id = kept, project
    made.save()
    return made


def _owned(context: RequestContext, schedule_id: int, states: tuple[str, ...], verb: str) -> Any:
    rows = ScheduledAction.objects.filter(
        pk=schedule_id, owner_id=context.user_id, state__in=states
    )
    if not rows.exists():
        raise NotFound(f"No {verb} scheduled action {schedule_id}.")
    return rows


def schedule_cancel(*, context: RequestContext, schedule_id: int) -> ScheduledAction:
    """A pending or paused schedule ends (kept, with its runs, as ``cancelled``)."""
    won = _owned(context, schedule_id, (State.PENDING, State.PAUSED), "pending").update(
        state=State.CANCELLED, result=f"Cancelled by {context.user_name}."
    )
    if not won:
        raise NotFound(f"No pending scheduled action {schedule_id}.")
    return ScheduledAction.objects.get(pk=schedule_id)


def schedule_pause(*, context: RequestContext, schedule_id: int) -> ScheduledAction:
    won = _owned(context, schedule_id, (State.PENDING,), "pending").update(state=State.PAUSED)
    if not won:
        raise NotFound(f"No pending scheduled action {schedule_id}.")
    return ScheduledAction.objects.get(pk=schedule_id)


def schedule_resume(
    *, context: RequestContext, schedule_id: int, now: datetime | None = None
) -> ScheduledAction:
    """A recurring schedule resumes on its grid from now (the runs it missed while paused are
    not caught up); a one-off keeps its moment, so one whose moment passed runs at once."""
    schedule = _owned(context, schedule_id, (State.PAUSED,), "paused").get()
    run_at = schedule.run_at
    if schedule.recurring:
        run_at = next_run(schedule.cron, zone_of(schedule.time_zone), now or timezone.now())
    won = ScheduledAction.objects.filter(pk=schedule_id, state=State.PAUSED).update(
        state=State.PENDING, run_at=run_at
    )
    if not won:
        raise NotFound(f"No paused scheduled action {schedule_id}.")
    return ScheduledAction.objects.get(pk=schedule_id)


#: Grid moments looked at for the shortest gap (a cron such as "0,1 3 * * *" is rare enough
#: that its close pair shows within a day's worth of the grid's moments).
_GAPS_LOOKED_AT = 24


def _check_interval(cron: str, zone: ZoneInfo, first: datetime) -> None:
    """``Invalid`` when the cron's grid puts two runs closer than ``schedule_min_interval``."""
    least = conf().schedule_min_interval
    moments = [first]
    for _ in range(_GAPS_LOOKED_AT):
        moments.append(next_run(cron, zone, moments[-1]))
    gap = min((b - a).total_seconds() for a, b in itertools.pairwise(moments))
    if gap < least:
        raise Invalid(
            f"Cron expression {cron!r} runs every {gap:g} s; a schedule may run at most once "
            f"every {least:g} s."
        )
