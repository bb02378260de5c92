"""Instances and their faults.

The state columns (``vm_state``, ``task_state``, ``power_state``) and ``version`` are written
only by ``compute.state_machine``, always by a conditional UPDATE on the expected task_state
(invariants 1 and 2). ``version`` grows by one with every committed change, so a browser can
ignore any delta that is not newer than what it shows.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from compute.states import PowerState, TaskState, VmState
from compute.status import Status, status_from_state


class Instance(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=255, null=True, blank=True)
    project = models.ForeignKey(
        "compute.Project", on_delete=models.PROTECT, related_name="instances"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    host = models.ForeignKey(
        "compute.Host", null=True, blank=True, on_delete=models.PROTECT, related_name="instances"
    )
    availability_zone = models.CharField(max_length=255, default="nova")
    flavor = models.ForeignKey("compute.Flavor", on_delete=models.PROTECT, related_name="+")
    image = models.ForeignKey(
        "compute.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    vm_state = models.CharField(max_length=32, choices=VmState.choices, default=VmState.BUILDING)
    task_state = models.CharField(
        max_length=64, choices=TaskState.choices, null=True, blank=True, default=None
    )
    power_state = models.PositiveSmallIntegerField(
        choices=PowerState.choices, default=PowerState.NOSTATE
    )
    #: When the current task started; NULL with task_state. Drives "running for 12 s".
    task_started_at = models.DateTimeField(null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    version = models.PositiveBigIntegerField(default=1)

    locked = models.BooleanField(default=False)
    locked_by = models.CharField(
        max_length=8, null=True, blank=True, choices=[("owner", "owner"), ("admin", "admin")]
    )
    locked_reason = models.CharField(max_length=255, null=True, blank=True)

    launched_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    shutdown_terminate = models.BooleanField(default=False)
    #: Nova's system_metadata: old_vm_state, old_flavor, the state before a rebuild, …
    system_metadata = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    addresses = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    soft_deleted_at = models.DateTimeField(null=True, blank=True)
    #: Set when the row is deleted; the API then shows DELETED whatever the states say.
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["host", "deleted_at"], name="instance_host_live"),
            models.Index(fields=["project", "deleted_at"], name="instance_project_live"),
            models.Index(fields=["vm_state", "task_state"], name="instance_states"),
            # The watchdog's stuck-task reaper, every few seconds in every web process: only the
            # rows with a task in progress, not a scan of every live instance.
            models.Index(
                fields=["task_started_at"],
                condition=models.Q(task_state__isnull=False, deleted_at__isnull=True),
                name="instance_in_task",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.uuid})"

    @property
    def status(self) -> Status:
        return status_from_state(
            self.vm_state, self.task_state, deleted=self.deleted_at is not None
        )

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


class InstanceFault(models.Model):
    """What went wrong, in words a user can read (Nova's instance_faults)."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="faults")
    code = models.PositiveSmallIntegerField(default=500)
    message = models.CharField(max_length=255)
    details = models.TextField(blank=True, default="")
    host = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
