"""Running one dispatched action: the agent's half of DESIGN flow 1.

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
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from compute import actions, records, state_machine
from compute.actions import ActionSpec, Result, Step
from compute.conf import conf
from compute.drivers.base import ComputeDriver, GuestSpec
from compute.exceptions import ComputeError, UnexpectedTaskState
from compute.image_store import image_adopt_file, image_path, image_remove_file, snapshot_path
from compute.models import ActionDispatch, Flavor, Host, Image, Instance, InstanceActionEvent
from compute.services.params import MIGRATION_KEYS
from compute.states import PowerState, TaskState, VmState

log = logging.getLogger(__name__)

#: The database went away (a restart, a cut connection): not the action's failure. The agent
#: puts the dispatch back and it resumes from the instance's task_state, as after a crash.
DATABASE_GONE = (OperationalError, InterfaceError)


@dataclass
class Run:
    """One execution of a dispatch: what the op adapters below need."""

    driver: ComputeDriver
    dispatch: ActionDispatch
    instance: Instance

    @property
    def uuid(self) -> str:
        return str(self.instance.uuid)

    @property
    def params(self) -> dict[str, Any]:
        return self.dispatch.params

    @property
    def meta(self) -> dict[str, Any]:
        return self.instance.system_metadata

    def guest(self, *, flavor_id: int | None = None, image_id: str | None = None) -> GuestSpec:
        flavor = Flavor.objects.get(pk=flavor_id) if flavor_id else self.instance.flavor
        image = Image.objects.filter(pk=image_id).first() if image_id else self.instance.image
        path = image_path(image) if image else None
        return GuestSpec(
            uuid=self.uuid,
            name=self.instance.name,
            vcpus=flavor.vcpus,
            memory_mb=flavor.ram,
            disk_gb=flavor.disk,
            image=image.name if image else "",
            image_file=str(path) if path else "",
            image_format=(image.disk_format if image else None) or "qcow2",
        )

    @property
    def was_stopped(self) -> bool:
        return self.meta.get("old_vm_state") == VmState.STOPPED


def _unshelve(run: Run) -> None:
    """A shelved guest still on its host starts; an offloaded one is spawned from the image
    its shelve saved (Nova's ``shelved_image_id``), or from its own image if there is none."""
    if run.instance.vm_state == VmState.SHELVED and run.driver.get_power_state(run.uuid) != 0:
        run.driver.power_on(run.uuid)
    else:
        shelved = run.meta.get("shelved_image_id")
        if shelved and not Image.objects.filter(pk=shelved).exclude(file="").exists():
            shelved = None
        run.driver.spawn(run.guest(image_id=shelved))


def _snapshot_image_id(run: Run) -> str | None:
    """The image a capture fills: createImage's and createBackup's were made at acceptance;
    shelve makes Nova's ``<name>-shelved`` snapshot here, once (kept in the dispatch's
    params, so an interrupted shelve resumes with the same image)."""
    if run.params.get("image_id"):
        return str(run.params["image_id"])
    if run.dispatch.kind != "shelve":
        return None
    image = Image.objects.create(
        name=f"{run.instance.name}-shelved",
        status=Image.Status.SAVING,
        progress=0,
        server=run.instance,
        min_disk=run.instance.flavor.disk,
        metadata={"image_type": "snapshot", "instance_uuid": run.uuid},
    )
    run.dispatch.params = {**run.params, "image_id": str(image.pk)}
    ActionDispatch.objects.filter(pk=run.dispatch.pk).update(params=run.dispatch.params)
    return str(image.pk)


def _snapshot(run: Run) -> None:
    image_id = _snapshot_image_id(run)
    run.driver.snapshot(
        run.uuid,
        image_name=run.params.get("name", run.uuid),
        target=str(snapshot_path(image_id)) if image_id else "",
    )


def _rescue(run: Run) -> None:
    """Nova's default rescue image is the instance's own; a named one is looked up by name."""
    name = run.params.get("image", "")
    image = run.instance.image
    if image is None or image.name != name:
        image = Image.objects.filter(name=name, status=Image.Status.ACTIVE).exclude(file="").first()
    path = image_path(image) if image else None
    run.driver.rescue(run.uuid, image=name, image_file=str(path) if path else "")


#: The action table names an operation; these adapters call the driver with its arguments.
OPS: dict[str, Callable[[Run], None]] = {
    "spawn": lambda r: r.driver.spawn(r.guest()),
    "destroy": lambda r: r.driver.destroy(r.uuid),
    "power_off": lambda r: r.driver.power_off(r.uuid, timeout=conf().shutdown_timeout),
    "power_on": lambda r: r.driver.power_on(r.uuid),
    "reboot_soft": lambda r: r.driver.reboot_soft(r.uuid),
    "reboot_hard": lambda r: r.driver.reboot_hard(r.guest()),
    "pause": lambda r: r.driver.pause(r.uuid),
    "unpause": lambda r: r.driver.unpause(r.uuid),
    "suspend": lambda r: r.driver.suspend(r.uuid),
    "resume": lambda r: r.driver.resume(r.uuid),
    "rescue": _rescue,
    "unrescue": lambda r: r.driver.unrescue(r.uuid),
    "rebuild": lambda r: r.driver.rebuild(r.guest(image_id=r.params["image_id"])),
    "migrate_disk_and_power_off": lambda r: r.driver.migrate_disk_and_power_off(
        r.guest(flavor_id=r.params["flavor_id"]), dest_host=r.params["dest_host"]
    ),
    "finish_migration": lambda r: r.driver.finish_migration(
        r.guest(flavor_id=r.params["flavor_id"]),
        dest_host=r.params["dest_host"],
        power_on=not r.was_stopped,
    ),
    "finish_revert_migration": lambda r: r.driver.finish_revert_migration(
        r.guest(flavor_id=r.meta.get("old_flavor_id")),
        source_host=r.meta.get("old_host") or r.driver.host,
        power_on=not r.was_stopped,
    ),
    "live_migrate": lambda r: r.driver.live_migrate(r.uuid, dest_host=r.params["dest_host"]),
    "snapshot": _snapshot,
    "upload_image": lambda r: r.driver.upload_image(r.uuid, image_name=r.params.get("name", "")),
    "set_admin_password": lambda r: r.driver.set_admin_password(
        r.uuid, password=r.params["adminPass"]
    ),
    "trigger_crash_dump": lambda r: r.driver.trigger_crash_dump(r.uuid),
    "unshelve": _unshelve,
}

#: Driver calls whose whole effect is one power state. A walk resumed after its agent died
#: between such a call and writing it down finds the guest there already; calling again would
#: fail ("not running, cannot be paused") an action that had succeeded, and leave an ACTIVE
#: instance with a suspended guest for the sync to power off.
SETS_POWER: dict[str, int] = {
    "pause": PowerState.PAUSED,
    "unpause": PowerState.RUNNING,
    "suspend": PowerState.SUSPENDED,
    "resume": PowerState.RUNNING,
}


def _already_there(call: str, run: Run) -> bool:
    target = SETS_POWER.get(call)
    return target is not None and run.driver.get_power_state(run.uuid) == target


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
    if spec.key == "shelve" and conf().shelved_offload_time == 0:
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
    if spec.key == "shelve":
        states.add(_OFFLOAD.task_state)
    return frozenset(s for s in states if s is not None)


def _finish_fields(spec: ActionSpec, run: Run, result: str) -> dict[str, Any]:
    """Columns other than the states that the end of an action writes."""
    now = timezone.now()
    p, meta = run.params, dict(run.meta)
    fields: dict[str, Any] = {}
    if spec.key == "create":
        octet = random.randint(2, 254)
        fields.update(
            launched_at=now,
            addresses={
                "private": [
                    {
                        "version": 4,
                        "addr": f"10.0.{octet // 16}.{octet}",
                        "OS-EXT-IPS:type": "fixed",
                    }
                ]
            },
        )
    elif spec.key in ("resize", "migrate"):
        fields.update(flavor_id=p["flavor_id"], host=Host.objects.get(host=p["dest_host"]))
    elif spec.key == "revertResize":
        fields.update(
            flavor_id=meta.get("old_flavor_id") or run.instance.flavor_id,
            host=Host.objects.filter(host=meta.get("old_host")).first() or run.instance.host,
        )
        for key in MIGRATION_KEYS:
            meta.pop(key, None)
        fields["system_metadata"] = meta
    elif spec.key == "os-migrateLive":
        fields["host"] = Host.objects.get(host=p["dest_host"])
    elif spec.key == "rebuild":
        fields["image_id"] = p["image_id"]
        if p.get("name"):
            fields["name"] = p["name"]
    elif spec.result == VmState.DELETED:  # delete, forceDelete, the sync's terminate
        fields.update(deleted_at=now, terminated_at=now)
    elif spec.result == VmState.SOFT_DELETED:
        fields["soft_deleted_at"] = now
    elif spec.key == "restore":
        fields["soft_deleted_at"] = None
    elif spec.key == "shelve" and p.get("image_id"):
        meta["shelved_image_id"] = p["image_id"]
        fields["system_metadata"] = meta
    elif spec.key == "unshelve" and "shelved_image_id" in meta:
        meta.pop("shelved_image_id")
        fields["system_metadata"] = meta
    if result == VmState.SHELVED_OFFLOADED:
        fields["host"] = None
    return fields


def _finish_side_effects(spec: ActionSpec, run: Run, *, failed: bool) -> None:
    if spec.key in ("createImage", "createBackup", "shelve") and run.params.get("image_id"):
        image_id = run.params["image_id"]
        written = snapshot_path(image_id)
        image = Image.objects.filter(pk=image_id).first()
        if failed:
            written.unlink(missing_ok=True)
        elif image is not None and written.is_file():
            # A hypervisor that wrote the capture into the store: its bytes become the image.
            image_adopt_file(image, path=written)
        Image.objects.filter(pk=image_id).update(
            status=Image.Status.DELETED if failed else Image.Status.ACTIVE,
            progress=0 if failed else 100,
        )
    if spec.key == "unshelve" and not failed and run.meta.get("shelved_image_id"):
        # Nova deletes the shelve snapshot once the instance runs again; the guest's disk no
        # longer needs the file (the hypervisor keeps its own base copy).
        image = Image.objects.filter(pk=run.meta["shelved_image_id"]).first()
        if image is not None:
            image_remove_file(image)
            Image.objects.filter(pk=image.pk).update(status=Image.Status.DELETED)
    if spec.key == "changePassword":
        # The password is not kept once the guest has it (or failed to take it).
        ActionDispatch.objects.filter(pk=run.dispatch.pk).update(params={})


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

    try:
        for step, vm_during in the_plan.steps[start:]:
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
            if step.driver_call and not _already_there(step.driver_call, run):
                OPS[step.driver_call](run)
    except UnexpectedTaskState as lost:
        _end(dispatch, event, error=_preempted(lost.actual), state=ActionDispatch.State.FAILED)
        return
    except DATABASE_GONE:
        raise  # our database, not the hypervisor, failed: the agent requeues and resumes
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
    with transaction.atomic():
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
        _end(dispatch, event, error=failure, state=ActionDispatch.State.FAILED)


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
