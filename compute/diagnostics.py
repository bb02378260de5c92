"""A guest's diagnostics (Nova's ``get_instance_diagnostics``, the 2.48 standard format) and the
samples the instance page charts.

``GuestDiagnostics`` is what a driver reports now: cumulative counters (CPU time, bytes read and
written, octets received and sent) and gauges (memory in use, uptime). The agent samples every
running guest of its host every ``diagnostics_interval`` seconds (``sample_host``) and keeps, per
instance, the rates between two samples in ``InstanceSample`` — the last ``SAMPLES_KEPT`` seconds
only, so the table stays bounded whatever the uptime. A guest that is not running is not
sampled: its charts pause.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from compute.drivers.base import ComputeDriver
from compute.drivers.diagnostics import GuestDiagnostics
from compute.exceptions import ComputeError
from compute.models import Instance, InstanceSample
from compute.states import PowerState

log = logging.getLogger(__name__)

#: How far back the charts reach (an hour) and so what the table keeps.
SAMPLES_KEPT = 3600.0


def _rate(now: int, before: int, seconds: float) -> float:
    return max(0.0, (now - before) / seconds) if seconds > 0 else 0.0


def sample_host(*, host: str, driver: ComputeDriver, previous: dict[str, Any]) -> int:
    """One sampling pass over ``host``'s running guests: a row per guest with the rates since
    the guest's previous reading (``previous``: uuid → (monotonic time, GuestDiagnostics),
    kept by the caller between passes). Returns the rows written."""
    import time

    running = list(
        Instance.objects.filter(
            host__host=host, deleted_at__isnull=True, power_state=PowerState.RUNNING
        ).values_list("pk", "uuid")
    )
    now = timezone.now()
    rows: list[InstanceSample] = []
    seen: set[str] = set()
    for pk, uuid in running:
        key = str(uuid)
        seen.add(key)
        try:
            reading = driver.get_diagnostics(key)
        except ComputeError:
            continue
        at = time.monotonic()
        last = previous.get(key)
        previous[key] = (at, reading)
        if last is None or reading.state != PowerState.RUNNING:
            continue
        seconds = at - last[0]
        before: GuestDiagnostics = last[1]
        cpus = max(1, len(reading.cpu_details))
        cpu = _rate(reading.cpu_ns, before.cpu_ns, seconds) / 1e9 / cpus * 100
        read = sum(d.read_bytes for d in reading.disk_details)
        write = sum(d.write_bytes for d in reading.disk_details)
        rx = sum(n.rx_octets for n in reading.nic_details)
        tx = sum(n.tx_octets for n in reading.nic_details)
        rows.append(
            InstanceSample(
                instance_id=pk,
                at=now,
                cpu_percent=min(100.0, cpu),
                memory_used_mb=reading.memory_used_mb,
                memory_maximum_mb=reading.memory_maximum_mb,
                disk_read_bps=_rate(read, sum(d.read_bytes for d in before.disk_details), seconds),
                disk_write_bps=_rate(
                    write, sum(d.write_bytes for d in before.disk_details), seconds
                ),
                net_rx_bps=_rate(rx, sum(n.rx_octets for n in before.nic_details), seconds),
                net_tx_bps=_rate(tx, sum(n.tx_octets for n in before.nic_details), seconds),
            )
        )
    for gone in set(previous) - seen:  # stopped or moved away: its next reading starts afresh
        del previous[gone]
    with transaction.atomic():
        InstanceSample.objects.bulk_create(rows)
        InstanceSample.objects.filter(
            instance__host__host=host, at__lt=now - timedelta(seconds=SAMPLES_KEPT)
        ).delete()
    return len(rows)
