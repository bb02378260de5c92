"""Validating an action's parameters before anything changes.

Each action that takes parameters has a preparer here. It turns the request's values into the
dispatch's JSON params, the instance fields written when the action is accepted, and — for the
actions that move an instance — the host whose agent runs it. Every bad value is refused with a
400 (or Nova's 409 / 403) before the state machine is touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from compute import policy
from compute.actions import ActionSpec
from compute.conf import conf
from compute.context import RequestContext
from compute.exceptions import Conflict, Invalid, NotFound, NoValidHost
from compute.models import Flavor, Host, Image, Instance
from compute.scheduler import select_host
from compute.selectors.catalog import flavor_get, visible_images
from compute.states import VmState

#: The system_metadata a resize or migration keeps until it is confirmed or reverted.
MIGRATION_KEYS = ("old_flavor_id", "new_flavor_id", "old_host", "new_host")


@dataclass
class Prepared:
    params: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    #: The host whose agent runs the action, when it is not the instance's own.
    host: Host | None = None
    #: Undoes what preparing made, if the action then does not start (a snapshot's queued
    #: image would otherwise wait "queued" for ever).
    undo: Callable[[], None] | None = None


Preparer = Callable[[ActionSpec, Instance, RequestContext, dict[str, Any]], Prepared]


def usable_image(context: RequestContext, value: object, *, what: str = "imageRef") -> Image:
    """An active image the caller may see (Glance's visibility), or Nova's 400."""
    try:
        pk = uuid.UUID(str(value))
    except ValueError:
        raise Invalid(f"Invalid {what} provided.") from None
    image = visible_images(context).filter(pk=pk, status=Image.Status.ACTIVE).first()
    if image is None:
        raise Invalid(f"Image {value} could not be found.")
    return image


def usable_flavor(context: RequestContext, ref: object, *, missing: str) -> Flavor:
    """A flavor the caller may use (public, or private with its project's access), or a 400."""
    try:
        return flavor_get(context=context, flavor_id=str(ref))
    except NotFound:
        raise Invalid(missing) from None


def _text(params: dict[str, Any], key: str, *, required: bool, limit: int = 255) -> str | None:
    value = params.get(key)
    if value is None:
        if required:
            raise Invalid(f"Invalid input: '{key}' is a required property")
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise Invalid(f"Invalid input for field/attribute {key}.")
    return value


def _destination(
    spec: ActionSpec,
    instance: Instance,
    context: RequestContext,
    params: dict[str, Any],
    *,
    allow_same: bool,
    what: str,
) -> Host:
    requested = params.get("host")
    if requested is not None and not isinstance(requested, str):
        raise Invalid("Invalid input for field/attribute host.")
    if requested:
        policy.authorize(context, f"{spec.policy}:host")
    exclude = () if allow_same or instance.host_id is None else (instance.host_id,)
    try:
        return select_host(exclude=exclude, requested=requested or None)
    except NoValidHost:
        raise NoValidHost(f"No valid host found for {what}.") from None


def _resize(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    ref = params.get("flavorRef")
    if ref is None or isinstance(ref, bool | dict | list):
        raise Invalid("Resize requests require 'flavorRef' attribute.")
    flavor = usable_flavor(context, ref, missing="Invalid flavorRef provided.")
    if flavor.pk == instance.flavor_id:
        raise Invalid("When resizing, instances must change flavor!")
    dest = _destination(
        spec, instance, context, {}, allow_same=conf().allow_resize_to_same_host, what="resize"
    )
    return _moving(instance, dest, new_flavor=flavor)


def _migrate(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    dest = _destination(spec, instance, context, params, allow_same=False, what="cold migrate")
    return _moving(instance, dest, new_flavor=instance.flavor)


def _moving(instance: Instance, dest: Host, *, new_flavor: Flavor) -> Prepared:
    meta = {
        "old_flavor_id": instance.flavor_id,
        "new_flavor_id": new_flavor.pk,
        "old_host": instance.host.host if instance.host_id else None,
        "new_host": dest.host,
    }
    return Prepared(
        params={"dest_host": dest.host, "flavor_id": new_flavor.pk},
        fields={"system_metadata": meta},
    )


def _live_migrate(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    dest = _destination(spec, instance, context, params, allow_same=False, what="live migration")
    return Prepared(params={"dest_host": dest.host})


def _evacuate(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    """Nova's evacuate: a named host must exist (404) and not be the instance's own (400);
    the destination's agent rebuilds it there."""
    requested = params.get("host")
    if requested is not None and not isinstance(requested, str):
        raise Invalid("Invalid input for field/attribute host.")
    if requested:
        if not Host.objects.filter(host=requested).exists():
            raise NotFound(f"Compute host {requested} not found.")
        if instance.host_id is not None and instance.host.host == requested:
            raise Invalid("The target host can't be the same one.")
    exclude = () if instance.host_id is None else (instance.host_id,)
    try:
        dest = select_host(exclude=exclude, requested=requested or None)
    except NoValidHost:
        raise NoValidHost(
            f"No valid host found for evacuate to {requested}."
            if requested
            else "No valid host found for evacuate."
        ) from None
    return Prepared(params={"dest_host": dest.host}, host=dest)


def _rebuild(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    image = usable_image(context, params.get("imageRef"))
    name = _text(params, "name", required=False)
    out = {"image_id": str(image.pk)}
    if name:
        out["name"] = name.strip()
    return Prepared(params=out)


def _create_image(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    name = _text(params, "name", required=True)
    # Nova's image properties: a backup is ``image_type=backup`` with its ``backup_type``, and
    # its agent gets the rotation (the backups of that type it keeps, ``_rotate_backups``).
    kept: dict[str, Any] = {"image_type": "snapshot"}
    backup: dict[str, Any] = {}
    if spec.key == "createBackup":
        if params.get("backup_type") is None:
            raise Invalid("Invalid input: 'backup_type' is a required property")
        rotation = params.get("rotation")
        if isinstance(rotation, bool) or not isinstance(rotation, int | str):
            raise Invalid("Invalid input: 'rotation' is a required property")
        try:
            if int(rotation) < 0:
                raise ValueError
        except ValueError:
            raise Invalid("Invalid input for field/attribute rotation.") from None
        backup = {"backup_type": str(params["backup_type"]), "rotation": int(rotation)}
        kept = {"image_type": "backup", "backup_type": backup["backup_type"]}
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Invalid("Invalid input for field/attribute metadata.")
    image = Image.objects.create(
        name=name,
        status=Image.Status.QUEUED,
        progress=0,
        server=instance,
        min_disk=instance.flavor.disk,
        # Nova's snapshot keeps the instance image's min_ram (``image_min_ram``).
        min_ram=instance.image.min_ram if instance.image is not None else 0,
        # Nova's order (compute.utils.create_image): the request's properties over its own.
        metadata={**kept, **{str(k): str(v) for k, v in metadata.items()}},
    )

    def undo() -> None:
        Image.objects.filter(pk=image.pk, status=Image.Status.QUEUED).delete()

    return Prepared(params={"image_id": str(image.pk), "name": name, **backup}, undo=undo)


def _change_password(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    password = params.get("adminPass")
    if not isinstance(password, str):
        raise Invalid("Invalid input: 'adminPass' is a required property")
    # The password goes to the agent through the dispatch row and is wiped when it finishes.
    return Prepared(params={"adminPass": password})


def _rescue(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    ref = params.get("rescue_image_ref")
    image = usable_image(context, ref, what="rescue_image_ref") if ref else instance.image
    return Prepared(params={"image": image.name if image else ""})


def _unshelve(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    zone = params.get("availability_zone")
    requested = params.get("host")
    # Nova's ``_check_offloaded``: naming a zone (even null, from 2.91) or a host is for an
    # offloaded server only; a shelved one still belongs to its host.
    if instance.vm_state == VmState.SHELVED:
        if "availability_zone" in params or requested:
            raise Conflict(
                "Specifying an availability zone or a host when unshelving server "
                f'"{instance.uuid}" with status "{instance.vm_state}" is not supported. '
                "The server status must be SHELVED_OFFLOADED."
            )
        return Prepared()
    if requested:
        policy.authorize(context, "os_compute_api:os-shelve:unshelve_to_host")
    try:
        dest = select_host(requested=requested or None, zone=zone or None)
    except NoValidHost:
        raise NoValidHost("No valid host found for unshelve.") from None
    return Prepared(params={"dest_host": dest.host}, fields={"host": dest}, host=dest)


def _reset_state(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    state = params.get("state")
    if state not in spec.chosen_results:
        wanted = " or ".join(f"'{s}'" for s in spec.chosen_results)
        raise Invalid(f"Invalid input for field/attribute state. Value: must be {wanted}")
    return Prepared(params={"state": state})


def _lock(
    spec: ActionSpec, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    return Prepared(params={"locked_reason": _text(params, "locked_reason", required=False)})


#: The preparers by the name an action's row gives them (``ActionSpec.prepare``).
PREPARERS: dict[str, Preparer] = {
    "resize": _resize,
    "migrate": _migrate,
    "live_migrate": _live_migrate,
    "evacuate": _evacuate,
    "rebuild": _rebuild,
    "snapshot": _create_image,
    "change_password": _change_password,
    "rescue": _rescue,
    "unshelve": _unshelve,
    "reset_state": _reset_state,
    "lock": _lock,
}


def prepare(
    spec: ActionSpec, *, instance: Instance, context: RequestContext, params: dict[str, Any]
) -> Prepared:
    return PREPARERS[spec.prepare](spec, instance, context, params) if spec.prepare else Prepared()
