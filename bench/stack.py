"""The deployment the benchmarks run against: a bench database on PostgreSQL, a Redis database of
its own, Django set up in this process on that database, and daphne processes on demand.

The bench database is dropped and created afresh on ``create()`` and dropped on ``destroy()``
(``--keep`` leaves it for a look afterwards). Every process started here is stopped by its pid.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: What the daphne processes serve; ``BENCH_ASGI`` swaps in another application to compare.
ASGI_APPLICATION = os.environ.get("BENCH_ASGI", "dashboard.asgi:application")
#: Redis databases the bench may take (the first empty one is used).
REDIS_DBS = range(8, 16)


def with_path(url: str, path: str) -> str:
    return urllib.parse.urlparse(url)._replace(path=path).geturl()


def rss_mib(pid: int) -> float:
    """Resident set size of a process, MiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    port: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@dataclass
class Stack:
    pg_server: str
    redis_server: str
    workdir: Path
    database: str = "vmdash_bench"
    keep: bool = False
    redis_url: str = ""
    processes: list[Process] = field(default_factory=list)
    #: One key for this process and its children: sessions and their auth hashes are signed.
    secret_key: str = field(
        default_factory=lambda: os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(50)
    )

    @property
    def database_url(self) -> str:
        return with_path(self.pg_server, f"/{self.database}")

    # --- the bench database and Django -----------------------------------------------------
    def create(self) -> None:
        """Create the bench database, take a Redis database, point Django at both, migrate."""
        import psycopg

        self.redis_url = self._pick_redis_db()
        with psycopg.connect(self.pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.database}"')
        os.environ.update(self.env_overrides())
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)

    def env_overrides(self) -> dict[str, str]:
        """What this process and every child run with: production-like settings."""
        return {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DEBUG": "0",
            "SECRET_KEY": self.secret_key,
            "SECURE_COOKIES": "0",
            "LOG_LEVEL": "WARNING",
            # The bench drives power states itself, and no agent runs: hosts must not expire and
            # queued actions must not time out while it runs (the watchdog still makes its
            # passes in every web process, at their usual cost).
            "SYNC_POWER_STATE_INTERVAL": "-1",
            "SERVICE_DOWN_TIME": "86400",
            "DISPATCH_TIMEOUT": "86400",
        }

    def env(self) -> dict[str, str]:
        env = {**os.environ, **self.env_overrides(), "PYTHONUNBUFFERED": "1"}
        env.pop("TEST_SQLITE_NAME", None)
        return env

    def destroy(self) -> None:
        self.stop_all()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django may never have been set up
            pass
        if self.redis_url:
            self._clear_redis(self.redis_url)
        if not self.keep:
            import psycopg

            with psycopg.connect(self.pg_server, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _pick_redis_db(self) -> str:
        import redis

        for index in REDIS_DBS:
            url = with_path(self.redis_server, f"/{index}")
            if redis.Redis.from_url(url).dbsize() == 0:
                return url
        url = with_path(self.redis_server, f"/{REDIS_DBS[0]}")
        self._clear_redis(url)
        return url

    @staticmethod
    def _clear_redis(url: str) -> None:
        import redis

        client = redis.Redis.from_url(url)
        for pattern in ("vmdash:*", "asgi*", "bench:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)

    # --- processes -------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str], *, port: int = 0) -> Process:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        popen = subprocess.Popen(
            argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        process = Process(name, popen, port)
        self.processes.append(process)
        return process

    def daphne(self, name: str) -> Process:
        """A daphne process serving the dashboard; returns once it answers HTTP."""
        port = free_port()
        process = self.spawn(
            name,
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), ASGI_APPLICATION],
            port=port,
        )
        self.wait_http(process, "/v2.1/")
        return process

    def wait_http(self, process: Process, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                break
            try:
                with urllib.request.urlopen(process.http + path, timeout=2):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{process.name} did not start; see {self.workdir / process.name}.log")

    def stop(self, process: Process) -> None:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
            try:
                process.popen.wait(5)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(5)
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        for process in list(self.processes):
            self.stop(process)
