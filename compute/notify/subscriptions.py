"""The writes users make to their notifications: subscribe, unsubscribe, mark read.

A user subscribes only to what they may see: a project they are a member of, an instance of
one of their projects (``selectors.instance_get``), a host only as an admin. A webhook URL is
checked (``targets``) and gets a fresh signing secret, returned once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from compute.context import RequestContext
from compute.exceptions import Forbidden, Invalid, NotFound
from compute.models import EventKind, Host, Notification, Subscription
from compute.notify.targets import check_webhook_url
from compute.selectors import instance_get


def _events(events: Iterable[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(events or EventKind.values))
    unknown = [e for e in chosen if e not in EventKind.values]
    if unknown:
        raise Invalid(
            f"Unknown event kind {unknown[0]!r}: expected one of {', '.join(EventKind.values)}."
        )
    if not chosen:
        raise Invalid("Choose at least one event kind.")
    return chosen


def subscription_create(
    *,
    context: RequestContext,
    scope: str,
    target: str,
    events: Iterable[str] | None = None,
    email: bool = False,
    webhook_url: str = "",
) -> Subscription:
    if context.user_id is None:
        raise Forbidden("Only a user may subscribe.")
    if scope not in Subscription.Scope.values:
        raise Invalid(
            f"Unknown scope {scope!r}: expected one of {', '.join(Subscription.Scope.values)}."
        )
    target = (target or "").strip()
    if not target:
        raise Invalid("A subscription needs a target: a project id, a host name or an instance.")
    chosen = _events(events)
    if scope == Subscription.Scope.PROJECT:
        if not context.is_admin and target not in context.project_ids:
            raise NotFound(f"Project {target} could not be found.")
    elif scope == Subscription.Scope.HOST:
        if not context.is_admin:
            raise Forbidden("Only admins may subscribe to a host.")
        if not Host.objects.filter(host=target).exists():
            raise NotFound(f"Compute host {target} could not be found.")
    else:
        target = str(instance_get(context=context, instance_uuid=target).uuid)
    webhook_url = (webhook_url or "").strip()
    if webhook_url:
        if len(webhook_url) > 500:
            raise Invalid("A webhook URL is at most 500 characters.")
        check_webhook_url(webhook_url)
    return Subscription.objects.create(
        user_id=context.user_id,
        scope=scope,
        target=target,
        events=chosen,
        email=bool(email),
        webhook_url=webhook_url,
        webhook_secret=secrets.token_hex(32) if webhook_url else "",
    )


def subscription_delete(*, context: RequestContext, subscription_id: int) -> None:
    deleted, _ = Subscription.objects.filter(pk=subscription_id, user_id=context.user_id).delete()
    if not deleted:
        raise NotFound(f"Subscription {subscription_id} could not be found.")


def notifications_mark_read(*, context: RequestContext, ids: Iterable[int] | None = None) -> int:
    """Mark the caller's notifications read (all of them when ``ids`` is None)."""
    with transaction.atomic():
        rows = Notification.objects.filter(user_id=context.user_id, read_at__isnull=True)
        if ids is not None:
            rows = rows.filter(pk__in=list(ids))
        return rows.update(read_at=timezone.now())
