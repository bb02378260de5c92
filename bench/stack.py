"""The deployment the benchmarks run against: a bench database on PostgreSQL, a Redis database of
its own, Django set up in this process on that database, and daphne processes on demand.

The bench database is dropped and created afresh on ``create()`` and dropped on ``destroy()``
(``--keep`` leaves it for a look afterwards). Every process started here is stopped by its pid.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import Process, free_port
from tests.support.servers import clear_redis, pick_redis_db, with_database

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: What the daphne processes serve; ``BENCH_ASGI`` swaps in another application to compare.
ASGI_APPLICATION = os.environ.get("BENCH_ASGI", "dashboard.asgi:application")


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
        return with_database(self.pg_server, self.database)

    # --- the bench database and Django -----------------------------------------------------
    def create(self) -> None:
        """Create the bench database, take a Redis database, point Django at both, migrate."""
        import psycopg

        self.redis_url = pick_redis_db(self.redis_server)
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
            clear_redis(self.redis_url)
        if not self.keep:
            import psycopg

            with psycopg.connect(self.pg_server, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    # --- processes -------------------------------------------------------------------------
    def spawn(
        self, name: str, argv: list[str], *, port: int = 0, env_extra: dict[str, str] | None = None
    ) -> Process:
        env = {**self.env(), **(env_extra or {})}
        process = Process(name, argv, env=env, workdir=self.workdir, port=port)
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
        process.stop(timeout=5)
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        for process in list(self.processes):
            self.stop(process)
