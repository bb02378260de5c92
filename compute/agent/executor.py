"""Running one dispatched action: the agent's half of an action (docs/ARCHITECTURE.md).

The executor walks the action's task_states from the action table, each step a conditional
transition from the task_state it left, calling the driver where the row says. It ends with the
task cleared and the row's resulting vm_state and the driver's power_state, in one transaction
with the action's event and the dispatch row, so a crash can never leave the task finished but
the record open. A driver failure records a fault and clears the task (vm_state ERROR only where
Nova sets it). A lost conditional write means another request (delete, hard reboot, an admin's
reset) pre-empted this one: the walk stops and its event ends in error, touching nothing else.

An action a crashed agent left half-done resumes from the task_state the instance is in.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from compute import actions, migration_records, records, state_machine
from compute.actions import ActionSpec, Result, Step
from compute.agent.finish import FINISHERS
from compute.agent.operations import OPS, already_there
from compute.agent.run import Run
from compute.conf import conf
from compute.drivers.base import ComputeDriver
from compute.exceptions import ComputeError, MigrationAborted, UnexpectedTaskState
from compute.models import ActionDispatch, Instance, InstanceActionEvent
from compute.outbox.write import change_cause
from compute.states import PowerState, TaskState, VmState

log = logging.getLogger(__name__)

#: The database went away (a restart, a cut connection): not the action's failure. The agent
#: puts the dispatch back and it resumes from the instance's task_state, as after a crash.
DATABASE_GONE = (OperationalError, InterfaceError)


_POWER_OFF = Step(TaskState.POWERING_OFF, "power_off")
_OFFLOAD = Step(TaskState.SHELVING_OFFLOADING, "destroy")


@dataclass(frozen=True)
class Plan:
    """The walk for this instance: steps, each with the vm_state it is taken in, and the end."""

    steps: tuple[tuple[Step, str | None], ...]
    result: str


def plan(spec: ActionSpec, run: Run) -> Plan:
    """The action table's walk, with the few state-dependent endings Nova has."""
    steps: list[tuple[Step, str | None]] = [(s, None) for s in spec.steps]
    current = run.instance.vm_state
    result = spec.result
    if result is Result.UNCHANGED:
        result = current
    elif result is Result.PREVIOUS:
        result = run.meta.get("old_vm_state") or VmState.ACTIVE
    elif result is Result.ACTIVE_OR_STOPPED:
        # Rebuild and revert of a stopped instance end stopped, powering off on the way.
        if run.was_stopped:
            steps.append((_POWER_OFF, None))
            result = VmState.STOPPED
        else:
            result = VmState.ACTIVE
    if spec.offloads and conf().shelved_offload_time == 0:
        # Nova offloads at once by default: vm shelved while the host is released.
        steps.append((_OFFLOAD, VmState.SHELVED))
        result = VmState.SHELVED_OFFLOADED
    return Plan(tuple(steps), str(result))


def walk_states(spec: ActionSpec) -> frozenset[str]:
    """Every task_state a dispatch of ``spec`` may leave its instance in: the table's walk and
    the endings ``plan`` may add. A dispatch interrupted and requeued is in one of these."""
    states = set(spec.walk)
    if spec.result is Result.ACTIVE_OR_STOPPED:
        states.add(_POWER_OFF.task_state)
    if spec.offloads:
        states.add(_OFFLOAD.task_state)
    return frozenset(s for s in states if s is not None)


def _finish_fields(spec: ActionSpec, run: Run, result: str) -> dict[str, Any]:
    """Columns other than the states that the end of an action writes: its row's finisher's,
    and what follows from the resulting vm_state for every action."""
    now = timezone.now()
    fields = FINISHERS[spec.finish].fields(run, now) if spec.finish else {}
    if result == VmState.DELETED:
        fields.update(deleted_at=now, terminated_at=now)
    elif result == VmState.SOFT_DELETED:
        fields["soft_deleted_at"] = now
    elif result == VmState.SHELVED_OFFLOADED:
        fields["host"] = None
    return fields


def _finish_side_effects(spec: ActionSpec, run: Run, *, failed: bool) -> None:
    if spec.finish:
        FINISHERS[spec.finish].after(run, failed)


def _open_event(dispatch: ActionDispatch, host: str) -> InstanceActionEvent:
    event = dispatch.action.events.filter(finish_time__isnull=True).order_by("id").first()
    if event is None:  # the acceptance always opens one; be robust to a hand-made dispatch
        event = InstanceActionEvent.objects.create(
            action=dispatch.action, event=f"compute_{dispatch.kind}", start_time=timezone.now()
        )
    if event.host != host:
        InstanceActionEvent.objects.filter(pk=event.pk).update(host=host)
    return event


