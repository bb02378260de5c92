"""Instance actions (Nova's ``instance_actions`` and ``instance_actions_events``) and the
dispatch queue.

Every accepted action gets an ``InstanceAction`` row with at least one event (invariant 5). An
action that needs the host's agent also gets an ``ActionDispatch`` row: the database is the
queue. The agent claims a dispatch with a conditional UPDATE, so two agents can
never both run it, and a dispatch nobody claims before its deadline is failed by the watchdog.
Rows here are append-and-close only; no page or API edits them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class InstanceAction(models.Model):
    instance = models.ForeignKey(
        "compute.Instance", on_delete=models.CASCADE, related_name="actions"
    )
    #: One request may act on several instances (a bulk action), so unique per instance only.
    request_id = models.CharField(max_length=64, db_index=True)
    #: Nova's instance-action name: ``stop``, ``reboot``, ``createImage``, ``live-migration`` …
    action = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Who asked, readable even after the user is gone, and from where.
    user_name = models.CharField(max_length=150, blank=True, default="")
    project_id = models.CharField(max_length=64)
    client = models.CharField(max_length=255, blank=True, default="")
    start_time = models.DateTimeField(db_index=True)
    finish_time = models.DateTimeField(null=True, blank=True)
    #: Nova: NULL, or "Error" once any event finished with an error.
    message = models.CharField(max_length=255, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_time", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.request_id}"


class InstanceActionEvent(models.Model):
    class Result(models.TextChoices):
        SUCCESS = "Success", "Success"
        ERROR = "Error", "Error"

    action = models.ForeignKey(InstanceAction, on_delete=models.CASCADE, related_name="events")
    #: ``<prefix>_<function>``: ``api_lock``, ``compute_stop_instance`` …
    event = models.CharField(max_length=255)
    start_time = models.DateTimeField()
    finish_time = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=16, choices=Result.choices, null=True, blank=True)
    traceback = models.TextField(null=True, blank=True)
    host = models.CharField(max_length=255, blank=True, default="")
    details = models.TextField(null=True, blank=True)

    class Meta:
        ordering = ["start_time", "id"]


class ActionDispatch(models.Model):
    """An accepted action waiting for, or being run by, its host's agent."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    action = models.OneToOneField(InstanceAction, on_delete=models.CASCADE, related_name="dispatch")
    instance = models.ForeignKey(
        "compute.Instance", on_delete=models.CASCADE, related_name="dispatches"
    )
    host = models.ForeignKey("compute.Host", on_delete=models.CASCADE, related_name="dispatches")
    #: The action-table key (``reboot_hard``, ``stop`` …) the agent executes.
    kind = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    #: The task_state the service set; the agent starts its walk from here, and finds the
    #: action pre-empted if the instance has moved on by the time it claims it.
    expected_task_state = models.CharField(max_length=64, null=True, blank=True)
    claimed_by = models.CharField(max_length=255, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    #: Unclaimed after this moment, the dispatch fails visibly.
    deadline = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["host", "state"], name="dispatch_host_state")]
