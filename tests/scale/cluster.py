"""A small scale-out deployment for the tests: a fresh PostgreSQL database, a Redis database of
its own, N daphne processes and N compute agents, all separate processes as in production.

``Cluster.start()`` creates and migrates the database and starts the processes;
``Cluster.stop()`` kills every process it started (by its pid) and drops the database. The
servers it talks to come from ``SCALE_DATABASE_URL`` / ``SCALE_REDIS_URL``, else from the
host parts of ``DATABASE_URL`` / ``REDIS_URL`` when those name PostgreSQL and Redis, else the
local defaults.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from tests.support import servers
from tests.support.processes import Process, free_port
from tests.support.servers import (
    clear_redis,
    create_database,
    drop_database,
    pick_redis_db,
    with_database,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APPLICATION = "dashboard.asgi:application"


def pg_server_url() -> str:
    """The PostgreSQL server to create the test database on (its maintenance db)."""
    return servers.pg_server_url("SCALE_DATABASE_URL")


def redis_server_url() -> str:
    return servers.redis_server_url("SCALE_REDIS_URL")


def unreachable() -> str | None:
    """Why the cluster cannot run here, or None."""
    try:
        import psycopg
        import redis
    except ImportError as missing:
        return f"{missing.name} is not installed"
    try:
        with psycopg.connect(pg_server_url(), connect_timeout=2, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as failure:
        return f"PostgreSQL unreachable at {pg_server_url()}: {failure}"
    try:
        redis.Redis.from_url(redis_server_url(), socket_connect_timeout=2).ping()
    except Exception as failure:
        return f"Redis unreachable at {redis_server_url()}: {failure}"
    return None


class HTTP:
    """A tiny HTTP client with a cookie jar (urllib), enough for the login form and the API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(
        self, method: str, path: str, payload: Any = None, *, token: str | None = None
    ) -> tuple[int, dict[str, str], Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        body = json.dumps(payload).encode() if payload is not None else None
        status, answer_headers, raw = self.request(method, path, body=body, headers=headers)
        return status, answer_headers, (json.loads(raw) if raw else None)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Cluster:
    workdir: Path
    daphnes: int = 2
    hosts: tuple[str, ...] = ("node-a", "node-b")
    env_extra: dict[str, str] = field(default_factory=dict)
    database: str = field(default_factory=lambda: f"vmdash_scale_{secrets.token_hex(4)}")
    ports: list[int] = field(default_factory=list)
    processes: dict[str, Process] = field(default_factory=dict)
    redis_url: str = ""
    database_url: str = ""
    _created: bool = False

    # --- set-up ----------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **self.env_extra,
        }
        env.pop("TEST_SQLITE_NAME", None)
        return env

    def start(self, users: tuple[tuple[str, str, str], ...] = ()) -> None:
        """Create the database; start the web processes while it is migrated (they touch it
        only when a request comes), then the agents; wait until all answer.

        ``users`` are (username, password, project) created with ``create_user`` in the same
        process as the migration, which saves a Python start-up.
        """
        server = pg_server_url()
        self.database_url = with_database(server, self.database)
        self.redis_url = pick_redis_db(redis_server_url())
        create_database(server, self.database)
        self._created = True
        for n in range(self.daphnes):
            port = free_port()
            self.ports.append(port)
            self.spawn(
                f"daphne-{n + 1}",
                [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), APPLICATION],
            )
        script = [
            "from django.core.management import call_command",
            "call_command('migrate', verbosity=0)",
        ]
        for username, password, project in users:
            script.append(
                f"call_command('create_user', {username!r}, password={password!r}, "
                f"project={project!r}, stdout=open('/dev/null', 'w'))"
            )
        self.manage("shell", "-c", "\n".join(script))
        for host in self.hosts:
            self.spawn(
                f"agent-{host}",
                [sys.executable, "manage.py", "compute_agent", "--host", host, "--driver", "fake"],
            )
        for n in range(self.daphnes):
            self.wait_http(n)
        self.wait_hosts_up()

    def spawn(self, name: str, argv: list[str]) -> None:
        self.processes[name] = Process(name, argv, env=self.env, workdir=self.workdir)

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n]}"

    def wait_http(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        name = f"daphne-{n + 1}"
        while time.monotonic() < deadline:
            if not self.processes[name].alive():
                break
            try:
                with urllib.request.urlopen(self.url(n) + "/v2.1/", timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # any HTTP answer: the server is up
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not start:\n{self.log(name)}")

    def wait_hosts_up(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                up = {
                    row[0]
                    for row in conn.execute(
                        "SELECT host FROM compute_host WHERE last_seen_up IS NOT NULL"
                    )
                }
            if set(self.hosts) <= up:
                return
            for name, process in self.processes.items():
                if not process.alive():
                    raise RuntimeError(f"{name} exited:\n{self.log(name)}")
            time.sleep(0.2)
        raise RuntimeError(f"agents did not register: {sorted(set(self.hosts) - up)}")

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    # --- tear-down -------------------------------------------------------------------------
    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        deadline = time.monotonic() + 5
        for process in self.processes.values():
            process.wait_stopped(max(0.1, deadline - time.monotonic()))
        self.processes.clear()
        if self.redis_url:
            clear_redis(self.redis_url)
        if self._created:
            drop_database(pg_server_url(), self.database)
            self._created = False

    # --- signing in ------------------------------------------------------------------------
    def session_cookie(self, n: int, username: str, password: str) -> str:
        """Log in through the login form of daphne ``n``; else make a session in the database."""
        http = HTTP(self.url(n))
        status, _, page = http.request("GET", "/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status == 200 and token:
            form = urllib.parse.urlencode(
                {
                    "username": username,
                    "password": password,
                    "csrfmiddlewaretoken": token.group(1).decode(),
                }
            ).encode()
            status, _, _ = http.request(
                "POST",
                "/login/",
                body=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            session = http.cookie("sessionid")
            if status == 302 and session:
                return session
        return self.manage("shell", "-c", _MAKE_SESSION.format(username=username)).strip()

    def token(self, n: int, username: str, password: str, project: str) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": username,
                            "domain": {"id": "default"},
                            "password": password,
                        }
                    },
                },
                "scope": {"project": {"name": project, "domain": {"id": "default"}}},
            }
        }
        status, headers, answer = HTTP(self.url(n)).json("POST", "/identity/v3/auth/tokens", body)
        if status != 201:
            raise RuntimeError(f"no token: {status} {answer}")
        return headers["X-Subject-Token"]


_MAKE_SESSION = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user = get_user_model().objects.get(username="{username}")
store = SessionStore()
store[SESSION_KEY] = str(user.pk)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.create()
print(store.session_key)
"""
