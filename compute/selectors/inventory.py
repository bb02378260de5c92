"""What each compute host holds: the reads behind os-hypervisors, os-hosts, availability zones
and usage. Read-only; nothing here writes.

A host's capacity is not measured (the fake driver has none, and the libvirt driver does not
report it yet): every host reports ``HOST_CAPACITY``, and what is used is summed from the
flavors of the live instances placed on it, as Nova's resource tracker sums them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, Sum

from compute.models import Host, Instance


@dataclass(frozen=True)
class Capacity:
    vcpus: int
    memory_mb: int
    local_gb: int


#: What every host reports as its size (see the module docstring).
HOST_CAPACITY = Capacity(vcpus=64, memory_mb=262144, local_gb=4096)

#: Nova's ``initial_cpu_allocation_ratio``, ``initial_ram_allocation_ratio`` and
#: ``initial_disk_allocation_ratio``: the placement inventory a host offers is its size times
#: these (vCPUs are overcommitted four to one, memory and disk are not). os-hypervisors shows
#: the size; what fits on a host is measured against the inventory.
ALLOCATION_RATIOS = Capacity(vcpus=4, memory_mb=1, local_gb=1)


def schedulable(capacity: Capacity) -> Capacity:
    """The inventory placement offers for a host of this size (``ALLOCATION_RATIOS``)."""
    return Capacity(
        vcpus=capacity.vcpus * ALLOCATION_RATIOS.vcpus,
        memory_mb=capacity.memory_mb * ALLOCATION_RATIOS.memory_mb,
        local_gb=capacity.local_gb * ALLOCATION_RATIOS.local_gb,
    )


@dataclass(frozen=True)
class HostUsage:
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    running_vms: int


def live_instances() -> Q:
    return Q(deleted_at__isnull=True)


def host_usage(hosts: list[Host]) -> dict[int, HostUsage]:
    """Per host pk: the flavors of its live instances, summed (one query)."""
    rows = (
        Instance.objects.filter(live_instances(), host__in=hosts)
        .values("host_id")
        .annotate(
            vcpus=Sum("flavor__vcpus"),
            ram=Sum("flavor__ram"),
            disk=Sum("flavor__disk"),
            count=Count("id"),
        )
    )
    usage = {
        row["host_id"]: HostUsage(
            row["vcpus"] or 0, row["ram"] or 0, row["disk"] or 0, row["count"]
        )
        for row in rows
    }
    empty = HostUsage(0, 0, 0, 0)
    return {host.pk: usage.get(host.pk, empty) for host in hosts}


def host_servers(hosts: list[Host]) -> dict[int, list[tuple[str, str]]]:
    """Per host pk: (uuid, name) of its live instances (one query)."""
    out: dict[int, list[tuple[str, str]]] = {host.pk: [] for host in hosts}
    rows = Instance.objects.filter(live_instances(), host__in=hosts).order_by("created_at", "id")
    for host_id, uuid, name in rows.values_list("host_id", "uuid", "name"):
        out[host_id].append((str(uuid), name))
    return out


def project_usage_on_host(host: Host) -> dict[str, HostUsage]:
    """Per project id: what its live instances on ``host`` use (one query)."""
    rows = (
        Instance.objects.filter(live_instances(), host=host)
        .values("project_id")
        .annotate(
            vcpus=Sum("flavor__vcpus"),
            ram=Sum("flavor__ram"),
            disk=Sum("flavor__disk"),
            count=Count("id"),
        )
        .order_by("project_id")
    )
    return {
        row["project_id"]: HostUsage(
            row["vcpus"] or 0, row["ram"] or 0, row["disk"] or 0, row["count"]
        )
        for row in rows
    }


def instances_overlapping(
    *, start: datetime, end: datetime, project_id: str | None = None
) -> list[Instance]:
    """Instances that existed at some moment of [start, end), with their flavors (Nova's
    simple-tenant-usage window)."""
    rows = Instance.objects.filter(created_at__lt=end).filter(
        Q(deleted_at__isnull=True) | Q(deleted_at__gte=start)
    )
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    return list(rows.select_related("flavor").order_by("project_id", "created_at", "id"))
