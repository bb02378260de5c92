"""Sending the due deliveries: webhooks (signed) and email, each attempt logged, retried with
backoff until delivered or given up.

A batch of due deliveries is claimed in one short transaction (``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL, then their ``next_attempt_at`` moved past the claim timeout): of several
processes exactly one sends each, with no transaction held over the network calls; the attempts
and outcomes are recorded in a second one. (SQLite has no row locks: its deployment is the
single-process embedded default.) A
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
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
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
    """Send what is due now; counts of what was sent, retried and given up.

    Two short transactions around the network calls, whatever the batch: one claims the due
    deliveries (their rows locked with ``SKIP LOCKED`` on PostgreSQL, so another process takes
    others; their ``next_attempt_at`` moved past the claim timeout), one records every attempt
    and outcome. No transaction is held while a receiver answers."""
    conf = notify_conf()
    now = timezone.now()
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    pending = Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now)
    if not pending.exists():
        return counts  # the idle pass: one read, no transaction
    with transaction.atomic():
        due = list(
            pending.select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not due:
            return counts
        Delivery.objects.filter(pk__in=due, state=Delivery.State.PENDING).update(
            next_attempt_at=now + timedelta(seconds=conf.claim_timeout)
        )
    deliveries = list(
        Delivery.objects.select_related("notification", "subscription", "subscription__user")
        .filter(pk__in=due)
        .order_by("id")
    )
    # The network calls of a batch run side by side (``send_concurrency`` at once): a slow
    # receiver holds up only its own share of the batch.
    with ThreadPoolExecutor(max(1, conf.send_concurrency)) as pool:
        results = list(pool.map(lambda d: _send(d, conf), deliveries))
    sent = list(zip(deliveries, results, strict=True))
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(
            [
                DeliveryAttempt(delivery=d, ok=ok, status_code=status, excerpt=excerpt[:EXCERPT])
                for d, (ok, status, excerpt, _final) in sent
            ]
        )
        done = timezone.now()
        delivered = [d.pk for d, (ok, *_rest) in sent if ok]
        if delivered:
            Delivery.objects.filter(pk__in=delivered).update(
                state=Delivery.State.DELIVERED,
                attempts=F("attempts") + 1,
                next_attempt_at=done,
                delivered_at=done,
            )
        counts["delivered"] = len(delivered)
        for d, (ok, _status, _excerpt, final) in sent:
            if ok:
                continue
            attempts = d.attempts + 1
            if final or attempts >= conf.max_attempts:
                state, next_at, outcome = Delivery.State.FAILED, done, "failed"
            else:
                state, outcome = Delivery.State.PENDING, "retrying"
                next_at = done + timedelta(seconds=backoff(attempts, conf))
            Delivery.objects.filter(pk=d.pk).update(
                state=state, attempts=attempts, next_attempt_at=next_at
            )
            counts[outcome] += 1
    return counts


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
