"""The whole-fleet pass ``sync_power_states`` runs: every host once, in chunks where the driver
allows.

A driver that can list many hosts' guests in one call (``list_power_states_of_hosts``; the fake
hypervisor, whose guests are rows of one table) has its hosts synced ``chunk`` at a time by
``compute.sync.passes.sync_hosts``: per chunk one read of the guests, one of the instances, one
power write and one insert of the records, in one transaction, so the queries per host shrink
with the chunk instead of staying at a pass's five. The decisions, the write-time checks and
the per-host records are those of ``sync_host``, which is a chunk of one. Hosts on any other
driver (libvirt: one hypervisor per host) are synced one by one, as their agents do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from compute.drivers.base import ComputeDriver
from compute.models import Host, PowerSyncPass
from compute.sync.passes import GuestLister, sync_host, sync_hosts

#: Hosts per chunk: 100 hosts of 100 instances is one read of 10,000 rows and a write of the
#: ones that drifted — large enough that the per-chunk round trips vanish per host, small enough
#: that a chunk's transaction stays short.
CHUNK_HOSTS = 100


def multi_host_lister(driver: ComputeDriver) -> GuestLister | None:
    """The driver's listing of many hosts' guests in one call, if it has one."""
    lister = getattr(type(driver), "list_power_states_of_hosts", None)
    return lister if callable(lister) else None


def sync_fleet(
    *, hosts: Sequence[Host], drivers: Mapping[int, ComputeDriver], chunk: int = CHUNK_HOSTS
) -> list[PowerSyncPass]:
    """One pass over every host of ``hosts`` (``drivers`` by host id); one record per host, in
    the order given. ``chunk`` 1 syncs every host on its own."""
    records: dict[int, PowerSyncPass] = {}
    waiting: dict[GuestLister, list[Host]] = {}

    def run(lister: GuestLister) -> None:
        group = waiting.pop(lister)
        for record in sync_hosts(hosts=group, drivers=drivers, list_guests=lister):
            records[record.host_id] = record

    for host in hosts:
        lister = multi_host_lister(drivers[host.pk]) if chunk > 1 else None
        if lister is None:
            records[host.pk] = sync_host(host=host, driver=drivers[host.pk])
            continue
        waiting.setdefault(lister, []).append(host)
        if len(waiting[lister]) >= chunk:
            run(lister)
    for lister in list(waiting):
        run(lister)
    return [records[host.pk] for host in hosts]
