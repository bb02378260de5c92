"""Migrations (Nova's ``migrations`` table): one row per move of an instance between hosts.

A row is opened when a cold migration, a resize or a live migration is accepted and follows the
agent's walk through Nova's statuses (``compute.migration_records`` writes them; the action
table's rows name them). The live migration's memory and disk figures are the driver's, as it
reports them. ``requested`` carries an admin's abort or force-complete to the agent running the
migration: the database is the channel, as for dispatches.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Migration(models.Model):
    class Type(models.TextChoices):
        MIGRATION = "migration", "Cold migration"
        RESIZE = "resize", "Resize"
        LIVE_MIGRATION = "live-migration", "Live migration"
        EVACUATION = "evacuation", "Evacuation"

    class Request(models.TextChoices):
        NONE = "", "None"
        ABORT = "abort", "Abort"
        FORCE_COMPLETE = "force_complete", "Force complete"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    instance = models.ForeignKey(
        "compute.Instance", on_delete=models.CASCADE, related_name="migrations"
    )
    migration_type = models.CharField(max_length=16, choices=Type.choices)
    #: Nova's free-form status: pre-migrating, migrating, post-migrating, finished, confirming,
    #: confirmed, reverting, reverted (cold); queued, preparing, running, completed (live);
    #: error, failed, cancelled.
    status = models.CharField(max_length=32)
    source_compute = models.CharField(max_length=255, null=True, blank=True)
    source_node = models.CharField(max_length=255, null=True, blank=True)
    dest_compute = models.CharField(max_length=255, null=True, blank=True)
    dest_node = models.CharField(max_length=255, null=True, blank=True)
    #: Nova's destination address; the hosts here have no address of their own, so the name.
    dest_host = models.CharField(max_length=255, null=True, blank=True)
    old_instance_type_id = models.IntegerField(null=True, blank=True)
    new_instance_type_id = models.IntegerField(null=True, blank=True)
    memory_total = models.BigIntegerField(null=True, blank=True)
    memory_processed = models.BigIntegerField(null=True, blank=True)
    memory_remaining = models.BigIntegerField(null=True, blank=True)
    disk_total = models.BigIntegerField(null=True, blank=True)
    disk_processed = models.BigIntegerField(null=True, blank=True)
    disk_remaining = models.BigIntegerField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    project_id = models.CharField(max_length=64)
    requested = models.CharField(
        max_length=16, choices=Request.choices, blank=True, default=Request.NONE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["instance", "status"], name="migration_instance_status"),
            models.Index(fields=["created_at", "id"], name="migration_created"),
        ]

    def __str__(self) -> str:
        return f"{self.migration_type} {self.pk} of {self.instance_id}: {self.status}"

    @property
    def is_live(self) -> bool:
        return self.migration_type == self.Type.LIVE_MIGRATION
