"""The host maintenance audit trail: one row per admin change to a host's service record —
disable (with its reason), enable, forced down on and off — and per request to live-migrate a
host's instances away.

A row says who (user and request id), from which client (``dashboard``, ``api``, ``cli`` …),
when, what (the switches before and after, the reason) and how it ended. It is written by
``compute.services.hosts`` in the transaction of the change itself, so a change that rolls back
leaves no row and a committed change always has one. Rows are only ever appended: the manager
refuses bulk updates and deletes, ``save`` refuses to rewrite a stored row, and no page or API
route writes them (a test checks the routes and the code).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnly(Exception):
    """Someone tried to change or remove an audit row."""


class _AppendOnlyQuerySet(models.QuerySet["HostAuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("Host audit entries cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("Host audit entries cannot be deleted.")


class HostAuditEntry(models.Model):
    class Operation(models.TextChoices):
        DISABLE = "disable", "Disable"
        ENABLE = "enable", "Enable"
        FORCE_DOWN = "force_down", "Force down"
        FORCE_UP = "force_up", "Clear forced down"
        UPDATE = "update", "Update"  # several switches in one request (the API allows it)
        MIGRATE_AWAY = "migrate_away", "Live-migrate away"

    class Outcome(models.TextChoices):
        CHANGED = "changed", "Changed"
        UNCHANGED = "unchanged", "Already so"
        ACCEPTED = "accepted", "Accepted"
        PARTLY_ACCEPTED = "partly_accepted", "Partly accepted"
        REFUSED = "refused", "Refused"

    #: PROTECT: a host with a history cannot be hard-deleted along with it.
    host = models.ForeignKey("compute.Host", on_delete=models.PROTECT, related_name="audit_entries")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.CharField(max_length=64, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Who asked, readable even after the user is gone.
    user_name = models.CharField(max_length=150, blank=True, default="")
    client = models.CharField(max_length=255, blank=True, default="")
    operation = models.CharField(max_length=16, choices=Operation.choices)
    #: The switches before and after: disabled, disabled_reason, forced_down, host_status.
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    reason = models.CharField(max_length=255, null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    #: Live-migrate away: [{"instance": uuid, "name": ..., "accepted": bool, "message": ...}].
    details = models.JSONField(default=list)

    objects: ClassVar[models.Manager[HostAuditEntry]] = _AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.operation} {self.host_id} by {self.user_name} ({self.outcome})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("Host audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("Host audit entries cannot be deleted.")
