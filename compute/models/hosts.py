"""Compute hosts. A row is the host's ``nova-compute`` service record: what the admin set
(disabled, forced_down) and what the agent stamps (last_seen_up, report_count).

``host_status`` is derived, never stored. ``published_status`` is the last status the event
publisher told browsers about: the watchdog compares it with the derived one to notice a
heartbeat expiring, a change nobody writes.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from compute.conf import conf
from compute.status import HostStatus, host_status, service_is_up


class Host(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    host = models.CharField(max_length=255, unique=True)
    binary = models.CharField(max_length=64, default="nova-compute")
    zone = models.CharField(max_length=255, default="nova")
    disabled = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=255, null=True, blank=True)
    forced_down = models.BooleanField(default=False)
    last_seen_up = models.DateTimeField(null=True, blank=True)
    report_count = models.PositiveBigIntegerField(default=0)
    driver = models.CharField(max_length=32, default="fake")
    driver_uri = models.CharField(max_length=255, blank=True, default="")
    version = models.PositiveBigIntegerField(default=1)
    published_status = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.host

    def status_at(self, now: datetime | None = None) -> HostStatus:
        return host_status(
            forced_down=self.forced_down,
            disabled=self.disabled,
            last_seen_up=self.last_seen_up,
            created_at=self.created_at,
            now=now or timezone.now(),
            service_down_time=conf().effective_service_down_time(),
        )

    @property
    def host_status(self) -> HostStatus:
        return self.status_at()

    @staticmethod
    def heartbeat_fresh() -> Q:
        """``is_up``'s heartbeat rule as a query condition (the scheduler's and the watchdog's):
        the last heartbeat — before the first, the creation — within service_down_time of now,
        either way, as Nova's servicegroup compares the absolute difference."""
        now, down = timezone.now(), timedelta(seconds=conf().effective_service_down_time())
        window = (now - down, now + down)
        return Q(last_seen_up__range=window) | Q(
            last_seen_up__isnull=True, created_at__range=window
        )

    @property
    def is_up(self) -> bool:
        """Nova's servicegroup answer: a fresh heartbeat and not forced down. Disabled is up."""
        return service_is_up(
            forced_down=self.forced_down,
            last_seen_up=self.last_seen_up,
            created_at=self.created_at,
            now=timezone.now(),
            service_down_time=conf().effective_service_down_time(),
        )


class PowerSyncPass(models.Model):
    """One power-state sync pass over one host: when, how long, what it saw and changed."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="sync_passes")
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    duration_ms = models.FloatField(default=0)
    checked = models.PositiveIntegerField(default=0)
    #: [{"instance": uuid, "name": ..., "power_state": [old, new], "action": "stop" | None}]
    changes = models.JSONField(default=list)
    #: Guests the hypervisor has that the database does not know.
    unknown_guests = models.JSONField(default=list)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        indexes = [
            # The hosts page's latest pass per host, and pruning all but each host's newest.
            models.Index(
                "host",
                models.F("started_at").desc(),
                models.F("id").desc(),
                name="sync_pass_host_newest",
            ),
        ]
