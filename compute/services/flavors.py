"""Flavor services: the admin's ``os-flavor-manage`` (create, describe, delete).

Nova's validation and texts. One difference: Nova copies a flavor into every instance, so it
may delete a flavor that instances still use; here an instance refers to its flavor, so a
flavor in use is refused with a 409 rather than pulled from under its instances.
"""

from __future__ import annotations

import re
import uuid

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from compute import policy
from compute.context import RequestContext
from compute.exceptions import Conflict, Invalid
from compute.models import Flavor, Instance

_FLAVORID = re.compile(r"^(?! )[a-zA-Z0-9. _-]+(?<! )$")
_MAX_INT = 2**31 - 1
_MAX_FLOAT = 3.40282e38


def _int(value: object, field: str, *, minimum: int) -> int:
    if isinstance(value, bool):
        raise Invalid(f"Invalid input for field/attribute {field}.")
    try:
        number = int(str(value))
    except ValueError:
        raise Invalid(f"Invalid input for field/attribute {field}. Value: {value}.") from None
    if not minimum <= number <= _MAX_INT:
        raise Invalid(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            f"{value} is less than the minimum of {minimum}"
        )
    return number


def flavor_create(
    *,
    context: RequestContext,
    name: str,
    ram: object,
    vcpus: object,
    disk: object,
    flavorid: str | None = None,
    ephemeral: object = 0,
    swap: object = 0,
    rxtx_factor: object = 1.0,
    is_public: bool = True,
    description: str | None = None,
) -> Flavor:
    policy.authorize(context, "os_compute_api:os-flavor-manage:create")
    if not isinstance(name, str) or not name.strip() or name != name.strip() or len(name) > 255:
        raise Invalid("Invalid input for field/attribute name.")
    if flavorid is None or flavorid == "":
        flavorid = str(uuid.uuid4())
    if not isinstance(flavorid, str) or len(flavorid) > 255 or not _FLAVORID.match(flavorid):
        raise Invalid("Invalid input for field/attribute id.")
    try:
        factor = float(str(rxtx_factor))
    except ValueError:
        raise Invalid("Invalid input for field/attribute rxtx_factor.") from None
    # Nova's bounds (a single-precision float column); float() also reads "1e999" as infinity,
    # which no JSON answer could carry.
    if not 0 < factor <= _MAX_FLOAT:
        raise Invalid("Invalid input for field/attribute rxtx_factor.")
    if description is not None and (not isinstance(description, str) or len(description) > 65535):
        raise Invalid("Invalid input for field/attribute description.")
    fields = {
        "ram": _int(ram, "ram", minimum=1),
        "vcpus": _int(vcpus, "vcpus", minimum=1),
        "disk": _int(disk, "disk", minimum=0),
        "ephemeral": _int(ephemeral, "OS-FLV-EXT-DATA:ephemeral", minimum=0),
        "swap": _int(swap or 0, "swap", minimum=0),
    }
    if Flavor.objects.filter(name=name).exists():
        raise Conflict(f"Flavor with name {name} already exists.")
    if Flavor.objects.filter(flavorid=flavorid).exists():
        raise Conflict(f"Flavor with ID {flavorid} already exists.")
    try:
        with transaction.atomic():
            return Flavor.objects.create(
                flavorid=flavorid,
                name=name,
                rxtx_factor=factor,
                is_public=bool(is_public),
                description=description,
                **fields,
            )
    except IntegrityError:  # a concurrent create with the same name or id won
        raise Conflict(f"Flavor with name {name} or ID {flavorid} already exists.") from None


def flavor_update(*, context: RequestContext, flavor: Flavor, description: str | None) -> Flavor:
    """Nova 2.55: only the description of a flavor may change."""
    policy.authorize(context, "os_compute_api:os-flavor-manage:update")
    if description is not None and (not isinstance(description, str) or len(description) > 65535):
        raise Invalid("Invalid input for field/attribute description.")
    Flavor.objects.filter(pk=flavor.pk).update(description=description)
    flavor.refresh_from_db()
    return flavor


def flavor_delete(*, context: RequestContext, flavor: Flavor) -> None:
    policy.authorize(context, "os_compute_api:os-flavor-manage:delete")
    users = Instance.objects.filter(flavor=flavor).count()
    if users:
        raise Conflict(
            f"Flavor {flavor.flavorid} is used by {users} instance(s) and cannot be deleted."
        )
    try:
        flavor.delete()
    except ProtectedError:  # an instance took the flavor meanwhile
        raise Conflict(f"Flavor {flavor.flavorid} is in use and cannot be deleted.") from None
