"""The task centre's read: the actions in progress and recently finished that a caller may see
(their projects' instances; everything for admins), each with its outcome, its limit — the
dispatch deadline (``DISPATCH_TIMEOUT``) while no agent has taken it, the watchdog's task timeout
once one has — and what may be done about it (cancel while queued, abort a live migration in
progress as Nova does, reset-state once reaped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from compute import actions, policy
from compute.actions import moving
from compute.conf import conf
from compute.context import RequestContext
from compute.models import ActionDispatch, InstanceAction, InstanceActionEvent, Migration
from compute.states import VmState

#: How far back "recently finished" reaches.
RECENT = timedelta(hours=24)
OUTCOMES = ("queued", "running", "success", "error", "cancelled")
#: The text the watchdog's reaper ends a task's events with (``compute.watchdog``).
REAPED_MARK = "ran longer than"
CANCELLED_MARK = "Cancelled by "
#: The actions Nova lets a user stop while they run, and the statuses of their migration record
#: in which it does: live-migration abort (``DELETE /servers/{id}/migrations/{id}``, Nova's
#: ``live_migrate_abort``) — a running one, or a queued one (2.65;
#: ``compute.services.migrations.ABORTABLE`` and ``ABORTABLE_QUEUED``).
ABORTABLE: dict[str, tuple[str, ...]] = {
    moving.LIVE_MIGRATE.name: ("running", "queued", "preparing"),
}


@dataclass(frozen=True)
class TaskRow:
    action: InstanceAction
    outcome: str
    #: Seconds since the action started (or that it took, once finished).
    elapsed: float
    #: The limit the elapsed time is measured against, and which one it is.
    limit: float
    limit_name: str
    fault: str
    reaped: bool
    can_cancel: bool
    can_reset: bool
    #: The migration record to abort (an abortable task the caller may abort), else None.
    abort_migration_id: int | None

    @property
    def can_abort(self) -> bool:
        return self.abort_migration_id is not None

    @property
    def instance(self) -> object:
        return self.action.instance


def visible_actions(
    *,
    context: RequestContext,
    outcome: str = "",
    action: str = "",
    instance: str = "",
    now: datetime | None = None,
) -> QuerySet[InstanceAction]:
    """The actions a caller may see, started within ``RECENT`` or still open, newest first,
    filtered by outcome (``OUTCOMES``), action name and instance (uuid or name)."""
    now = now or timezone.now()
    rows = InstanceAction.objects.select_related("instance", "dispatch").filter(
        Q(start_time__gte=now - RECENT) | Q(finish_time__isnull=True)
    )
    if not context.is_admin:
        rows = rows.filter(project_id__in=context.project_ids)
    if action:
        rows = rows.filter(action=action)
    if instance:
        rows = rows.filter(Q(instance__name=instance) | Q(instance__uuid__iexact=instance))
    if outcome == "queued":
        rows = rows.filter(finish_time__isnull=True, dispatch__state=ActionDispatch.State.PENDING)
    elif outcome == "running":
        rows = rows.filter(finish_time__isnull=True).exclude(
            dispatch__state=ActionDispatch.State.PENDING
        )
    elif outcome == "success":
        rows = rows.filter(finish_time__isnull=False, message__isnull=True)
    elif outcome in ("error", "cancelled"):
        cancelled = Q(events__details__startswith=CANCELLED_MARK)
        rows = rows.filter(finish_time__isnull=False, message="Error")
        rows = rows.filter(cancelled) if outcome == "cancelled" else rows.exclude(cancelled)
    return rows.order_by("-start_time", "-id").distinct()


def task_rows(
    *, context: RequestContext, actions_page: list[InstanceAction], now: datetime | None = None
) -> list[TaskRow]:
    """The rows of one page of actions (their error events read in one query)."""
    now = now or timezone.now()
    errors: dict[int, str] = {}
    for action_id, details in (
        InstanceActionEvent.objects.filter(
            action_id__in=[a.pk for a in actions_page], result=InstanceActionEvent.Result.ERROR
        )
        .order_by("id")
        .values_list("action_id", "details")
    ):
        errors.setdefault(action_id, details or "Error")
    migrations = abortable_migrations(actions_page)
    settings = conf()
    out = []
    for a in actions_page:
        dispatch = getattr(a, "dispatch", None)
        fault = errors.get(a.pk, "")
        if a.finish_time is None:
            queued = dispatch is not None and dispatch.state == ActionDispatch.State.PENDING
            outcome = "queued" if queued else "running"
            elapsed = (now - a.start_time).total_seconds()
        else:
            queued = False
            outcome = "success" if a.message is None else "error"
            if fault.startswith(CANCELLED_MARK):
                outcome = "cancelled"
            elapsed = (a.finish_time - a.start_time).total_seconds()
        if queued:
            limit, limit_name = settings.dispatch_timeout, "DISPATCH_TIMEOUT"
        else:
            limit, limit_name = settings.task_timeout(a.action), "watchdog task timeout"
        reaped = REAPED_MARK in fault
        instance = a.instance
        migration_id = migrations.get(a.pk)
        if migration_id is not None and not policy.allowed(
            context, moving.ABORT.policy, a.project_id
        ):
            migration_id = None
        can_cancel = (
            queued
            and a.action not in ABORTABLE  # a queued live migration is aborted (its record too)
            and dispatch is not None
            and not dispatch.claimed_by
            and may_start(context, dispatch.kind, a.project_id)
        )
        can_reset = (
            reaped
            and context.is_admin
            and instance.vm_state == VmState.ERROR
            and instance.task_state is None
            and instance.deleted_at is None
        )
        out.append(
            TaskRow(
                action=a,
                outcome=outcome,
                elapsed=max(0.0, elapsed),
                limit=limit,
                limit_name=limit_name,
                fault=fault,
                reaped=reaped,
                can_cancel=can_cancel,
                can_reset=can_reset,
                abort_migration_id=migration_id,
            )
        )
    return out


def abortable_migrations(actions_page: list[InstanceAction]) -> dict[int, int]:
    """For each open abortable action of the page, its instance's migration record still in an
    abortable status (one query): action id → migration id."""
    open_ones = {
        a.instance_id: a for a in actions_page if a.finish_time is None and a.action in ABORTABLE
    }
    if not open_ones:
        return {}
    statuses = {s for a in open_ones.values() for s in ABORTABLE[a.action]}
    found: dict[int, int] = {}
    for instance_id, migration_id, status in (
        Migration.objects.filter(instance_id__in=list(open_ones), status__in=statuses)
        .order_by("instance_id", "-id")
        .values_list("instance_id", "id", "status")
    ):
        action = open_ones[instance_id]
        if action.pk not in found and status in ABORTABLE[action.action]:
            found[action.pk] = migration_id
    return found


def may_start(context: RequestContext, kind: str, project_id: str) -> bool:
    """Who may cancel a queued action: whoever may start it (its row's policy rule)."""
    try:
        spec = actions.get(kind)
    except KeyError:
        return context.is_admin
    return policy.allowed(context, spec.policy, project_id)


def open_task_count(*, context: RequestContext) -> int:
    rows = InstanceAction.objects.filter(finish_time__isnull=True)
    if not context.is_admin:
        rows = rows.filter(project_id__in=context.project_ids)
    return rows.count()
