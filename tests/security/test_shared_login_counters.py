"""The login counters are shared by every process of a deployment (``dashboard.ratelimit``,
``dashboard.settings.caches_from_env``): two processes that each stay under the limit lock the
account out together, whichever cache the environment selects — Redis on the PostgreSQL+Redis
pass, the per-database file cache in the embedded default."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches

from dashboard import ratelimit
from dashboard.ratelimit import RedisCache, SharedFileCache
from dashboard.settings import caches_from_env
from tests.support.processes import database_url

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = "203.0.113.7"
PER_PROCESS = 20

#: Run in a child process: count ``n`` wrong passwords for ``username`` from ADDRESS, then say
#: whether the pair is locked out and which cache backend counted.
FAIL = f"""
import json, sys
import django
django.setup()
from django.core.cache import caches
from dashboard import ratelimit
username, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    ratelimit.login_failed(username=username, ip="{ADDRESS}")
locked = ratelimit.retry_after(username=username, ip="{ADDRESS}") is not None
print(json.dumps({{"locked": locked, "backend": type(caches["default"]).__name__}}))
"""


def child(username: str, failures: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", FAIL, username, str(failures)],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k != "TEST_SQLITE_NAME"},
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            # The test's own database, so its process and the children share one cache.
            "DATABASE_URL": database_url(),
            "LOGIN_MAX_FAILURES": str(2 * PER_PROCESS),
            "LOGIN_MAX_FAILURES_PER_IP": "0",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def answer(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_two_processes_count_into_one_counter_and_lock_the_account_together():
    username = f"victim-{uuid.uuid4().hex[:8]}"
    # Both at once: neither alone reaches the limit, and no increment of either may be lost.
    first, second = child(username, PER_PROCESS), child(username, PER_PROCESS)
    answers = [answer(first), answer(second)]
    assert any(a["locked"] for a in answers), answers
    assert {a["backend"] for a in answers} == {type(caches["default"]).__name__}
    # This process (a third one, as another web process would be) sees the lock too …
    assert ratelimit.retry_after(username=username, ip=ADDRESS) is not None
    # … for that account only.
    assert ratelimit.retry_after(username=f"{username}-other", ip=ADDRESS) is None


def test_processes_with_a_per_process_cache_do_not_share_so_the_test_above_means_something():
    username = f"victim-{uuid.uuid4().hex[:8]}"
    first = child(username, PER_PROCESS, CACHE_URL="locmem://")
    second = child(username, PER_PROCESS, CACHE_URL="locmem://")
    assert [answer(first)["locked"], answer(second)["locked"]] == [False, False]
    assert ratelimit.retry_after(username=username, ip=ADDRESS) is None


def test_the_file_caches_increments_are_never_lost_and_keep_their_expiry(tmp_path):
    files = SharedFileCache(str(tmp_path), {})
    assert files.add("failures", 0, timeout=600)
    assert not files.add("failures", 5, timeout=600)  # add never overwrites
    with open(files._key_to_file("failures"), "rb") as f:
        expiry = pickle.load(f)

    def hammer() -> None:
        for _ in range(40):
            files.incr("failures")

    workers = [threading.Thread(target=hammer) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert files.get("failures") == 240
    with open(files._key_to_file("failures"), "rb") as f:
        assert pickle.load(f) == expiry  # the window is not restarted by each failure
    with pytest.raises(ValueError):
        files.incr("never-added")


def test_clearing_the_redis_cache_spares_the_channel_layers_keys():
    default = caches["default"]
    if not isinstance(default, RedisCache):
        pytest.skip("this run's cache is not Redis (no REDIS_URL)")
    client = default._cache.get_client(None, write=True)
    neighbour = f"asgi:test-neighbour-{uuid.uuid4().hex}"
    client.set(neighbour, b"group membership", ex=60)
    default.set("counter", 3)
    try:
        default.clear()
        assert default.get("counter") is None
        assert client.get(neighbour) == b"group membership"
    finally:
        client.delete(neighbour)


# --- which cache each environment gets ----------------------------------------------------------


def backend(cache_url: str = "", redis_url: str = "") -> dict[str, object]:
    return caches_from_env(cache_url, redis_url)["default"]


def test_without_redis_or_cache_url_the_counters_are_files_per_database():
    chosen = backend()
    assert chosen["BACKEND"] == "dashboard.ratelimit.SharedFileCache"
    assert chosen["OPTIONS"]["PER_DATABASE"] is True  # type: ignore[index]


def test_with_redis_url_the_counters_are_in_redis_under_their_own_prefix():
    chosen = backend(redis_url="redis://redis.internal:6379/0")
    assert chosen["BACKEND"] == "dashboard.ratelimit.RedisCache"
    assert chosen["LOCATION"] == "redis://redis.internal:6379/0"
    assert chosen["KEY_PREFIX"]


def test_cache_url_wins_and_anything_unknown_is_refused():
    assert backend("redis://cache:6379/2", "redis://r:6379/0")["LOCATION"] == "redis://cache:6379/2"
    assert backend("file:///srv/vmdash/cache")["LOCATION"] == "/srv/vmdash/cache"
    assert backend("locmem://", "redis://r:6379/0")["BACKEND"].endswith("LocMemCache")  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="Unsupported CACHE_URL"):
        backend("memcached://m:11211")


def test_the_test_run_uses_the_shared_cache_it_tests():
    if os.environ.get("CACHE_URL"):
        pytest.skip("CACHE_URL chooses the cache of this run")
    expected = "RedisCache" if os.environ.get("REDIS_URL") else "SharedFileCache"
    assert settings.CACHES["default"]["BACKEND"].endswith(expected)
