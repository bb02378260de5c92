"""Host aggregates (``os-aggregates``, admin): named groups of compute hosts with metadata, and
availability zones (an aggregate's ``availability_zone`` is its hosts' zone, as in Nova; a host
leaves for the default zone ``nova`` when it leaves its last zoned aggregate).

Nova's rules: unique names; a host is added once; a host cannot be in two aggregates that name
different zones; an aggregate with hosts cannot be deleted.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from compute.exceptions import ComputeError, Conflict, Invalid, NotFound
from compute.models import Aggregate, Host

DEFAULT_ZONE = "nova"


class AggregateNameExists(ComputeError):
    code = 409
    fault = "conflictingRequest"


def aggregate_get(*, aggregate_id: str) -> Aggregate:
    found = (
        Aggregate.objects.filter(pk=int(aggregate_id)).first()
        if re.fullmatch(r"[0-9]{1,18}", aggregate_id)
        else None
    )
    if found is None:
        raise NotFound(f"Aggregate {aggregate_id} could not be found.")
    return found


def aggregate_create(*, name: str, availability_zone: str | None) -> Aggregate:
    try:
        with transaction.atomic():
            return Aggregate.objects.create(
                name=name,
                availability_zone=availability_zone,
                metadata={"availability_zone": availability_zone} if availability_zone else {},
            )
    except IntegrityError:
        raise AggregateNameExists(f"Aggregate {name} already exists.") from None


def _zone_of(host: str, *, besides: Aggregate | None = None) -> str | None:
    for other in Aggregate.objects.exclude(availability_zone__isnull=True):
        if besides is not None and other.pk == besides.pk:
            continue
        if host in (other.hosts or []):
            return other.availability_zone
    return None


def _apply_zone(host: str) -> None:
    Host.objects.filter(host=host).update(zone=_zone_of(host) or DEFAULT_ZONE)


def aggregate_update(
    *, aggregate: Aggregate, name: str | None = None, availability_zone: Any = ...
) -> Aggregate:
    with transaction.atomic():
        if name is not None and name != aggregate.name:
            if Aggregate.objects.filter(name=name).exclude(pk=aggregate.pk).exists():
                raise AggregateNameExists(f"Aggregate {name} already exists.")
            aggregate.name = name
        if availability_zone is not ...:
            for host in aggregate.hosts or []:
                other = _zone_of(host, besides=aggregate)
                if availability_zone and other and other != availability_zone:
                    raise Invalid(
                        f"Cannot update aggregate {aggregate.pk}. Reason: One or more hosts "
                        "contained in aggregate cannot be moved to new availability zone."
                    )
            aggregate.availability_zone = availability_zone
            meta = dict(aggregate.metadata or {})
            if availability_zone:
                meta["availability_zone"] = availability_zone
            else:
                meta.pop("availability_zone", None)
            aggregate.metadata = meta
        aggregate.updated_at = timezone.now()
        aggregate.save()
        for host in aggregate.hosts or []:
            _apply_zone(host)
    return aggregate


def aggregate_delete(*, aggregate: Aggregate) -> None:
    if aggregate.hosts:
        raise Invalid(
            f"Cannot remove aggregate {aggregate.pk}. Reason: Host aggregate is not empty."
        )
    aggregate.delete()


def aggregate_add_host(*, aggregate: Aggregate, host: str) -> Aggregate:
    if not Host.objects.filter(host=host).exists():
        raise NotFound(f"Compute host {host} could not be found.")
    with transaction.atomic():
        aggregate = Aggregate.objects.select_for_update().get(pk=aggregate.pk)
        if host in (aggregate.hosts or []):
            raise Conflict(f"Aggregate {aggregate.pk} already has host {host}.")
        other = _zone_of(host, besides=aggregate)
        if aggregate.availability_zone and other and other != aggregate.availability_zone:
            raise Invalid(
                f"Cannot add host to aggregate {aggregate.pk}. Reason: One or more hosts "
                f"already in availability zone(s) ['{other}']."
            )
        aggregate.hosts = [*(aggregate.hosts or []), host]
        aggregate.updated_at = timezone.now()
        aggregate.save()
        _apply_zone(host)
    return aggregate


def aggregate_remove_host(*, aggregate: Aggregate, host: str) -> Aggregate:
    with transaction.atomic():
        aggregate = Aggregate.objects.select_for_update().get(pk=aggregate.pk)
        if host not in (aggregate.hosts or []):
            if not Host.objects.filter(host=host).exists():
                raise NotFound(f"Compute host {host} could not be found.")
            raise NotFound(f"Cannot remove host {host} in aggregate {aggregate.pk}: not found")
        aggregate.hosts = [h for h in aggregate.hosts if h != host]
        aggregate.updated_at = timezone.now()
        aggregate.save()
        _apply_zone(host)
    return aggregate


def aggregate_set_metadata(*, aggregate: Aggregate, metadata: dict[str, Any]) -> Aggregate:
    """Nova's set_metadata: a null value deletes the key; ``availability_zone`` moves the zone."""
    zone = metadata.get("availability_zone", ...)
    if zone is not ...:
        aggregate = aggregate_update(aggregate=aggregate, availability_zone=zone)
    with transaction.atomic():
        aggregate = Aggregate.objects.select_for_update().get(pk=aggregate.pk)
        meta = dict(aggregate.metadata or {})
        for key, value in metadata.items():
            if key == "availability_zone":
                continue
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
        aggregate.metadata = meta
        aggregate.updated_at = timezone.now()
        aggregate.save()
    return aggregate
