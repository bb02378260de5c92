"""The webhook's signature: HMAC-SHA256, keyed with the subscription's secret, over
``<timestamp>.<body>`` (the ``X-Vmdash-Timestamp`` header, a dot, the raw body bytes).

A receiver checks it with ``verify`` (or the same four lines in any language, docs/NOTIFICATIONS.md):
recompute the HMAC over the timestamp header and the body as received, compare in constant time
with ``X-Vmdash-Signature`` (``sha256=<hex>``), and refuse a timestamp more than the tolerance
away from its clock. An altered body or timestamp fails the comparison; a replay of an old,
correctly signed request fails the timestamp check, and within the tolerance the
``X-Vmdash-Delivery`` id (unique per delivery) tells the receiver it has seen it already.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Vmdash-Timestamp"
SIGNATURE_HEADER = "X-Vmdash-Signature"
DELIVERY_HEADER = "X-Vmdash-Delivery"
EVENT_HEADER = "X-Vmdash-Event"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    *,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """Whether a request is what the dashboard sent, recently: the receiver's check."""
    try:
        sent = float(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")
