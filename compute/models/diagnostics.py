"""What the agent samples of each running guest, for the instance page's charts: rates between
two readings of the driver's diagnostics, the last hour only (``compute.diagnostics``)."""

from __future__ import annotations

from django.db import models


class InstanceSample(models.Model):
    instance = models.ForeignKey(
        "compute.Instance", on_delete=models.CASCADE, related_name="samples"
    )
    at = models.DateTimeField()
    cpu_percent = models.FloatField()
    memory_used_mb = models.IntegerField()
    memory_maximum_mb = models.IntegerField()
    disk_read_bps = models.FloatField()
    disk_write_bps = models.FloatField()
    net_rx_bps = models.FloatField()
    net_tx_bps = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["instance", "at"])]
