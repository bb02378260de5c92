"""The task centre's writes: cancel a queued action no agent has taken yet; abort a live
migration in progress.

Abort is Nova's ``live_migrate_abort`` through ``compute.services.migrations.migration_abort``
(its action-table row, its policy, its texts): a running migration is asked to stop (the guest
stays on its source, the record ends ``cancelled``), a queued one is dropped with its record. A
queued live migration is aborted, not cancelled, so its migration record ends too.

One transaction: the dispatch moves from PENDING to FAILED only if it is still PENDING (the
agent's claim is the same conditional UPDATE from PENDING, so exactly one of the two wins), the
task_state the action set is cleared (conditional on it still being that one), and the action's
open events end with who cancelled it. Resetting a reaped task is the action table's
``os-resetState`` row, through ``instance_action`` — nothing here.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from compute import records, state_machine
from compute.context import RequestContext
from compute.exceptions import Conflict, NotFound, UnexpectedTaskState
from compute.models import ActionDispatch, InstanceAction
from compute.selectors.tasks import ABORTABLE, CANCELLED_MARK, may_start, task_rows
from compute.services.migrations import migration_abort


def _visible(context: RequestContext, action_id: int) -> InstanceAction:
    rows = InstanceAction.objects.select_related("instance", "dispatch")
    if not context.is_admin:
        rows = rows.filter(project_id__in=context.project_ids)
    action = rows.filter(pk=action_id).first()
    if action is None:
        raise NotFound(f"Action {action_id} could not be found.")
    return action


def action_abort(*, context: RequestContext, action_id: int) -> InstanceAction:
    """Abort a live migration in progress from its task; the abort's own action record."""
    action = _visible(context, action_id)
    (row,) = task_rows(context=context, actions_page=[action])
    if row.abort_migration_id is None:
        raise Conflict("Only a live migration in progress can be aborted, by who may abort it.")
    return migration_abort(
        context=context,
        instance_uuid=str(action.instance.uuid),
        migration_id=str(row.abort_migration_id),
        queued=True,
    )


def action_cancel(*, context: RequestContext, action_id: int) -> InstanceAction:
    action = _visible(context, action_id)
    if action.action in ABORTABLE and action.finish_time is None:
        return action_abort(context=context, action_id=action_id)
    dispatch = getattr(action, "dispatch", None)
    if dispatch is None or not may_start(context, dispatch.kind, action.project_id):
        raise Conflict("Only an action waiting for its compute agent can be cancelled.")
    message = f"{CANCELLED_MARK}{context.user_name} before a compute agent took it."
    with transaction.atomic():
        won = ActionDispatch.objects.filter(
            pk=dispatch.pk, state=ActionDispatch.State.PENDING, claimed_by=""
        ).update(state=ActionDispatch.State.FAILED, finished_at=timezone.now())
        if not won:
            raise Conflict(
                "The action is no longer waiting for its compute agent; it cannot be cancelled."
            )
        if dispatch.expected_task_state is not None:
            try:
                state_machine.transition(
                    dispatch.instance_id,
                    expected_task_state=dispatch.expected_task_state,
                    task_state=None,
                )
            except UnexpectedTaskState:
                raise Conflict(
                    "The instance has moved on since the action was queued; it cannot be cancelled."
                ) from None
        for event in action.events.filter(finish_time__isnull=True):
            records.event_finish(event, error=message)
    action.refresh_from_db()
    return action
