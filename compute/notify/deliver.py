"""Sending the due deliveries: webhooks (signed) and email, each attempt logged, retried with
backoff until delivered or given up.

A delivery is claimed with a conditional UPDATE of its ``next_attempt_at`` (compare and swap):
of several processes exactly one sends it, with no transaction held over the network call. A
sender that dies after sending but before recording leaves the claim to expire
(``claim_timeout``) and the delivery is sent again: webhooks are at-least-once in that one case,
and carry ``X-Vmdash-Delivery`` so a receiver can drop the repeat. Otherwise each delivery is
sent until one attempt succeeds, and never after.

Webhooks: ``POST`` of the versioned notification as JSON, no redirects followed, a 2xx answer
is success; anything else (or no answer) is retried after ``retry_base · 2^(attempts-1)``
seconds, at most ``retry_max``, up to ``max_attempts``. The URL is checked again before every
send (``targets``). Email goes through Django's email framework (console backend by default,
SMTP by settings).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from compute.exceptions import Invalid
from compute.models import Delivery, DeliveryAttempt
from compute.notify import signing
from compute.notify.conf import NotifyConf, notify_conf
from compute.notify.targets import check_webhook_url

log = logging.getLogger(__name__)

EXCERPT = 500


def body_of(delivery: Delivery) -> bytes:
    return json.dumps(delivery.notification.payload, separators=(",", ":"), sort_keys=True).encode()


def backoff(attempts: int, conf: NotifyConf) -> float:
    return min(conf.retry_max, conf.retry_base * 2 ** max(0, attempts - 1))


def deliver_once(*, limit: int = 100) -> dict[str, int]:
    """Send what is due now; counts of what was sent, retried and given up."""
    conf = notify_conf()
    now = timezone.now()
    due = list(
        Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", "next_attempt_at")[:limit]
    )
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    for pk, due_at in due:
        claimed = Delivery.objects.filter(
            pk=pk, state=Delivery.State.PENDING, next_attempt_at=due_at
        ).update(next_attempt_at=now + timedelta(seconds=conf.claim_timeout))
        if not claimed:
            continue  # another process took it
        delivery = Delivery.objects.select_related(
            "notification", "subscription", "subscription__user"
        ).get(pk=pk)
        counts[_attempt(delivery, conf)] += 1
    return counts


def _attempt(delivery: Delivery, conf: NotifyConf) -> str:
    ok, status, excerpt, final = _send(delivery, conf)
    attempts = delivery.attempts + 1
    DeliveryAttempt.objects.create(
        delivery=delivery, ok=ok, status_code=status, excerpt=excerpt[:EXCERPT]
    )
    now = timezone.now()
    if ok:
        state, outcome, next_at = Delivery.State.DELIVERED, "delivered", now
    elif final or attempts >= conf.max_attempts:
        state, outcome, next_at = Delivery.State.FAILED, "failed", now
    else:
        state, outcome = Delivery.State.PENDING, "retrying"
        next_at = now + timedelta(seconds=backoff(attempts, conf))
    Delivery.objects.filter(pk=delivery.pk).update(
        state=state,
        attempts=attempts,
        next_attempt_at=next_at,
        delivered_at=now if ok else None,
    )
    return outcome


def _send(delivery: Delivery, conf: NotifyConf) -> tuple[bool, int | None, str, bool]:
    """(success, HTTP status, excerpt, final: no point retrying)."""
    if delivery.channel == Delivery.Channel.EMAIL:
        return _email(delivery)
    try:
        check_webhook_url(delivery.target)
    except Invalid as refusal:
        return False, None, f"refused: {refusal.message}", True
    body = body_of(delivery)
    timestamp = str(int(time.time()))
    secret = delivery.subscription.webhook_secret
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "vmdash-notifier",
        signing.TIMESTAMP_HEADER: timestamp,
        signing.SIGNATURE_HEADER: signing.sign(secret, timestamp, body),
        signing.DELIVERY_HEADER: str(delivery.pk),
        signing.EVENT_HEADER: delivery.notification.event_type,
    }
    try:
        answer = requests.post(
            delivery.target,
            data=body,
            headers=headers,
            timeout=conf.webhook_timeout,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        return False, None, f"{type(error).__name__}: {error}", False
    excerpt = answer.text[:EXCERPT] if answer.content else ""
    return 200 <= answer.status_code < 300, answer.status_code, excerpt, False


def _email(delivery: Delivery) -> tuple[bool, int | None, str, bool]:
    notification = delivery.notification
    text = f"{notification.title}\n\n{json.dumps(notification.payload, indent=2, sort_keys=True)}\n"
    try:
        sent = send_mail(
            subject=f"[vmdash] {notification.title}"[:200],
            message=text,
            from_email=getattr(settings, "DEFAULT_FROM_EMAIL", None),
            recipient_list=[delivery.target],
        )
    except Exception as error:  # SMTP down, refused …: retried
        return False, None, f"{type(error).__name__}: {error}", False
    return bool(sent), None, "sent" if sent else "not sent", False
