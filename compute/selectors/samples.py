"""The instance page's chart data: an instance's samples (``compute.diagnostics``), as its
viewer may see them (the instance's projects only, through ``instance_get``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from compute.context import RequestContext
from compute.diagnostics import SAMPLES_KEPT
from compute.models import InstanceSample
from compute.selectors.instances import instance_get

#: One row per sample: epoch ms, CPU %, memory used / maximum MiB, disk read / write B/s,
#: network rx / tx B/s.
Row = tuple[int, float, int, int, float, float, float, float]


def instance_samples(
    *, context: RequestContext, instance_uuid: str, since: datetime | None = None
) -> list[Row]:
    """The last hour's samples of the instance, from ``since`` on if given, oldest first."""
    instance = instance_get(context=context, instance_uuid=instance_uuid, joined=())
    oldest = timezone.now() - timedelta(seconds=SAMPLES_KEPT)
    rows = InstanceSample.objects.filter(instance=instance, at__gte=max(since or oldest, oldest))
    return [
        (
            int(s.at.timestamp() * 1000),
            round(s.cpu_percent, 1),
            s.memory_used_mb,
            s.memory_maximum_mb,
            round(s.disk_read_bps),
            round(s.disk_write_bps),
            round(s.net_rx_bps),
            round(s.net_tx_bps),
        )
        for s in rows.order_by("at")[:1000]
    ]
