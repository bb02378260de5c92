"""A flavor's extra specs (``/flavors/{id}/os-extra_specs``) and its project access
(``os-flavor-access``): admins write them, anyone who sees the flavor reads its specs. Keys and values as Nova's schema allows (1–255 characters of
``[a-zA-Z0-9-_:. ]`` for keys, at most 255 for values)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from compute import policy
from compute.context import RequestContext
from compute.exceptions import Conflict, NotFound
from compute.models import Flavor, FlavorAccess


def _admin(context: RequestContext, rule: str) -> None:
    if not context.is_admin:
        raise policy.refused(f"os_compute_api:os-flavor-extra-specs:{rule}")


def extra_specs_set(
    *, context: RequestContext, flavor: Flavor, specs: dict[str, str]
) -> dict[str, str]:
    """Merge ``specs`` into the flavor's; returns ``specs``."""
    _admin(context, "create")
    with transaction.atomic():
        current = (
            Flavor.objects.select_for_update()
            .filter(pk=flavor.pk)
            .values_list("extra_specs", flat=True)
            .get()
        )
        Flavor.objects.filter(pk=flavor.pk).update(extra_specs={**(current or {}), **specs})
    return specs


def extra_spec_delete(*, context: RequestContext, flavor: Flavor, key: str) -> None:
    _admin(context, "delete")
    with transaction.atomic():
        current = dict(
            Flavor.objects.select_for_update()
            .filter(pk=flavor.pk)
            .values_list("extra_specs", flat=True)
            .get()
            or {}
        )
        if key not in current:
            raise NotFound(f"Flavor {flavor.flavorid} has no extra specs with key {key}.")
        del current[key]
        Flavor.objects.filter(pk=flavor.pk).update(extra_specs=current)


def flavor_access_list(*, context: RequestContext, flavor: Flavor) -> list[str]:
    """The projects given a private flavor; Nova refuses the list for a public one."""
    _admin_access(context, "list")
    if flavor.is_public:
        raise NotFound("Access list not available for public flavors.")
    return list(
        FlavorAccess.objects.filter(flavor=flavor)
        .order_by("id")
        .values_list("project_id", flat=True)
    )


def flavor_access_add(*, context: RequestContext, flavor: Flavor, project_id: str) -> None:
    _admin_access(context, "add_tenant_access")
    if flavor.is_public:
        raise Conflict("Can not add access to a public flavor.")
    try:
        with transaction.atomic():
            FlavorAccess.objects.create(flavor=flavor, project_id=project_id)
    except IntegrityError:
        raise Conflict(
            f"Flavor access already exists for flavor {flavor.flavorid} and project "
            f"{project_id} combination."
        ) from None


def flavor_access_remove(*, context: RequestContext, flavor: Flavor, project_id: str) -> None:
    _admin_access(context, "remove_tenant_access")
    removed, _ = FlavorAccess.objects.filter(flavor=flavor, project_id=project_id).delete()
    if not removed:
        raise NotFound(f"Flavor access not found for {flavor.flavorid} / {project_id} combination.")


def _admin_access(context: RequestContext, rule: str) -> None:
    if not context.is_admin:
        raise policy.refused(f"os_compute_api:os-flavor-access:{rule}")
