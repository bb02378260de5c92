"""Login rate limiting: one limiter for the login page and the identity token endpoint.

Two counters of failed password attempts live in Django's cache, each for
``LOGIN_RATE_LIMIT["lockout"]`` seconds after the attempt that reached its limit:

- per username and client address: ``failures`` wrong passwords lock that pair out (guessing one
  account's password);
- per client address: ``ip_failures`` wrong passwords, whatever the usernames, lock the address
  out (spraying one password over many accounts). 0 turns this counter off.

While a lock holds, the password is not even checked, so a right guess and a wrong one get the
same answer (429 with ``Retry-After``). A successful login clears its username+address counter.

The client address is ``REMOTE_ADDR``. Behind a reverse proxy that is the proxy's address: the
per-address counter then counts everyone behind it, so raise ``ip_failures`` (or set it to 0)
there. ``X-Forwarded-For`` is not trusted, since any client can send it.

The cache is Django's ``default`` cache: per process unless ``CACHE_URL`` points at Redis (see
``dashboard.settings``). With the per-process default, N web processes allow N times the limit,
which still turns an online guessing attack from unbounded into a handful of tries per window.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

_PREFIX = "vmdash:login"


@dataclass(frozen=True)
class Limits:
    #: Wrong passwords for one username from one address before it is locked out.
    failures: int = 5
    #: Wrong passwords from one address, any username, before it is locked out (0: no limit).
    ip_failures: int = 50
    #: Seconds a lock lasts, and the window the failures are counted in.
    lockout: int = 900


def limits() -> Limits:
    return Limits(**getattr(settings, "LOGIN_RATE_LIMIT", {}))


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _digest(*parts: str) -> str:
    # Hashed: usernames are attacker-chosen (any length, any characters) and cache keys are not.
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


def _keys(username: str, ip: str) -> tuple[str, str]:
    # Case-folded, so "Alice" and "alice" share one counter rather than doubling the tries.
    return (
        f"{_PREFIX}:user:{_digest(username.strip().casefold(), ip)}",
        f"{_PREFIX}:ip:{_digest(ip)}",
    )


def retry_after(*, username: str, ip: str) -> int | None:
    """Seconds until this username may try again from this address; None if not locked."""
    now = time.time()
    waits = [
        until - now
        for key in _keys(username, ip)
        if (until := cache.get(f"{key}:locked")) is not None and until > now
    ]
    return max(1, math.ceil(max(waits))) if waits else None


def _count(key: str, limit: int, window: int) -> None:
    if limit <= 0:
        return
    # add + incr: atomic in the cache, so parallel attempts cannot undercount.
    cache.add(f"{key}:failures", 0, timeout=window)
    try:
        failures = cache.incr(f"{key}:failures")
    except ValueError:  # expired between add and incr
        cache.add(f"{key}:failures", 1, timeout=window)
        failures = 1
    if failures >= limit:
        cache.set(f"{key}:locked", time.time() + window, timeout=window)
        cache.delete(f"{key}:failures")


def login_failed(*, username: str, ip: str) -> None:
    """Count a wrong password (or unknown username) from ``ip``."""
    rules = limits()
    user_key, ip_key = _keys(username, ip)
    _count(user_key, rules.failures, rules.lockout)
    _count(ip_key, rules.ip_failures, rules.lockout)


def login_succeeded(*, username: str, ip: str) -> None:
    user_key, _ = _keys(username, ip)
    cache.delete(f"{user_key}:failures")


def locked_message(wait: int) -> str:
    minutes = max(1, math.ceil(wait / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed log-in attempts. Try again in {minutes} {unit}."
