"""The reads users make of their notifications: their own rows only."""

from __future__ import annotations

from django.db.models import QuerySet

from compute.context import RequestContext
from compute.exceptions import NotFound
from compute.models import DeliveryAttempt, Notification, Subscription


def subscriptions_of(*, context: RequestContext) -> QuerySet[Subscription]:
    return Subscription.objects.filter(user_id=context.user_id).order_by("id")


def subscription_get(*, context: RequestContext, subscription_id: int) -> Subscription:
    found = Subscription.objects.filter(pk=subscription_id, user_id=context.user_id).first()
    if found is None:
        raise NotFound(f"Subscription {subscription_id} could not be found.")
    return found


def notifications_of(
    *, context: RequestContext, unread_only: bool = False
) -> QuerySet[Notification]:
    rows = Notification.objects.filter(user_id=context.user_id).order_by("-id")
    return rows.filter(read_at__isnull=True) if unread_only else rows


def unread_count(*, user_id: int | None) -> int:
    if user_id is None:
        return 0
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def delivery_log(*, context: RequestContext, subscription_id: int) -> QuerySet[DeliveryAttempt]:
    """Every attempt of a subscription's deliveries, newest first."""
    subscription = subscription_get(context=context, subscription_id=subscription_id)
    return (
        DeliveryAttempt.objects.filter(delivery__subscription=subscription)
        .select_related("delivery", "delivery__notification")
        .order_by("-id")
    )
