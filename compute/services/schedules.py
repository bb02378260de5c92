"""Scheduled actions: create, cancel, and run the due ones — each run through ``instance_action``
as the owner, so the action table's preconditions and Nova's refusal texts apply as if the owner
clicked at that moment.

Runs are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` inside the transaction that starts the
action and records the result: with two web processes each due schedule is run by exactly one,
once. A schedule whose moment passed while nothing ran (every process down) runs once when a
runner is back, never more (a one-off has one run; the state moves on in the same
transaction). An instance whose host is in maintenance (disabled) is skipped with that reason.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from compute.context import RequestContext
from compute.exceptions import ComputeError, Invalid, NotFound
from compute.models import Membership, Role, ScheduledAction
from compute.outbox.write import record_schedule_outcome
from compute.selectors import instance_get
from compute.services.instances import instance_action

log = logging.getLogger(__name__)

#: The actions that may be scheduled (action-table keys).
SCHEDULABLE = ("start", "stop", "reboot", "reboot_hard", "shelve", "createImage")


def schedule_create(
    *,
    context: RequestContext,
    instance_uuid: str,
    action: str,
    run_at: str,
    time_zone: str = "UTC",
    params: dict[str, object] | None = None,
) -> ScheduledAction:
    """``run_at`` is an ISO date and time in ``time_zone`` (an IANA name, e.g. Europe/Paris),
    or with its own offset."""
    if context.user_id is None:
        raise Invalid("Only a user may schedule an action.")
    if action not in SCHEDULABLE:
        raise Invalid(f"Action {action!r} cannot be scheduled: one of {', '.join(SCHEDULABLE)}.")
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"Unknown time zone {time_zone!r}: an IANA name such as Europe/Paris."
        ) from None
    try:
        moment = datetime.fromisoformat(run_at)
    except (TypeError, ValueError):
        raise Invalid(f"Invalid run_at {run_at!r}: an ISO date and time is expected.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if action == "createImage" and not (params or {}).get("name"):
        raise Invalid("A scheduled createImage needs the image's name (params.name).")
    instance = instance_get(context=context, instance_uuid=instance_uuid)
    return ScheduledAction.objects.create(
        owner_id=context.user_id,
        instance=instance,
        project_id=instance.project_id,
        action=action,
        params=dict(params or {}),
        run_at=moment.astimezone(ZoneInfo("UTC")),
        time_zone=time_zone,
    )


def schedule_cancel(*, context: RequestContext, schedule_id: int) -> ScheduledAction:
    won = ScheduledAction.objects.filter(
        pk=schedule_id, owner_id=context.user_id, state=ScheduledAction.State.PENDING
    ).update(state=ScheduledAction.State.CANCELLED, result=f"Cancelled by {context.user_name}.")
    if not won:
        raise NotFound(f"No pending scheduled action {schedule_id}.")
    return ScheduledAction.objects.get(pk=schedule_id)


def owner_context(schedule: ScheduledAction) -> RequestContext:
    """The owner's rights now (a user removed from the project since is refused, in Nova's
    words, by the action's own checks)."""
    user = get_user_model().objects.get(pk=schedule.owner_id)
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
    """Run every due schedule once; how many were accepted, refused and skipped."""
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
            outcome = _run(schedule, now)
            counts[outcome] += 1
    return counts


def _run(schedule: ScheduledAction, now: datetime) -> str:
    host = schedule.instance.host
    schedule.ran_at = now
    if host is not None and host.disabled:
        schedule.state = ScheduledAction.State.SKIPPED
        schedule.result = (
            f"Skipped: host {host.host} is in maintenance ({host.disabled_reason or 'disabled'})."
        )[:255]
        outcome = "skipped"
    else:
        context = owner_context(schedule)
        try:
            with transaction.atomic():  # a refusal rolls back only the action's own writes
                record = instance_action(
                    context=context,
                    instance_uuid=str(schedule.instance.uuid),
                    action=schedule.action,
                    params=schedule.params or None,
                )
        except ComputeError as refusal:
            schedule.state = ScheduledAction.State.REFUSED
            schedule.result = refusal.message[:255]
            outcome = "refused"
        else:
            schedule.state = ScheduledAction.State.DONE
            schedule.result = f"Accepted: {record.request_id}" if record else "Accepted."
            outcome = "accepted"
    schedule.save(update_fields=["state", "ran_at", "result"])
    if outcome != "accepted":
        # Nothing changed, but the owner is told (``compute.notify``): through the outbox, in
        # this transaction, like every change the notifier tells.
        instance = schedule.instance
        record_schedule_outcome(
            {
                "type": "schedule",
                "id": str(instance.uuid),
                "version": schedule.pk,
                "project_id": schedule.project_id,
                "name": instance.name,
                "vm_state": instance.vm_state,
                "task_state": instance.task_state,
                "owner_id": schedule.owner_id,
                "cause": {
                    "kind": "schedule.refused",
                    "action": schedule.action,
                    "reason": schedule.result,
                },
            }
        )
    log.info("scheduled %s of %s: %s", schedule.action, schedule.instance_id, schedule.result)
    return outcome


async def run_forever(interval: float = 1.0) -> None:
    """The loop for a web process's event loop; each pass in a worker thread."""
    import asyncio

    from asgiref.sync import sync_to_async
    from django.db import close_old_connections

    def one_pass() -> None:
        try:
            schedules_run_due()
        finally:
            close_old_connections()

    while True:
        try:
            await sync_to_async(one_pass, thread_sensitive=False)()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scheduled actions pass failed; retrying")
        await asyncio.sleep(interval)
