"""Compute hosts as the admin's pages and the os-services API read them."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from compute.exceptions import NotFound
from compute.models import Host, Instance, PowerSyncPass


def host_list() -> QuerySet[Host]:
    return Host.objects.annotate(
        live_instances=Count("instances", filter=Q(instances__deleted_at__isnull=True))
    ).order_by("host")


def host_get(*, host: str | None = None, host_uuid: str | None = None) -> Host:
    if host is not None:
        found = Host.objects.filter(host=host).first()
    else:
        try:
            found = Host.objects.filter(uuid=uuidlib.UUID(str(host_uuid))).first()
        except ValueError:
            found = None
    if found is None:
        raise NotFound(f"Compute host {host or host_uuid} could not be found.")
    return found


def hosts_vm_state_counts(hosts: Sequence[Host]) -> dict[int, dict[str, int]]:
    """Each host's live instances per vm_state: one query, whatever the number of hosts."""
    rows = (
        Instance.objects.filter(host__in=[h.pk for h in hosts], deleted_at__isnull=True)
        .values_list("host_id", "vm_state")
        .annotate(n=Count("id"))
    )
    out: dict[int, dict[str, int]] = {}
    for host_id, vm_state, n in rows:
        out.setdefault(host_id, {})[vm_state] = n
    return out


def hosts_last_sync(hosts: Sequence[Host]) -> dict[int, PowerSyncPass]:
    """The latest power-state sync pass of each host: one query, whatever the number of hosts."""
    latest = (
        PowerSyncPass.objects.filter(host=OuterRef("host_id"))
        .order_by("-started_at", "-id")
        .values("id")[:1]
    )
    passes = PowerSyncPass.objects.filter(host__in=[h.pk for h in hosts]).filter(
        id=Subquery(latest)
    )
    return {p.host_id: p for p in passes}
