"""The watchdog: changes that come from time, which nobody writes.

- A heartbeat older than ``service_down_time`` turns a host UNKNOWN; the watchdog notices within
  ``watchdog_interval`` and publishes it (nobody writes that change: it must be noticed).
- A dispatch no agent claimed before its deadline fails visibly: the task is cleared, a fault
  says which host never answered (invariant 7).
- A task that ran longer than its timeout is reaped: its event ends in error, a fault says what
  happened, task_state is cleared and vm_state set to error, as an admin's reset would.
- Outbox rows older than the retention are pruned, and power-sync pass records beyond the
  newest ``PASSES_KEPT`` of each host (every few minutes: the passes themselves never prune).

Every write is conditional, so any number of processes may run the watchdog at once.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from compute import actions, migration_records, records, state_machine
from compute.agent.executor import walk_states
from compute.conf import conf
from compute.context import system_context
from compute.exceptions import UnexpectedTaskState
from compute.models import ActionDispatch, ChangeEvent, Host, Instance
from compute.outbox.write import change_cause
from compute.services import drains
from compute.services.hosts import publish_status_if_changed
from compute.states import VmState
from compute.status import HostStatus
from compute.sync.history import prune_passes

log = logging.getLogger(__name__)


def check_hosts() -> int:
    """Publish every host whose derived status differs from the one last published."""
    # A host that never sent a heartbeat is judged by created_at (Nova's servicegroup), so it
    # expires too; a heartbeat too far in the future is down as well.
    expired = ~Host.heartbeat_fresh()
    suspects = Host.objects.filter(Q(published_status=HostStatus.UP) & expired) | (
        Host.objects.filter(published_status="")
    )
    return sum(publish_status_if_changed(host) for host in suspects)


def fail_stale_dispatches() -> int:
    failed = 0
    for dispatch in ActionDispatch.objects.select_related("host", "action").filter(
        state=ActionDispatch.State.PENDING, deadline__lt=timezone.now()
    ):
        cause = change_cause("action.failed", action=dispatch.action.action)
        with cause, transaction.atomic():
            won = ActionDispatch.objects.filter(
                pk=dispatch.pk, state=ActionDispatch.State.PENDING
            ).update(state=ActionDispatch.State.FAILED, finished_at=timezone.now())
            if not won:
                continue
            # A dispatch requeued after its agent died mid-walk left the instance in a later
            # task_state than the one it was accepted with: clear whichever of its walk it is in.
            walk = walk_states(actions.get(dispatch.kind))
            current = (
                Instance.objects.filter(pk=dispatch.instance_id)
                .values_list("task_state", flat=True)
                .first()
            )
            interrupted = current in walk and current != dispatch.expected_task_state
            message = (
                f"No compute agent on host {dispatch.host.host} took the action within "
                f"{conf().dispatch_timeout:.0f} s; it was "
                f"{'interrupted and not resumed' if interrupted else 'not run'}."
            )
            owned = current if interrupted else dispatch.expected_task_state
            _clear_task(dispatch.instance_id, owned, vm_state=None)
            records.fault_record(dispatch.instance_id, message=message, host=dispatch.host.host)
            _migration_failed(actions.get(dispatch.kind), dispatch)
            for event in dispatch.action.events.filter(finish_time__isnull=True):
                records.event_finish(event, error=message)
            failed += 1
    return failed


def reap_stuck_tasks() -> int:
    """Fail tasks that ran past their timeout, so nothing is left hanging forever."""
    timeouts = conf()
    shortest = min(timeouts.task_timeouts.values())
    now = timezone.now()
    reaped = 0
    # A task without a start time (a row older than the clock) is timed from its last change.
    started = Coalesce("task_started_at", "updated_at")
    candidates = Instance.objects.annotate(started=started).filter(
        task_state__isnull=False,
        deleted_at__isnull=True,
        started__lt=now - timedelta(seconds=shortest),
    )
    for instance in candidates:
        dispatch = (
            ActionDispatch.objects.select_related("action")
            .filter(
                instance=instance,
                state__in=[ActionDispatch.State.PENDING, ActionDispatch.State.RUNNING],
            )
            .order_by("-id")
            .first()
        )
        # The action the task belongs to: its dispatch's, else the instance's open action.
        action = (
            dispatch.action
            if dispatch is not None
            else instance.actions.filter(finish_time__isnull=True).order_by("-id").first()
        )
        kind = action.action if action is not None else "default"
        limit = timeouts.task_timeout(kind)
        if now - instance.started < timedelta(seconds=limit):
            continue
        message = (
            f"Task {instance.task_state} of {kind} ran longer than {limit:.0f} s and was stopped; "
            "the instance was set to error as an admin's reset would."
        )
        with change_cause("watchdog.reaped", reason=message, action=kind), transaction.atomic():
            if not _clear_task(instance.pk, instance.task_state, vm_state=VmState.ERROR):
                continue
            records.fault_record(instance, message=message)
            if dispatch is not None:
                ActionDispatch.objects.filter(pk=dispatch.pk).update(
                    state=ActionDispatch.State.FAILED, finished_at=now
                )
                _migration_failed(actions.get(dispatch.kind), dispatch, status="error")
            if action is None:
                # Nothing in the action log accounts for the task: say who ended it.
                action, _ = records.action_start(
                    context=system_context("watchdog"),
                    instance=instance,
                    spec=actions.get("os-resetState"),
                    event_prefix="watchdog",
                )
            open_events = list(action.events.filter(finish_time__isnull=True))
            for event in open_events:
                records.event_finish(event, error=message)
            if not open_events:
                # Its events had all ended: append the reaper's verdict, so it shows.
                records.event_add(action, name="watchdog_reap_stuck_task", error=message)
            reaped += 1
        log.warning("reaped %s: %s", instance.uuid, message)
    return reaped


def _migration_failed(spec: actions.ActionSpec, dispatch: ActionDispatch, status: str = "") -> None:
    """A move that will not run on ends its record as the row says it fails (a reaped task:
    ``error``, as Nova's ``errors_out_migration``), never left ``queued`` or ``running``."""
    if spec.moves is not None:
        migration_records.migration_set_status(
            (dispatch.params or {}).get("migration_id"), status or spec.moves.failed
        )


def _clear_task(instance_id: int, task_state: str | None, *, vm_state: str | None) -> bool:
    if task_state is None:
        return True
    extra = {"vm_state": vm_state} if vm_state else {}
    try:
        state_machine.transition(
            instance_id, expected_task_state=task_state, task_state=None, **extra
        )
    except UnexpectedTaskState:
        return False  # something else moved it on; it is not stuck
    return True


def prune_outbox() -> int:
    horizon = timezone.now() - timedelta(seconds=conf().outbox_retention)
    return ChangeEvent.objects.filter(created_at__lt=horizon).delete()[0]


#: Seconds between two prunings of the power-sync pass records by one process. Each is one
#: DELETE over every host's records; between two, a host gains a few passes at most.
SYNC_PASSES_PRUNE_SPACING = 300.0
_next_sync_passes_prune = 0.0


def prune_sync_passes() -> int:
    """Prune the pass records, at most once per ``SYNC_PASSES_PRUNE_SPACING`` in this process."""
    global _next_sync_passes_prune
    now = time.monotonic()
    if now < _next_sync_passes_prune:
        return 0
    _next_sync_passes_prune = now + SYNC_PASSES_PRUNE_SPACING
    return prune_passes()


def run_once() -> dict[str, int]:
    return {
        "hosts_published": check_hosts(),
        "dispatches_failed": fail_stale_dispatches(),
        "tasks_reaped": reap_stuck_tasks(),
        "events_pruned": prune_outbox(),
        "sync_passes_pruned": prune_sync_passes(),
        "drains_advanced": drains.advance_all(),
    }


async def run_forever() -> None:
    """The watchdog loop for a web process's event loop; each pass runs in a worker thread."""
    from compute.background import every

    await every("watchdog", run_once, lambda: conf().watchdog_interval)
