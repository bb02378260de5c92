"""Reads of the catalogue: the flavors and images a caller may see, filtered, sorted and paged.

Visibility follows Nova and Glance: everybody sees public flavors, only admins see private
ones (there are no per-project flavor grants here); everybody sees the public images, a
snapshot only the members of its server's project and the admins. Something a caller may not
see is "not found", never "forbidden".
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q, QuerySet

from compute.context import RequestContext
from compute.exceptions import Invalid, NotFound
from compute.models import Flavor, FlavorAccess, Image
from compute.selectors.instances import uuid_or_none

#: Nova's flavor sort keys that exist here, mapped to columns.
FLAVOR_SORT_KEYS: dict[str, str] = {
    "flavorid": "flavorid",
    "id": "id",
    "name": "name",
    "memory_mb": "ram",
    "vcpus": "vcpus",
    "root_gb": "disk",
    "ephemeral_gb": "ephemeral",
    "swap": "swap",
    "rxtx_factor": "rxtx_factor",
    "is_public": "is_public",
    "description": "description",
}


def flavor_list(
    *,
    context: RequestContext,
    is_public: bool | None = True,
    min_ram: int | None = None,
    min_disk: int | None = None,
    sort_key: str = "flavorid",
    sort_dir: str = "asc",
) -> QuerySet[Flavor]:
    """Flavors, sorted. ``is_public`` None means public and private (admins only)."""
    rows = Flavor.objects.all()
    if not context.is_admin:
        # Nova: the public flavors and the private ones the caller's project may use.
        rows = rows.filter(_usable(context))
    elif is_public is not None:
        rows = rows.filter(is_public=is_public)
    if min_ram is not None:
        rows = rows.filter(ram__gte=min_ram)
    if min_disk is not None:
        rows = rows.filter(disk__gte=min_disk)
    if sort_key not in FLAVOR_SORT_KEYS:
        raise Invalid(f"Invalid sort key: {sort_key}")
    if sort_dir not in ("asc", "desc"):
        raise Invalid(f"Invalid sort direction: {sort_dir}")
    prefix = "-" if sort_dir == "desc" else ""
    return rows.order_by(prefix + FLAVOR_SORT_KEYS[sort_key], prefix + "id")


def _usable(context: RequestContext) -> Q:
    granted = FlavorAccess.objects.filter(project_id=context.project_id).values("flavor_id")
    return Q(is_public=True) | Q(pk__in=granted)


def flavor_get(*, context: RequestContext, flavor_id: str) -> Flavor:
    rows = Flavor.objects.all() if context.is_admin else Flavor.objects.filter(_usable(context))
    found = rows.filter(flavorid=str(flavor_id)).first()
    if found is None:
        raise NotFound(f"Flavor {flavor_id} could not be found.")
    return found


def page_after(
    rows: Sequence[Flavor] | QuerySet[Flavor], *, marker: str | None, limit: int | None
) -> list[Flavor]:
    """Marker pagination over flavors: the page after the flavor whose flavorid is ``marker``."""
    items = list(rows)
    if marker is not None:
        ids = [f.flavorid for f in items]
        if marker not in ids:
            raise Invalid(f"marker [{marker}] not found")
        items = items[ids.index(marker) + 1 :]
    return items[:limit] if limit is not None else items


def visible_images(context: RequestContext) -> QuerySet[Image]:
    rows = Image.objects.exclude(status=Image.Status.DELETED).select_related("server")
    if context.is_admin:
        return rows
    # The catalogue (no server, no owner), the caller's projects' snapshots, and the images
    # their projects own or that are public (``compute.services.glance``).
    return rows.filter(
        Q(server__isnull=True, metadata__owner__isnull=True)
        | Q(server__project_id__in=context.project_ids)
        | Q(metadata__owner__in=list(context.project_ids))
        | Q(metadata__visibility="public")
    )


def image_list(*, context: RequestContext, ids: Sequence[str] = ()) -> QuerySet[Image]:
    rows = visible_images(context).order_by("name", "id")
    if ids:
        rows = rows.filter(pk__in=[u for u in map(uuid_or_none, ids) if u is not None])
    return rows


def image_get(*, context: RequestContext, image_id: str) -> Image:
    pk = uuid_or_none(image_id)
    found = visible_images(context).filter(pk=pk).first() if pk else None
    if found is None:
        raise NotFound(f"Image {image_id} could not be found.")
    return found
