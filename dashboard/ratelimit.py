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

The counters live in Django's ``default`` cache, which every process of a deployment shares
(``dashboard.settings``), so N web processes allow the limit once, not N times:

- with ``REDIS_URL`` (or ``CACHE_URL=redis://…``): Redis, ``RedisCache`` below, whose ``clear``
  removes only this cache's keys — the channel layer may live in the same
  Redis database, and Django's own ``clear`` would flush them with it;
- otherwise ``SharedFileCache``: files under ``var/cache/<database>/``, one directory per
  database, so every process on this machine that opens the same database (the web process,
  extra daphne processes, a test and the processes it starts) counts together, and a test
  database's counters never mix with the real one's. Its ``add`` and ``incr`` hold an exclusive
  lock on a file in that directory, so increments from several processes are never lost. Web
  processes on several machines without Redis need ``CACHE_URL`` (``redis://`` or a shared
  ``file://`` path); ``locmem://`` keeps the counters per process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import pickle
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.files import locks
from django.core.files.move import file_move_safe
from django.db import connections
from django.http import HttpRequest

log = logging.getLogger(__name__)

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


#: Where the counters go while the shared cache (Redis) cannot be reached: this process's memory.
#: Logging in keeps working through an outage, limited per process instead of per deployment.
_fallback = LocMemCache("vmdash-login-fallback", {})

T = TypeVar("T")


def _with_counters(work: Callable[[BaseCache], T]) -> T:
    try:
        return work(cache)
    except Exception:
        log.warning("login counters: the shared cache is unreachable; counting in this process")
        return work(_fallback)


def retry_after(*, username: str, ip: str) -> int | None:
    """Seconds until this username may try again from this address; None if not locked."""

    def wait(counters: BaseCache) -> int | None:
        now = time.time()
        waits = [
            until - now
            for key in _keys(username, ip)
            if (until := counters.get(f"{key}:locked")) is not None and until > now
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    return _with_counters(wait)


def _count(counters: BaseCache, key: str, limit: int, window: int) -> None:
    if limit <= 0:
        return
    # add + incr: atomic in the cache, so parallel attempts cannot undercount.
    counters.add(f"{key}:failures", 0, timeout=window)
    try:
        failures = counters.incr(f"{key}:failures")
    except ValueError:  # expired between add and incr
        counters.add(f"{key}:failures", 1, timeout=window)
        failures = 1
    if failures >= limit:
        counters.set(f"{key}:locked", time.time() + window, timeout=window)
        counters.delete(f"{key}:failures")


def login_failed(*, username: str, ip: str) -> None:
    """Count a wrong password (or unknown username) from ``ip``."""
    rules = limits()
    user_key, ip_key = _keys(username, ip)

    def count(counters: BaseCache) -> None:
        _count(counters, user_key, rules.failures, rules.lockout)
        _count(counters, ip_key, rules.ip_failures, rules.lockout)

    _with_counters(count)


def login_succeeded(*, username: str, ip: str) -> None:
    user_key, _ = _keys(username, ip)
    _with_counters(lambda counters: counters.delete(f"{user_key}:failures"))


def locked_message(wait: int) -> str:
    minutes = max(1, math.ceil(wait / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed log-in attempts. Try again in {minutes} {unit}."


# --- the shared caches the counters live in --------------------------------------------------


class SharedFileCache(FileBasedCache):
    """Django's file cache, with ``add`` and ``incr`` atomic across processes.

    ``LOCATION`` is a directory. With ``OPTIONS["PER_DATABASE"]`` (the default set-up) the files
    go one level down, in a directory named after the database the process uses, resolved at
    each call: a test run switches to its test database after the cache was made.
    """

    def __init__(self, dir: str, params: dict[str, Any]) -> None:
        BaseCache.__init__(self, params)
        self._root = os.path.abspath(dir)
        self._per_database = bool(params.get("OPTIONS", {}).get("PER_DATABASE"))

    @property
    def _dir(self) -> str:  # type: ignore[override]
        if not self._per_database:
            return self._root
        return os.path.join(self._root, database_slug())

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One process at a time between a read and the write that depends on it."""
        self._createdir()
        with open(os.path.join(self._dir, ".lock"), "ab") as lock:
            locks.lock(lock, locks.LOCK_EX)
            try:
                yield
            finally:
                locks.unlock(lock)

    def add(
        self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        with self._exclusive():
            return super().add(key, value, timeout, version)

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        """Add ``delta``, keeping the key's expiry (``BaseCache.incr`` would reset it)."""
        with self._exclusive():
            fname = self._key_to_file(key, version)
            try:
                with open(fname, "rb") as f:
                    expiry = pickle.load(f)
                    value = pickle.loads(zlib.decompress(f.read()))
            except (FileNotFoundError, EOFError):
                raise ValueError(f"Key '{key}' not found.") from None
            if expiry is not None and expiry < time.time():
                self._delete(fname)
                raise ValueError(f"Key '{key}' not found.")
            value += delta
            fd, tmp_path = tempfile.mkstemp(dir=self._dir)
            try:
                with open(fd, "wb") as f:
                    f.write(pickle.dumps(expiry, self.pickle_protocol))
                    f.write(zlib.compress(pickle.dumps(value, self.pickle_protocol)))
                file_move_safe(tmp_path, fname, allow_overwrite=True)
            finally:
                if os.path.exists(tmp_path):
                    os.remove(tmp_path)
            return int(value)


def database_slug() -> str:
    """A directory name for the database this process uses: readable, and one per database
    file (SQLite, however its path is spelled) or per server and name (PostgreSQL)."""
    db = connections["default"].settings_dict
    return _slug(*(str(db.get(k) or "") for k in ("ENGINE", "HOST", "PORT", "NAME")))


@lru_cache(maxsize=16)
def _slug(engine: str, host: str, port: str, name: str) -> str:
    if "sqlite" in engine:
        name = os.path.realpath(name)  # "//var/db", "var/db" and a symlink: one database
    digest = hashlib.sha256("|".join((engine, host, port, name)).encode()).hexdigest()[:12]
    return f"{Path(name).name or 'db'}-{digest}"


class RedisCache(DjangoRedisCache):
    """Django's Redis cache, whose ``clear`` deletes this cache's keys only (``KEY_PREFIX``)
    instead of flushing the whole Redis database."""

    def clear(self) -> bool:
        if not self.key_prefix:
            raise ValueError("RedisCache needs a KEY_PREFIX to clear only its own keys.")
        client = self._cache.get_client(None, write=True)
        keys = list(client.scan_iter(match=f"{self.key_prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return True
