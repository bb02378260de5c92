"""Draining a host as a durable job: start it from a plan, carry it on, cancel it.

``drain_start`` disables the host (through ``host_update``, audited; it stays disabled until an
admin enables it, whatever becomes of the drain) and writes the job with one step per instance.
``drain_advance`` carries a job on: it looks at each running step's action in the action log
(finished? failed? a cold migration waiting for its confirmation?), retries a failed step up to
``MAX_ATTEMPTS`` times, starts queued steps — ``CONCURRENCY`` at a time — through
``instance_action``, the same door as every button, and ends the job when no step is left. It
holds the job's row lock (``SELECT … FOR UPDATE SKIP LOCKED``), so any number of web processes
may call it; ``advance_all`` is what the watchdog of every web process calls, for the jobs whose
instances changed in the outbox since the job's last look, or that have steps to start.
``drain_cancel`` drops the queued steps, aborts running live migrations with Nova's abort
(the instance stays active on its source, the migration ``cancelled``) and lets anything else
that is running finish; finished steps stay finished.

Every change to a job's steps bumps the host's version and publishes it (the outbox), so the
host page's drain panel refreshes on the same socket as everything else.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import replace

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from compute import actions, policy
from compute.context import RequestContext
from compute.exceptions import ComputeError, Conflict, InstanceIsLocked, Invalid
from compute.models import (
    ChangeEvent,
    DrainJob,
    DrainStep,
    Host,
    Instance,
    InstanceAction,
    InstanceFault,
    Migration,
)
from compute.outbox import write as events
from compute.selectors.drain import CHOICES, drain_plan
from compute.services.hosts import host_update
from compute.services.instances import instance_action
from compute.services.migrations import migration_abort
from compute.states import VmState

RULE = "vmdash:hosts:drain"
#: Attempts a step gets before it is failed for good.
MAX_ATTEMPTS = 3
#: Steps of one job running at once.
CONCURRENCY = 4
REASON = "Drained for maintenance"

S = DrainStep.State
J = DrainJob.State


def drain_start(
    *, context: RequestContext, host: Host, choices: dict[str, str] | None = None
) -> DrainJob:
    """Start draining ``host``: the plan's default for each instance unless ``choices``
    (instance uuid → choice) says otherwise. A choice the plan refuses is kept as a skipped
    step with the refusal, so the job shows why the instance stayed."""
    policy.authorize(context, RULE)
    choices = dict(choices or {})
    plan = drain_plan(context=context, host=host)
    by_uuid = {row.uuid: row for row in plan.rows}
    for wanted, choice in choices.items():
        if wanted not in by_uuid:
            raise Invalid(f"Instance {wanted} is not on host {host.host}.")
        if choice not in CHOICES:
            raise Invalid(f"Unknown drain choice {choice!r}: one of {', '.join(CHOICES)}.")
    with transaction.atomic():
        running = DrainJob.objects.select_for_update().filter(
            host=host, state__in=[J.RUNNING, J.CANCELLING]
        )
        if running.exists():
            raise Conflict(f"Host {host.host} is already being drained (job {running[0].pk}).")
        if not host.disabled:
            host = host_update(
                context=context, host=host, status="disabled", disabled_reason=REASON
            )
        job = DrainJob.objects.create(
            host=host,
            user_id=context.user_id,
            user_name=context.user_name,
            request_id=context.request_id,
            last_sequence=ChangeEvent.objects.aggregate(m=Max("id"))["m"] or 0,
        )
        now = timezone.now()
        steps = []
        for row in plan.rows:
            choice = choices.get(row.uuid, row.default)
            refusal = row.choices[choice]
            step = DrainStep(job=job, instance_id=row.instance.pk, choice=choice)
            if choice == "leave":
                # Left because it cannot move (the plan's reason), or by the admin's choice.
                why = row.reason or "Left by choice."
                step.state, step.message, step.finished_at = S.SKIPPED, why[:255], now
            elif refusal is not None:
                step.state, step.message, step.finished_at = S.SKIPPED, refusal[:255], now
            steps.append(step)
        DrainStep.objects.bulk_create(steps)
        _published(host)
    drain_advance(job.pk)
    job.refresh_from_db()
    return job


def drain_cancel(*, context: RequestContext, job: DrainJob) -> DrainJob:
    """Cancel a drain in any state: queued steps dropped, running live migrations aborted (the
    instance stays on its source), other running steps left to finish. Ending a drain does not
    enable the host."""
    policy.authorize(context, RULE)
    with transaction.atomic():
        locked = DrainJob.objects.select_for_update().get(pk=job.pk)
        if not locked.active:
            return locked
        DrainJob.objects.filter(pk=job.pk).update(state=J.CANCELLING)
        DrainStep.objects.filter(job=job, state=S.QUEUED).update(
            state=S.CANCELLED,
            message="Dropped: the drain was cancelled.",
            finished_at=timezone.now(),
        )
        running = list(
            DrainStep.objects.filter(
                job=job, state=S.RUNNING, choice="live-migrate"
            ).select_related("instance", "migration")
        )
        _published(locked.host)
    for step in running:
        if step.migration is None:
            continue
        # One that finished (or failed) first ends as it did.
        with contextlib.suppress(ComputeError):
            migration_abort(
                context=_acting(context),
                instance_uuid=str(step.instance.uuid),
                migration_id=str(step.migration.pk),
                queued=True,
            )
    drain_advance(job.pk)
    return DrainJob.objects.get(pk=job.pk)


def advance_all() -> int:
    """Carry on every active job that has something to look at: steps to start or cancel, or
    outbox rows about its running steps' instances since its last look. Returns how many."""
    advanced = 0
    newest = ChangeEvent.objects.aggregate(m=Max("id"))["m"] or 0
    for job in DrainJob.objects.filter(state__in=[J.RUNNING, J.CANCELLING]):
        running = list(
            DrainStep.objects.filter(job=job, state=S.RUNNING).values_list(
                "instance__uuid", flat=True
            )
        )
        changed = ChangeEvent.objects.filter(
            id__gt=job.last_sequence,
            id__lte=newest,
            kind=ChangeEvent.Kind.INSTANCE,
            object_id__in=[str(u) for u in running],
        ).exists()
        queued = DrainStep.objects.filter(job=job, state=S.QUEUED).exists()
        if changed or queued or job.state == J.CANCELLING or not running:
            drain_advance(job.pk)
            advanced += 1
        DrainJob.objects.filter(pk=job.pk, last_sequence__lt=newest).update(last_sequence=newest)
    return advanced


