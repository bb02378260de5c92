"""Notifications: who wants to hear of which changes, what each of them was told, and how the
telling went (``compute.notify`` derives them from the outbox by sequence).

- ``Subscription``: a user's interest in a project, a host (admins) or one instance, for some
  event kinds, with the channels to tell them through (the in-page bell always; email and a
  signed webhook if asked).
- ``Notification``: one per (user, outbox change), unique, so a change is never told twice to
  one user however many of their subscriptions match it.
- ``Delivery``: one per (notification, channel, target), unique, retried with backoff until it
  is delivered or gives up; ``DeliveryAttempt`` is its log (status, response excerpt).
- ``NotifierCursor``: the last outbox sequence handled and the holes below it still awaited,
  committed with the notifications it produced, so a restart resumes exactly where it stopped.
  Its row is also the lease: a pass locks it, and a second process skips the pass.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EventKind(models.TextChoices):
    INSTANCE_ERROR = "instance_error", "Instance entered ERROR"
    POWER_CORRECTED = "power_corrected", "Power-state mismatch corrected by the sync"
    TASK_REAPED = "task_reaped", "Task reaped by the watchdog"
    HOST_STATUS = "host_status", "Host went UNKNOWN, DOWN, MAINTENANCE or back UP"
    ACTION_FAILED = "action_failed", "Action failed"


class Subscription(models.Model):
    class Scope(models.TextChoices):
        PROJECT = "project", "Project"
        HOST = "host", "Host"
        INSTANCE = "instance", "Instance"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions"
    )
    scope = models.CharField(max_length=16, choices=Scope.choices)
    #: The project's id, the host's name, or the instance's uuid.
    target = models.CharField(max_length=255)
    #: The ``EventKind`` values wanted.
    events = models.JSONField(default=list)
    email = models.BooleanField(default=False)
    webhook_url = models.URLField(max_length=500, blank=True, default="")
    #: The HMAC-SHA256 key of the webhook's signature; shown to its owner once, on creation.
    webhook_secret = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["scope", "target"], name="subscription_target")]

    def __str__(self) -> str:
        return f"{self.user} on {self.scope} {self.target}"


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    #: The first of the user's subscriptions that matched (the others' channels are told too).
    subscription = models.ForeignKey(
        Subscription, null=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    #: The outbox row (``ChangeEvent.id``) the notification was derived from.
    change_seq = models.BigIntegerField()
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    #: Nova's versioned notification's event type: ``instance.update``, ``service.update`` …
    event_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    project_id = models.CharField(max_length=64, null=True, blank=True)
    title = models.CharField(max_length=255)
    #: The whole versioned notification: ``priority``, ``event_type``, ``publisher_id`` and the
    #: ``nova_object.*`` payload.
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "change_seq"], name="one_notice_per_change")
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]


class Delivery(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    #: The address or URL.
    target = models.CharField(max_length=500)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel", "target"], name="one_delivery_per_target"
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due")]


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    #: The receiver's HTTP status (webhooks); None when no answer came.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    #: The first bytes of the answer, or the error.
    excerpt = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["id"]


class NotifierCursor(models.Model):
    name = models.CharField(max_length=32, primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    #: Sequence numbers skipped over that may still commit → epoch seconds first noticed.
    holes = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)