def execute(driver: ComputeDriver, dispatch: ActionDispatch) -> None:
    """Run a claimed dispatch to its end: done, failed with a fault, or pre-empted."""
    spec = actions.get(dispatch.kind)
    instance = Instance.objects.select_related("host", "flavor", "image").get(
        pk=dispatch.instance_id
    )
    run = Run(driver=driver, dispatch=dispatch, instance=instance)
    event = _open_event(dispatch, driver.host)
    the_plan = plan(spec, run)
    walk = [s.task_state for s, _ in the_plan.steps]

    # Resume where the instance is: the first step, or the step a crash interrupted.
    current = instance.task_state
    if spec.start_task is not None and current not in walk:
        _end(dispatch, event, error=_preempted(current), state=ActionDispatch.State.FAILED)
        return
    start = walk.index(current) if spec.start_task is not None else 0
    moves = spec.moves
    if moves is not None and moves.started:
        migration_records.migration_set_status(
            run.migration_id, moves.started, expected=[moves.accepted]
        )

    try:
        for step, vm_during in the_plan.steps[start:]:
            if step.migration_status:
                migration_records.migration_set_status(run.migration_id, step.migration_status)
            if step.task_state is not None and step.task_state != current:
                extra: dict[str, Any] = {}
                if step.progress is not None:
                    extra["progress"] = step.progress
                if vm_during is not None:
                    extra["vm_state"] = vm_during
                run.instance = state_machine.transition(
                    run.instance, expected_task_state=current, task_state=step.task_state, **extra
                )
                current = step.task_state
            if step.driver_call and not already_there(step.driver_call, run):
                OPS[step.driver_call](run)
    except UnexpectedTaskState as lost:
        _end(dispatch, event, error=_preempted(lost.actual), state=ActionDispatch.State.FAILED)
        return
    except DATABASE_GONE:
        raise  # our database, not the hypervisor, failed: the agent requeues and resumes
    except MigrationAborted:
        _cancelled(run, dispatch, event, current)
        return
    except Exception as failure:
        _fail(spec, run, dispatch, event, current, failure)
        return

    power = driver.get_power_state(run.uuid)
    if the_plan.result == VmState.DELETED:
        power = PowerState.NOSTATE
    try:
        with transaction.atomic():
            if spec.start_task is not None:
                state_machine.transition(
                    run.instance,
                    expected_task_state=current,
                    vm_state=the_plan.result,
                    task_state=None,
                    power_state=power,
                    **_finish_fields(spec, run, the_plan.result),
                )
            _finish_side_effects(spec, run, failed=False)
            if moves is not None:
                migration_records.migration_set_status(run.migration_id, moves.done)
            _end(dispatch, event, error=None, state=ActionDispatch.State.DONE)
    except UnexpectedTaskState as lost:
        _end(dispatch, event, error=_preempted(lost.actual), state=ActionDispatch.State.FAILED)


def _preempted(actual: object) -> str:
    return f"Pre-empted: another request moved the instance to task_state {actual!r} first."


def _fail(
    spec: ActionSpec,
    run: Run,
    dispatch: ActionDispatch,
    event: InstanceActionEvent,
    current: str | None,
    failure: BaseException,
) -> None:
    message = failure.message if isinstance(failure, ComputeError) else str(failure)
    log.warning("%s of %s failed on %s: %s", spec.name, run.uuid, run.driver.host, message)
    try:
        power = run.driver.get_power_state(run.uuid)
    except Exception:
        power = run.instance.power_state
    cause = change_cause(
        "action.failed", action=spec.name, reason=message, exception=type(failure).__name__
    )
    with cause, transaction.atomic():
        records.fault_record(
            run.instance,
            message=message or failure.__class__.__name__,
            host=run.driver.host,
            details=repr(failure),
        )
        if spec.start_task is not None:
            # Pre-empted while failing: the newer request owns the instance now.
            with contextlib.suppress(UnexpectedTaskState):
                state_machine.transition(
                    run.instance,
                    expected_task_state=current,
                    task_state=None,
                    power_state=power,
                    **({"vm_state": VmState.ERROR} if spec.error_on_failure else {}),
                )
        _finish_side_effects(spec, run, failed=True)
        if spec.moves is not None:
            migration_records.migration_set_status(run.migration_id, spec.moves.failed)
        _end(dispatch, event, error=failure, state=ActionDispatch.State.FAILED)


def _cancelled(
    run: Run, dispatch: ActionDispatch, event: InstanceActionEvent, current: str | None
) -> None:
    """Nova's rollback of an aborted live migration: the guest runs on the source as before,
    the task is cleared, the record is ``cancelled``; no fault, for nothing went wrong."""
    try:
        power = run.driver.get_power_state(run.uuid)
    except Exception:
        power = run.instance.power_state
    with transaction.atomic():
        with contextlib.suppress(UnexpectedTaskState):
            state_machine.transition(
                run.instance, expected_task_state=current, task_state=None, power_state=power
            )
        migration_records.migration_set_status(run.migration_id, "cancelled")
        records.event_finish(event, details="Live migration aborted; the instance stays here.")
        ActionDispatch.objects.filter(pk=dispatch.pk).update(
            state=ActionDispatch.State.DONE, finished_at=timezone.now()
        )


def _end(
    dispatch: ActionDispatch,
    event: InstanceActionEvent,
    *,
    error: BaseException | str | None,
    state: str,
) -> None:
    with transaction.atomic():
        records.event_finish(event, error=error)
        ActionDispatch.objects.filter(pk=dispatch.pk).update(
            state=state, finished_at=timezone.now()
        )
