"""A flavor's extra specs (``/flavors/{id}/os-extra_specs``): admins write them, anyone who
sees the flavor reads them. Keys and values as Nova's schema allows (1–255 characters of
``[a-zA-Z0-9-_:. ]`` for keys, at most 255 for values)."""

from __future__ import annotations

from django.db import transaction

from compute import policy
from compute.context import RequestContext
from compute.exceptions import NotFound
from compute.models import Flavor


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
