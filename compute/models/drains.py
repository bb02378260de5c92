"""Drains: a host's maintenance as a durable job, one step per instance (``compute.drains``).

A job is what an admin started from a drain plan; a step is one instance's choice (live-migrate,
cold-migrate then confirm, stop, shelve, leave). Steps run through the normal action path; the
rows here only say where each one is, so any web process can carry a job on after another
stopped, and a restarted agent's requeued actions are simply waited for.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DrainJob(models.Model):
    class State(models.TextChoices):
        RUNNING = "running", "Running"
        CANCELLING = "cancelling", "Cancelling"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    host = models.ForeignKey("compute.Host", on_delete=models.CASCADE, related_name="drains")
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_name = models.CharField(max_length=150, blank=True, default="")
    request_id = models.CharField(max_length=64)
    #: The outbox sequence up to which the runner has looked at the job's instances.
    last_sequence = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state"], name="drainjob_state")]

    @property
    def active(self) -> bool:
        return self.state in (self.State.RUNNING, self.State.CANCELLING)


class DrainStep(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    job = models.ForeignKey(DrainJob, on_delete=models.CASCADE, related_name="steps")
    instance = models.ForeignKey(
        "compute.Instance", on_delete=models.CASCADE, related_name="drain_steps"
    )
    #: A key of ``compute.selectors.drain.CHOICES``.
    choice = models.CharField(max_length=16)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    #: The request id of the step's current action (its record in the action log).
    request_id = models.CharField(max_length=64, blank=True, default="")
    #: The action that request ran (a cold migration is followed by its confirmResize).
    action = models.CharField(max_length=64, blank=True, default="")
    migration = models.ForeignKey(
        "compute.Migration", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Why it failed or was skipped, in the words of the refusal or the fault.
    message = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "state"], name="drainstep_job_state")]

    @property
    def terminal(self) -> bool:
        return self.state in (
            self.State.DONE,
            self.State.FAILED,
            self.State.SKIPPED,
            self.State.CANCELLED,
        )
