"""The end of an action besides its states: the columns it writes and what it does after, by the
name its row of the action table gives (``ActionSpec.finish``).

``FINISHERS[name].fields`` are written in the same conditional UPDATE that clears the task;
``FINISHERS[name].after`` runs in the same transaction, whether the action succeeded or failed.
What follows from the resulting vm_state alone (a deleted row's ``deleted_at``, an offloaded
instance without a host) is the executor's, for every action alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from compute.agent.run import Run
from compute.image_store import image_adopt_file, image_remove_file, snapshot_path
from compute.models import ActionDispatch, Host, Image
from compute.services.params import MIGRATION_KEYS


def _no_fields(run: Run, now: datetime) -> dict[str, Any]:
    return {}


def _nothing_after(run: Run, failed: bool) -> None:
    return None


@dataclass(frozen=True)
class Finish:
    #: Columns the end writes besides the states.
    fields: Callable[[Run, datetime], dict[str, Any]] = _no_fields
    #: Done after, in the same transaction; ``failed`` says how the action ended.
    after: Callable[[Run, bool], None] = _nothing_after


#: The pool's addresses as integers within 10.0.0.0/20: 10.0.0.2 (after the gateway) up to
#: 10.0.15.254 (before the broadcast address).
_POOL_FIRST, _POOL_LAST = 2, 15 * 256 + 254


def fixed_address(instance_pk: int) -> str:
    """The fixed address of the instance with this row id: the pool's addresses taken in turn,
    so no two of any 4,093 instances created one after another share one. Derived, not drawn:
    a random pick gave two servers the same address one time in 253 (Neutron never does), and a
    lowest-free search would race between two agents finishing builds at once."""
    n = _POOL_FIRST + (instance_pk - 1) % (_POOL_LAST - _POOL_FIRST + 1)
    return f"10.0.{n // 256}.{n % 256}"


def _launched(run: Run, now: datetime) -> dict[str, Any]:
    """A build's end: launched now, with the fixed address the network gave it."""
    address = {"version": 4, "addr": fixed_address(run.instance.pk), "OS-EXT-IPS:type": "fixed"}
    return {"launched_at": now, "addresses": {"private": [address]}}


def _moved(run: Run, now: datetime) -> dict[str, Any]:
    """Resize and cold migration: the new flavor on the destination."""
    p = run.params
    return {"flavor_id": p["flavor_id"], "host": Host.objects.get(host=p["dest_host"])}


def _moved_back(run: Run, now: datetime) -> dict[str, Any]:
    """Revert: the old flavor on the old host; the resize's record is forgotten."""
    meta = {k: v for k, v in run.meta.items() if k not in MIGRATION_KEYS}
    return {
        "flavor_id": run.meta.get("old_flavor_id") or run.instance.flavor_id,
        "host": Host.objects.filter(host=run.meta.get("old_host")).first() or run.instance.host,
        "system_metadata": meta,
    }


def _live_moved(run: Run, now: datetime) -> dict[str, Any]:
    return {"host": Host.objects.get(host=run.params["dest_host"])}


def _rebuilt(run: Run, now: datetime) -> dict[str, Any]:
    fields: dict[str, Any] = {"image_id": run.params["image_id"]}
    if run.params.get("name"):
        fields["name"] = run.params["name"]
    return fields


def _restored(run: Run, now: datetime) -> dict[str, Any]:
    return {"soft_deleted_at": None}


def _shelved_image_kept(run: Run, now: datetime) -> dict[str, Any]:
    """Nova's ``shelved_image_id``: the snapshot unshelve will spawn from."""
    if not run.params.get("image_id"):
        return {}
    return {"system_metadata": {**run.meta, "shelved_image_id": run.params["image_id"]}}


def _shelved_image_forgotten(run: Run, now: datetime) -> dict[str, Any]:
    if "shelved_image_id" not in run.meta:
        return {}
    return {"system_metadata": {k: v for k, v in run.meta.items() if k != "shelved_image_id"}}


def _capture_kept(run: Run, failed: bool) -> None:
    """A snapshot's image: its bytes adopted (a hypervisor that wrote the capture into the
    store) and made active, or, on failure, deleted with whatever was written."""
    image_id = run.params.get("image_id")
    if not image_id:
        return
    written = snapshot_path(image_id)
    image = Image.objects.filter(pk=image_id).first()
    if failed:
        written.unlink(missing_ok=True)
    elif image is not None and written.is_file():
        image_adopt_file(image, path=written)
    Image.objects.filter(pk=image_id).update(
        status=Image.Status.DELETED if failed else Image.Status.ACTIVE,
        progress=0 if failed else 100,
    )


def _backup_kept_and_rotated(run: Run, failed: bool) -> None:
    """A backup's image kept as a snapshot's is, then Nova's ``_rotate_backups``: of this
    server's backups of the same ``backup_type``, the newest ``rotation`` stay and the older
    ones are deleted with their files (rotation 0 deletes them all, the new one too)."""
    _capture_kept(run, failed)
    backup_type, rotation = run.params.get("backup_type"), run.params.get("rotation")
    if failed or backup_type is None or rotation is None:
        return
    backups = [
        image
        for image in Image.objects.filter(server=run.instance)
        .exclude(status=Image.Status.DELETED)
        .order_by("-created_at", "-pk")
        if (image.metadata or {}).get("image_type") == "backup"
        and (image.metadata or {}).get("backup_type") == backup_type
    ]
    for image in backups[int(rotation) :]:
        image_remove_file(image)
        Image.objects.filter(pk=image.pk).delete()


def _shelved_image_released(run: Run, failed: bool) -> None:
    """Nova deletes the shelve snapshot once the instance runs again; the guest's disk no
    longer needs the file (the hypervisor keeps its own base copy)."""
    shelved = run.meta.get("shelved_image_id")
    if failed or not shelved:
        return
    image = Image.objects.filter(pk=shelved).first()
    if image is not None:
        image_remove_file(image)
        Image.objects.filter(pk=image.pk).update(status=Image.Status.DELETED)


def _password_forgotten(run: Run, failed: bool) -> None:
    """The password is not kept once the guest has it (or failed to take it)."""
    ActionDispatch.objects.filter(pk=run.dispatch.pk).update(params={})


FINISHERS: dict[str, Finish] = {
    "launch": Finish(fields=_launched),
    "move": Finish(fields=_moved),
    "move_back": Finish(fields=_moved_back),
    "live_move": Finish(fields=_live_moved),
    "evacuated": Finish(fields=_live_moved),
    "rebuild": Finish(fields=_rebuilt),
    "restore": Finish(fields=_restored),
    "capture": Finish(after=_capture_kept),
    "backup": Finish(after=_backup_kept_and_rotated),
    "shelve": Finish(fields=_shelved_image_kept, after=_capture_kept),
    "unshelve": Finish(fields=_shelved_image_forgotten, after=_shelved_image_released),
    "forget_password": Finish(after=_password_forgotten),
}
