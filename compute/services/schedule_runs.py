"""Running the due scheduled actions: each run through ``instance_action`` as the owner, so the
action table's preconditions and Nova's refusal texts apply as if the owner clicked then.

A due schedule is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` inside the transaction that
runs it, records its ``ScheduleRun`` and moves it on: with any number of processes each due run
happens once. A one-off ends in the state of its run. A recurring one's next run is the first
grid moment after *now*, not after the moment it was due — so after an outage it runs once for
all the ticks it missed, then resumes on its grid. A run on a filter resolves the filter then,
with the owner's visibility then, and records each instance's outcome. An instance whose host is
in maintenance (disabled) is skipped with that reason; a refused or skipped run is told to its
owner through the outbox (kind ``schedule``, no page receives it; ``compute.notify``). A schedule
whose instance was deleted, or whose owner's account is disabled, ends (``cancelled``) at its
next run instead of being refused every tick.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from compute.context import RequestContext
from compute.exceptions import ComputeError
from compute.models import Instance, Membership, Role, ScheduledAction, ScheduleRun
from compute.outbox.write import record_schedule_outcome
from compute.selectors.schedules import filtered_instances, next_run, zone_of
from compute.services.instances import instance_action

log = logging.getLogger(__name__)
Outcome = ScheduleRun.Outcome
#: A one-off's final state for its run's outcome.
FINAL_STATE = {
    Outcome.ACCEPTED: ScheduledAction.State.DONE,
    Outcome.PARTIAL: ScheduledAction.State.DONE,
    Outcome.REFUSED: ScheduledAction.State.REFUSED,
    Outcome.SKIPPED: ScheduledAction.State.SKIPPED,
    Outcome.EMPTY: ScheduledAction.State.SKIPPED,
}


def owner_context(schedule: ScheduledAction) -> RequestContext | None:
    """The owner's rights now (a user removed from the project since is refused, in Nova's
    words, by the action's own checks; a filter then selects nothing of that project); None
    for an owner whose account is disabled."""
    user = get_user_model().objects.get(pk=schedule.owner_id)
    if not user.is_active:
        return None
    roles = dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
    return RequestContext(
        user_id=user.pk,
        user_name=user.get_username(),
        project_id=schedule.project_id if schedule.project_id in roles else None,
        project_ids=frozenset(roles),
        is_admin=bool(user.is_superuser) or Role.ADMIN in roles.values(),
        manager_project_ids=frozenset(p for p, r in roles.items() if Role(r).implies(Role.MANAGER)),
        client="schedule",
    )


def schedules_run_due(*, now: datetime | None = None, limit: int = 50) -> dict[str, int]:
    """Run every due schedule once; how many instances' actions were accepted, refused and
    skipped."""
    now = now or timezone.now()
    counts = {"accepted": 0, "refused": 0, "skipped": 0}
    for _ in range(limit):
        with transaction.atomic():
            schedule = (
                # Only the schedule's row is locked (``of``), not the instance and host joined.
                ScheduledAction.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("instance__host")
                .filter(state=ScheduledAction.State.PENDING, run_at__lte=now)
                .order_by("run_at", "id")
                .first()
            )
            if schedule is None:
                break
            for outcome in schedule_run(schedule, now):
                counts[outcome] += 1
    return counts


def schedule_run(schedule: ScheduledAction, now: datetime) -> list[str]:
    """One run of a claimed schedule (the caller holds its row lock): every target's outcome."""
    context = owner_context(schedule)
    if context is None:
        return _end(schedule, now, "Ended: the owner's account is disabled.")
    if schedule.instance is not None:
        if schedule.instance.deleted_at is not None:
            return _end(schedule, now, "Ended: the instance was deleted.")
        targets = [schedule.instance]
    else:
        try:
            targets = list(
                filtered_instances(context=context, target_filter=schedule.target_filter or {})
            )
        except ComputeError:  # e.g. an admin filter on a host, the owner no longer admin
            targets = []
    run = ScheduleRun(schedule=schedule, due_at=schedule.run_at, ran_at=now)
    run.outcomes = [_attempt(schedule, context, instance) for instance in targets]
    _summarise(run, single=schedule.instance is not None)
    run.save()
    schedule.ran_at, schedule.last_outcome, schedule.result = now, run.outcome, run.result
    fields = ["ran_at", "last_outcome", "result"]
    if schedule.recurring:
        schedule.run_at = next_run(schedule.cron, zone_of(schedule.time_zone), now)
        fields.append("run_at")
    else:
        schedule.state = FINAL_STATE[Outcome(run.outcome)]
        fields.append("state")
    schedule.save(update_fields=fields)
    by_uuid = {str(i.uuid): i for i in targets}
    for entry in run.outcomes:
        if entry["outcome"] != Outcome.ACCEPTED:
            _tell_owner(schedule, run, by_uuid[entry["uuid"]], entry["result"])
    log.info("scheduled %s (schedule %s): %s", schedule.action, schedule.pk, run.result)
    return [entry["outcome"] for entry in run.outcomes]


