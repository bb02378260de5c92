"""The driver's operations as the action table names them (``Step.driver_call``): each adapter
calls the driver with the arguments the operation needs from the run."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from compute import actions, migration_records, state_machine
from compute.agent.run import Run
from compute.conf import conf
from compute.image_store import image_path, snapshot_path
from compute.models import ActionDispatch, Image
from compute.states import PowerState, TaskState, VmState


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
    a row with a ``snapshot_name`` (shelve's ``<name>-shelved``) has it made here, once (kept
    in the dispatch's params, so an interrupted walk resumes with the same image)."""
    if run.params.get("image_id"):
        return str(run.params["image_id"])
    pattern = actions.get(run.dispatch.kind).snapshot_name
    if not pattern:
        return None
    image = Image.objects.create(
        name=pattern.format(name=run.instance.name),
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


class LiveMigrationMonitor:
    """The driver's figures into the migration record, and their share done into the
    instance's ``progress`` (a published change, so the pages show it move); an admin's abort
    or force-complete read back from the record (``compute.drivers.base.MigrationMonitor``)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.progress = run.instance.progress

    def report(self, figures: Mapping[str, int]) -> None:
        migration_id = self.run.migration_id
        if migration_id:
            migration_records.migration_report(migration_id, dict(figures))
        total = figures.get("memory_total", 0) + figures.get("disk_total", 0)
        done = figures.get("memory_processed", 0) + figures.get("disk_processed", 0)
        progress = min(100, done * 100 // total) if total else 0
        if progress != self.progress:
            # Conditional on the task, as every write: a pre-empting request stops the walk.
            self.run.instance = state_machine.transition(
                self.run.instance, expected_task_state=TaskState.MIGRATING, progress=progress
            )
            self.progress = progress

    def requested(self) -> str:
        migration_id = self.run.migration_id
        return migration_records.migration_requested(migration_id) if migration_id else ""


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
    # Evacuate: the destination's agent builds the guest anew from its image (Nova's rebuild
    # with recreate=True on non-shared storage); the source is down and keeps what it had.
    "evacuate_spawn": lambda r: r.driver.spawn(r.guest()),
    "live_migrate": lambda r: r.driver.live_migrate(
        r.uuid, dest_host=r.params["dest_host"], monitor=LiveMigrationMonitor(r)
    ),
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


def already_there(call: str, run: Run) -> bool:
    target = SETS_POWER.get(call)
    return target is not None and run.driver.get_power_state(run.uuid) == target
