"""Glance's image records, the writes: create (queued, no data yet), delete, and the custom
properties (Nova's ``/images/{id}/metadata``). The bytes are ``compute.image_store``'s.

Ownership and visibility live among the image's properties (``owner``, ``visibility``): an image
a member creates is private to their project unless shared; only admins make public ones. The
seeded catalogue has neither and is public; snapshots belong to their server's project.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from django.db import transaction

from compute.context import RequestContext
from compute.exceptions import Conflict, Forbidden, Invalid, NotFound
from compute.image_store import image_remove_file
from compute.models import Image

#: Properties that are Glance attributes, not custom ones.
RESERVED = frozenset({"owner", "visibility", "protected", "tags", "os_hidden"})
VISIBILITIES = ("public", "private", "shared", "community")


def image_owner(image: Image) -> str | None:
    if image.server is not None:
        return image.server.project_id
    return (image.metadata or {}).get("owner")


def not_authorized(image: Image) -> Forbidden:
    """Glance's refusal as Nova's image proxy passes it on (``ImageNotAuthorized``): Nova has
    no policy rule of its own for an image's properties."""
    return Forbidden(f"Not authorized for image {image.pk}.")


def may_write(context: RequestContext, image: Image) -> bool:
    owner = image_owner(image)
    return context.is_admin or (owner is not None and owner in context.project_ids)


def image_create(
    *,
    context: RequestContext,
    name: str | None,
    image_id: str | None = None,
    disk_format: str | None = None,
    container_format: str | None = None,
    visibility: str = "shared",
    min_disk: int = 0,
    min_ram: int = 0,
    protected: bool = False,
    tags: list[str] | None = None,
    properties: dict[str, Any] | None = None,
) -> Image:
    if visibility not in VISIBILITIES:
        raise Invalid(f"Invalid visibility value: {visibility}")
    if visibility == "public" and not context.is_admin:
        raise Forbidden("You are not authorized to complete publicize_image action.")
    metadata = {k: v for k, v in (properties or {}).items() if k not in RESERVED}
    metadata.update({"visibility": visibility, "protected": bool(protected), "tags": tags or []})
    if context.project_id is not None:
        metadata["owner"] = context.project_id
    fields: dict[str, Any] = {
        "name": name or "",
        "status": Image.Status.QUEUED,
        "progress": 0,
        "size": 0,
        "min_disk": min_disk,
        "min_ram": min_ram,
        "disk_format": disk_format,
        "container_format": container_format,
        "metadata": metadata,
    }
    if image_id is not None:
        try:
            fields["id"] = uuidlib.UUID(image_id)
        except ValueError:
            raise Invalid(f"Invalid image id: {image_id}") from None
        if Image.objects.filter(pk=fields["id"]).exists():
            raise Conflict(f"Image with identifier {image_id} already exists!")
    return Image.objects.create(**fields)


def image_delete(*, context: RequestContext, image: Image) -> None:
    if not may_write(context, image):
        raise Forbidden("You are not authorized to complete delete action.")
    if (image.metadata or {}).get("protected"):
        raise Forbidden(f"Image {image.pk} is protected and cannot be deleted.")
    image_remove_file(image)
    Image.objects.filter(pk=image.pk).delete()


def custom_properties(image: Image) -> dict[str, Any]:
    return {k: v for k, v in (image.metadata or {}).items() if k not in RESERVED}


def image_properties_set(
    *, context: RequestContext, image: Image, values: dict[str, Any], replace: bool
) -> dict[str, Any]:
    """Merge (or replace) the image's custom properties; the custom properties after."""
    if not may_write(context, image):
        raise not_authorized(image)
    with transaction.atomic():
        current = dict(
            Image.objects.select_for_update()
            .filter(pk=image.pk)
            .values_list("metadata", flat=True)
            .get()
            or {}
        )
        kept = {k: v for k, v in current.items() if k in RESERVED}
        custom = {} if replace else {k: v for k, v in current.items() if k not in RESERVED}
        custom.update(values)
        Image.objects.filter(pk=image.pk).update(metadata={**kept, **custom})
    return custom


def image_property_delete(*, context: RequestContext, image: Image, key: str) -> None:
    if not may_write(context, image):
        raise not_authorized(image)
    with transaction.atomic():
        current = dict(
            Image.objects.select_for_update()
            .filter(pk=image.pk)
            .values_list("metadata", flat=True)
            .get()
            or {}
        )
        if key in RESERVED or key not in current:
            raise NotFound("Image not found.")
        del current[key]
        Image.objects.filter(pk=image.pk).update(metadata=current)
