"""The transactional outbox: one row per committed change, written in the same transaction as
the change, so every committed change reaches the pages once, after commit (invariant 4).

``id`` is a global, strictly increasing sequence. Every web process tails this table and fans
each row out to its own sockets (``compute.outbox.relay``); a browser that reconnects says the last
id it saw and gets every visible row after it. A rolled-back change leaves no row, so nothing is published for it
(invariant 4).
"""

from __future__ import annotations

from django.db import models


class ChangeEvent(models.Model):
    class Kind(models.TextChoices):
        INSTANCE = "instance", "Instance"
        HOST = "host", "Host"
        #: A user's new notification (``compute.notify``): only that user's sockets get it.
        NOTIFICATION = "notification", "Notification"
        #: A scheduled run that was refused or skipped (``compute.services.schedule_runs``): it
        #: changed nothing, but its owner is told; no page receives it.
        SCHEDULE = "schedule", "Scheduled run"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    #: The instance's or host's uuid.
    object_id = models.CharField(max_length=64)
    version = models.PositiveBigIntegerField()
    #: The instance's project; NULL for hosts, which only admins receive.
    project_id = models.CharField(max_length=64, null=True, blank=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # A member's replay filters on it. A plain index: ``db_index`` on PostgreSQL adds a
            # second, ``LIKE`` one, which nothing here asks for and every insert would maintain.
            models.Index(fields=["project_id"], name="changeevent_project"),
            # The watchdog prunes by age every few seconds in every web process: a range of
            # this index, not a scan of the whole retention window.
            models.Index(fields=["created_at"], name="changeevent_created"),
            # The notifier judges an instance entering ERROR, or a host's status flip, by the
            # object's previous row (``compute.notify.events``): one index range per object.
            models.Index(fields=["object_id", "id"], name="changeevent_object"),
        ]
