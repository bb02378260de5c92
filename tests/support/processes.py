"""Real processes for the fault tests: compute agents, daphne and a private Redis server, each
started on the database of the running test (so the test reads and writes what they see) and
stopped by the pid it was given — never by name.

``database_url()`` turns the test database's settings back into a ``DATABASE_URL`` a child
process can open: the on-disk SQLite test file, or the PostgreSQL test database. ``http`` and
``Page`` (a browser tab's live socket) are the clients the tests talk to them with.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APPLICATION = ("dashboard.asgi:application",)
#: A Redis that keeps nothing on disk: a restart comes back empty, as after a crash.
MEMORY_ONLY = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex((host, port)) == 0


def database_url() -> str:
    """The running test's database, as a URL for a child process."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(s["NAME"])
        if name.startswith(("file:", ":memory:")) or "mode=memory" in name:
            raise RuntimeError("the test database is in memory; a child process cannot open it")
        return f"sqlite:///{name}"
    if connection.vendor == "postgresql":
        auth = quote(s["USER"] or "")
        if s.get("PASSWORD"):
            auth += ":" + quote(s["PASSWORD"])
        host = s.get("HOST") or "127.0.0.1"
        port = s.get("PORT") or "5432"
        return f"postgres://{auth}@{host}:{port}/{s['NAME']}?conn_max_age=60"
    raise RuntimeError(f"no URL for a {connection.vendor} test database")


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Process:
    """One child process with its log file; ``kill`` sends SIGKILL to its pid only. The one
    launcher of the tests and the benchmarks (``bench.stack``, ``tests.guests.site``)."""

    #: The port it serves on, if it is a server (``http``, ``ws``).
    port: int = 0

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        workdir: Path,
        port: int | None = None,
    ) -> None:
        self.name = name
        if port is not None:
            self.port = port
        self.log_path = workdir / f"{name}.log"
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no finally, as when a machine loses power."""
        if self.alive():
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        self.terminate()
        self.wait_stopped(timeout)

    def terminate(self) -> None:
        """SIGTERM, without waiting (``wait_stopped``): to stop several at once."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float = 10.0) -> None:
        """Wait for the exit; SIGKILL after ``timeout``."""
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        """The whole log so far (``tail`` for the end of it)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, chars: int = 4000) -> str:
        return self.log()[-chars:]


def child_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATABASE_URL": database_url(),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        # The children run no periodic sync or lifecycle listener unless a test asks.
        "SYNC_POWER_STATE_INTERVAL": "-1",
        "HANDLE_VIRT_LIFECYCLE_EVENTS": "0",
    }
    env.pop("TEST_SQLITE_NAME", None)
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def start_agent(
    host: str, *, workdir: Path, env: dict[str, str] | None = None, **extra: str
) -> Process:
    """``manage.py compute_agent`` for ``host`` on the fake driver; ``env`` as for Daphne."""
    return Process(
        f"agent-{host}-{time.monotonic_ns()}",
        [sys.executable, "manage.py", "compute_agent", "--host", host, "--driver", "fake"],
        env={**(env or child_env()), **extra},
        workdir=workdir,
    )


class Daphne(Process):
    """``daphne dashboard.asgi:application`` on ``port`` (a free one by default); ``env``
    replaces ``child_env()``."""

    def __init__(
        self,
        *,
        workdir: Path,
        env: dict[str, str] | None = None,
        port: int | None = None,
        **extra: str,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            f"daphne-{self.port}",
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), *APPLICATION],
            env={**(env or child_env()), **extra},
            workdir=workdir,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        def answers() -> bool:
            if not self.alive():
                raise AssertionError(f"daphne exited:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=1):
                    return True
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False

        wait_for(answers, timeout=timeout, what="daphne to answer", every=0.1)


class RedisServer(Process):
    """A private, memory-only redis-server on its own port; restartable on the same port."""

    def __init__(self, *, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._start()

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def _start(self) -> None:
        super().__init__(
            f"redis-{self.port}-{time.monotonic_ns()}",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                *MEMORY_ONLY,
            ],
            env=dict(os.environ),
            workdir=self.workdir,
        )
        wait_for(lambda: port_open(self.port), timeout=10, what="redis-server to listen")

    def restart(self) -> None:
        self.stop()
        self._start()


def http(
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    """(status, JSON body or text); raises only when there was no HTTP answer at all."""
    status, answer, _ = http_with_headers(method, url, body=body, headers=headers, timeout=timeout)
    return status, answer


def http_with_headers(
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any, dict[str, str]]:
    """``http`` with the answer's headers too."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), dict(error.headers)
    try:
        return status, json.loads(raw) if raw else None, got
    except ValueError:
        return status, raw.decode(errors="replace"), got


class Page:
    """A browser tab's live socket over a real TCP connection to daphne."""

    def __init__(self, daphne: Daphne, session: str, *, timeout: float = 5.0) -> None:
        from websockets.sync.client import connect

        self.socket = connect(
            f"ws://127.0.0.1:{daphne.port}/ws/live/",
            additional_headers={"Cookie": f"sessionid={session}", "Origin": daphne.url},
            open_timeout=timeout,
            close_timeout=1,
            legacy=True,
        )
        self.hello = self.frame(timeout)
        assert self.hello["type"] == "hello", self.hello

    def frame(self, timeout: float = 5.0) -> dict[str, Any]:
        return json.loads(self.socket.recv(timeout=timeout))

    def delta(self, timeout: float = 10.0, **wanted: Any) -> dict[str, Any]:
        """The next delta whose fields have the ``wanted`` values (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no delta with {wanted} within {timeout} s"
            frame = self.frame(left)
            if frame["type"] == "delta" and all(
                frame["delta"].get(k) == v for k, v in wanted.items()
            ):
                return frame

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.socket.close()


def try_page(daphne: Daphne, session: str) -> Page | None:
    try:
        return Page(daphne, session, timeout=3)
    except Exception:
        return None