def drain_advance(job_id: int) -> None:
    """One look at a job under its row lock (another process holding it is looking already)."""
    with transaction.atomic():
        job = (
            DrainJob.objects.select_for_update(skip_locked=True)
            .select_related("host")
            .filter(pk=job_id)
            .first()
        )
        if job is None or not job.active:
            return
        changed = False
        steps = list(job.steps.select_related("instance").order_by("id"))
        for step in steps:
            if step.state == S.RUNNING:
                changed |= _look(job, step)
        if job.state == J.RUNNING:
            running = sum(1 for s in steps if s.state == S.RUNNING)
            for step in steps:
                if running >= CONCURRENCY:
                    break
                if step.state == S.QUEUED:
                    changed = True
                    if _start(job, step):
                        running += 1
        if all(s.terminal for s in steps):
            state = (
                J.CANCELLED
                if job.state == J.CANCELLING
                else J.FAILED
                if any(s.state == S.FAILED for s in steps)
                else J.DONE
            )
            DrainJob.objects.filter(pk=job.pk).update(state=state, finished_at=timezone.now())
            changed = True
        if changed:
            _published(job.host)


def _start(job: DrainJob, step: DrainStep) -> bool:
    """Start the step's action; False if it was refused (retried later, or failed)."""
    key = CHOICES[step.choice]
    spec = actions.get(key)
    context = _job_context(job)
    step.attempts += 1
    step.request_id = context.request_id
    step.action = key
    try:
        if step.instance.locked and spec.check_lock:
            # The drain's own rule (compute.selectors.drain): a lock is not overridden.
            raise InstanceIsLocked(instance_uuid=str(step.instance.uuid))
        with transaction.atomic():
            record = instance_action(
                context=context, instance_uuid=str(step.instance.uuid), action=key
            )
    except ComputeError as refusal:
        _retry_or_fail(step, refusal.message)
        return False
    step.state = S.RUNNING
    step.started_at = step.started_at or timezone.now()
    step.migration = (
        Migration.objects.filter(instance=step.instance).order_by("-id").first()
        if spec.moves is not None
        else None
    )
    if record is None:
        _finish(step, S.DONE, "Nothing to do.")
    step.save()
    return True


