"""Scheduled actions: an action on one instance at a moment the owner chose, run through the
action table as the owner (``compute.services.schedules``).

Only one-off runs (``run_at``): recurring runs on a cron expression need a maintained cron
library that is not in this project's environment (issue 15, point 3; see the README).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ScheduledAction(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Accepted"
        REFUSED = "refused", "Refused"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_actions"
    )
    instance = models.ForeignKey(
        "compute.Instance", on_delete=models.CASCADE, related_name="scheduled_actions"
    )
    project_id = models.CharField(max_length=64)
    #: The action-table key: start, stop, reboot, reboot_hard, shelve, createImage.
    action = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    #: When to run, in UTC; ``time_zone`` is the owner's zone it was given in (for display).
    run_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    ran_at = models.DateTimeField(null=True, blank=True)
    #: The request id of the action it started, or Nova's refusal, or why it was skipped.
    result = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_at", "id"]
        indexes = [models.Index(fields=["state", "run_at"], name="schedule_due")]
