"""A live dashboard for the browser tests: daphne and a driver process on one database of their
own — a SQLite file in the site's folder, or, where the run's ``DATABASE_URL`` is PostgreSQL, a
database made for the site on that server and dropped after it (so the pages' live path crosses
PostgreSQL's outbox and ``NOTIFY`` there, and Redis where ``REDIS_URL`` is set).

``LiveSite.start()`` migrates that fresh database, starts ``tests/web/live_driver.py`` (the fake
compute hosts, the watchdog and a second client) and ``daphne`` serving ``dashboard.asgi``.
Changes made by the driver reach the pages through the outbox relay in the daphne process,
exactly as changes from an agent or the API would. ``restart_server`` kills daphne and starts
it again on the same port, for the reconnect test.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.processes import Daphne, free_port
from tests.support.servers import create_database, drop_database, pg_server_url, with_database

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
_SITES = itertools.count(1)


def site_database(workdir: Path) -> tuple[str, str | None]:
    """(the site's ``DATABASE_URL``, the PostgreSQL database to drop after it, if any)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{workdir / 'db.sqlite3'}", None
    name = f"vmdash_live_{os.getpid()}_{next(_SITES)}"
    drop_database(pg_server_url(), name)
    create_database(pg_server_url(), name)
    return with_database(url, name), name


class LiveSite:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        database, self.postgres_database = site_database(workdir)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": database,
            "DEBUG": "1",
            "REPORT_INTERVAL": "1",
            "SERVICE_DOWN_TIME": "3",
            "WATCHDOG_INTERVAL": "0.3",
            "SYNC_POWER_STATE_INTERVAL": "-1",
            "HANDLE_VIRT_LIFECYCLE_EVENTS": "0",
            "FAKE_DELAYS": "default=0.3",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("TEST_SQLITE_NAME", None)
        self.server: Daphne | None = None
        self.driver: subprocess.Popen[str] | None = None

    # --- processes -----------------------------------------------------------------------
    def start(self, hosts: tuple[str, ...] = ("node1", "node2")) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
        )
        self.driver = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "web" / "live_driver.py")],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.workdir / "driver.log", "w"),  # noqa: SIM115
            text=True,
        )
        self.start_server(wait=False)  # daphne boots while the driver seeds
        assert json.loads(self.driver.stdout.readline()) == {"ready": True}  # type: ignore[union-attr]
        self.call("seed", hosts=list(hosts))
        self.wait_for_server()

    def start_server(self, *, wait: bool = True) -> None:
        self.server = Daphne(workdir=self.workdir, env=self.env, port=self.port)
        if wait:
            self.wait_for_server()

    def wait_for_server(self) -> None:
        assert self.server is not None
        self.server.wait_ready(timeout=20)

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.kill()
            self.server = None

    def restart_server(self) -> None:
        self.stop_server()
        self.start_server()

    def stop(self) -> None:
        self.stop_server()
        if self.driver is not None:
            assert self.driver.stdin is not None
            self.driver.stdin.close()
            try:
                self.driver.wait(10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
            self.driver = None
        if self.postgres_database is not None:
            drop_database(pg_server_url(), self.postgres_database)
            self.postgres_database = None

    # --- the second client ---------------------------------------------------------------
    def call(self, op: str, **args: Any) -> Any:
        assert self.driver is not None and self.driver.stdin and self.driver.stdout
        self.driver.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self.driver.stdin.flush()
        reply = json.loads(self.driver.stdout.readline())
        if not reply["ok"]:
            raise RuntimeError(f"{op} failed: {reply['error']}")
        return reply["result"]

    def attempt(self, op: str, **args: Any) -> tuple[bool, Any]:
        """Like ``call``, but a refusal is an answer rather than an error."""
        try:
            return True, self.call(op, **args)
        except RuntimeError as error:
            return False, str(error)