def _look(job: DrainJob, step: DrainStep) -> bool:
    """Whether a running step's action ended, and what follows; True if the step changed."""
    record = InstanceAction.objects.filter(
        instance=step.instance, request_id=step.request_id
    ).first()
    if record is None or record.finish_time is None:
        return False
    if record.message == "Error":
        fault = InstanceFault.objects.filter(instance=step.instance).order_by("-id").first()
        details = record.events.filter(result="Error").values_list("details", flat=True).first()
        _retry_or_fail(step, (fault.message if fault else None) or details or "The action failed.")
        step.save()
        return True
    migration = (
        Migration.objects.filter(pk=step.migration_id).first() if step.migration_id else None
    )
    if migration is not None and migration.status == "cancelled":
        _finish(step, S.CANCELLED, "Live migration aborted: the instance stays on this host.")
    elif step.choice == "cold-migrate" and step.action == "migrate":
        _confirm(job, step)
    else:
        _finish(step, S.DONE, "")
    step.save()
    return True


def _confirm(job: DrainJob, step: DrainStep) -> None:
    """A cold migration ends resized on the destination: the drain keeps it (confirmResize)."""
    instance = Instance.objects.get(pk=step.instance_id)
    if instance.vm_state != VmState.RESIZED:
        _finish(step, S.DONE, "")
        return
    context = _job_context(job)
    try:
        with transaction.atomic():
            instance_action(
                context=context, instance_uuid=str(instance.uuid), action="confirmResize"
            )
    except ComputeError as refusal:
        _retry_or_fail(step, refusal.message)
        return
    step.request_id, step.action = context.request_id, "confirmResize"
    _finish(step, S.DONE, "")


def _retry_or_fail(step: DrainStep, message: str) -> None:
    step.message = message[:255]
    if step.attempts >= MAX_ATTEMPTS:
        _finish(step, S.FAILED, f"Failed after {step.attempts} attempts: {message}"[:255])
    else:
        step.state = S.QUEUED


def _finish(step: DrainStep, state: str, message: str) -> None:
    step.state = state
    step.finished_at = timezone.now()
    if message or state == S.DONE:
        step.message = message


def _job_context(job: DrainJob) -> RequestContext:
    """The admin who started the drain, acting from the drain (a new request id per action)."""
    return RequestContext(
        user_id=job.user_id,
        user_name=job.user_name or "drain",
        project_id=None,
        is_admin=True,
        client="drain",
        request_id=f"req-{uuid.uuid4()}",
    )


def _acting(context: RequestContext) -> RequestContext:
    return replace(context, request_id=f"req-{uuid.uuid4()}")


def _published(host: Host) -> None:
    """The host changed (its drain did): a new version, published to the admins' pages."""
    Host.objects.filter(pk=host.pk).update(version=F("version") + 1)
    host.refresh_from_db()
    events.record_host_change(host)