def _end(schedule: ScheduledAction, now: datetime, reason: str) -> list[str]:
    """A schedule that can never run again ends (``cancelled``), its last run saying why."""
    ScheduleRun.objects.create(
        schedule=schedule,
        due_at=schedule.run_at,
        ran_at=now,
        outcome=Outcome.REFUSED,
        result=reason,
    )
    schedule.state, schedule.ran_at = ScheduledAction.State.CANCELLED, now
    schedule.last_outcome, schedule.result = Outcome.REFUSED, reason
    schedule.save(update_fields=["state", "ran_at", "last_outcome", "result"])
    log.info("schedule %s ended: %s", schedule.pk, reason)
    return []


def _attempt(
    schedule: ScheduledAction, context: RequestContext, instance: Instance
) -> dict[str, Any]:
    entry = {"uuid": str(instance.uuid), "name": instance.name, "request_id": ""}
    host = instance.host
    if host is not None and host.disabled:
        reason = host.disabled_reason or "disabled"
        text = f"Skipped: host {host.host} is in maintenance ({reason})."
        return {**entry, "outcome": Outcome.SKIPPED.value, "result": text[:255]}
    try:
        with transaction.atomic():  # a refusal rolls back only the action's own writes
            record = instance_action(
                context=context,
                instance_uuid=str(instance.uuid),
                action=schedule.action,
                params=schedule.params or None,
            )
    except ComputeError as refusal:
        return {**entry, "outcome": Outcome.REFUSED.value, "result": refusal.message[:255]}
    request_id = record.request_id if record else ""
    text = f"Accepted: {request_id}" if request_id else "Accepted."
    return {**entry, "outcome": Outcome.ACCEPTED.value, "request_id": request_id, "result": text}


def _summarise(run: ScheduleRun, *, single: bool) -> None:
    entries = run.outcomes
    kinds = {e["outcome"] for e in entries}
    if not entries:
        run.outcome, run.result = Outcome.EMPTY, "No instance matched the filter."
        return
    if len(kinds) == 1:
        run.outcome = kinds.pop()
    else:
        run.outcome = Outcome.PARTIAL if Outcome.ACCEPTED in kinds else Outcome.REFUSED
    first_bad = next((e for e in entries if e["outcome"] != Outcome.ACCEPTED), None)
    run.request_id = next((e["request_id"] for e in entries if e["request_id"]), "")
    if single:
        run.result = entries[0]["result"]
        return
    accepted = sum(e["outcome"] == Outcome.ACCEPTED for e in entries)
    text = f"Accepted on {accepted} of {len(entries)} instances."
    if first_bad is not None:
        text += f" {first_bad['name']}: {first_bad['result']}"
    run.result = text[:255]


def _tell_owner(
    schedule: ScheduledAction, run: ScheduleRun, instance: Instance, reason: str
) -> None:
    """Nothing changed, but the owner is told (``compute.notify``): through the outbox, in this
    transaction, like every change the notifier tells."""
    record_schedule_outcome(
        {
            "type": "schedule",
            "id": str(instance.uuid),
            "version": run.pk,
            "project_id": instance.project_id,
            "name": instance.name,
            "vm_state": instance.vm_state,
            "task_state": instance.task_state,
            "owner_id": schedule.owner_id,
            "cause": {"kind": "schedule.refused", "action": schedule.action, "reason": reason},
        }
    )


async def run_forever(interval: float = 1.0) -> None:
    """The loop for a web process's event loop; each pass in a worker thread."""
    from compute.background import every

    await every("scheduled actions", schedules_run_due, lambda: interval)
