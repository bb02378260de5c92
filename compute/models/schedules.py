"""Scheduled actions: an action the owner chose, on one instance or on the instances a saved
filter selects at each run, once at a moment (``run_at``) or recurring on a cron expression read
in the owner's time zone — each run through the action table as the owner
(``compute.services.schedules``), each run kept as one ``ScheduleRun`` row.

``run_at`` is always the next run, in UTC; the runner claims a due row with a row lock, so two
processes never run it twice, and a recurring one's next run is the grid moment after *now*
(a run missed while nothing ran is caught up once, never once per missed tick).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ScheduledAction(models.Model):
    class State(models.TextChoices):
        #: Waiting for ``run_at`` (a recurring schedule stays pending between its runs).
        PENDING = "pending", "Pending"
        PAUSED = "paused", "Paused"
        #: A one-off's final states: what its one run did.
        DONE = "done", "Accepted"
        REFUSED = "refused", "Refused"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_actions"
    )
    #: The one instance, or NULL when the target is ``target_filter``.
    instance = models.ForeignKey(
        "compute.Instance",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scheduled_actions",
    )
    #: The instances list's filter parameters (``compute.selectors.schedules.FILTER_KEYS``),
    #: resolved at each run through ``instance_list`` with the owner's visibility.
    target_filter = models.JSONField(null=True, blank=True)
    #: The instance's project; for a filter, the project it was made in ("" for all projects).
    project_id = models.CharField(max_length=64, blank=True, default="")
    #: The action-table key: start, stop, reboot, reboot_hard, shelve, createImage.
    action = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    #: Five-field cron expression, read in ``time_zone``; empty for a one-off.
    cron = models.CharField(max_length=120, blank=True, default="")
    #: The next run, in UTC; ``time_zone`` is the owner's IANA zone it was given in.
    run_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    ran_at = models.DateTimeField(null=True, blank=True)
    #: The last run's outcome (a ``ScheduleRun.Outcome``), empty before the first run.
    last_outcome = models.CharField(max_length=16, blank=True, default="")
    #: The last run's request id, Nova's refusal, why it was skipped, or a summary.
    result = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_at", "id"]
        indexes = [models.Index(fields=["state", "run_at"], name="schedule_due")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(instance__isnull=False) | models.Q(target_filter__isnull=False),
                name="schedule_has_a_target",
            )
        ]

    @property
    def recurring(self) -> bool:
        return bool(self.cron)


class ScheduleRun(models.Model):
    """One run of a schedule: when, for which grid moment, and what happened — on a filter,
    per instance (``outcomes``)."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REFUSED = "refused", "Refused"
        SKIPPED = "skipped", "Skipped"
        #: A filter run some of whose instances were accepted and some not.
        PARTIAL = "partial", "Partly accepted"
        #: A filter that selected no instance.
        EMPTY = "empty", "No instance"

    schedule = models.ForeignKey(ScheduledAction, on_delete=models.CASCADE, related_name="runs")
    #: The moment the run was due (the grid moment), and when it ran.
    due_at = models.DateTimeField()
    ran_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    #: The request id of the action it started (one instance), or the first refusal or skip.
    request_id = models.CharField(max_length=64, blank=True, default="")
    result = models.CharField(max_length=255, blank=True, default="")
    #: Per instance: ``{"uuid", "name", "outcome", "request_id", "result"}``.
    outcomes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-ran_at", "-id"]
        indexes = [models.Index(fields=["schedule", "-ran_at"], name="schedule_run_history")]
