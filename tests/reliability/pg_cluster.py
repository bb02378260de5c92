"""A PostgreSQL server of the test's own, for the real database-restart test: ``initdb`` in a
temporary directory, ``pg_ctl start`` on a free port, ``pg_ctl restart -m fast`` (or a stop, a
pause and a start) at the test's will, then stopped and removed.

``initdb`` refuses to run as root, so as root every PostgreSQL command runs as the ``postgres``
user through ``runuser`` and the directory is handed to that user. ``unavailable()`` says why
none can be made here (no binaries, no way to leave root), for the test to skip with.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.processes import free_port

#: The user the server runs as when the tests run as root.
SERVER_USER = "postgres"


def bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: ``VMDASH_PG_BIN``, else the newest Debian-style
    ``/usr/lib/postgresql/<n>/bin``, else the ``PATH``."""
    explicit = os.environ.get("VMDASH_PG_BIN")
    candidates = [explicit] if explicit else []
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _as_root() -> bool:
    return os.geteuid() == 0


def unavailable() -> str | None:
    if bin_dir() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl); set VMDASH_PG_BIN"
    if _as_root():
        if shutil.which("runuser") is None:
            return "running as root, and initdb refuses root: no runuser to drop to another user"
        try:
            import pwd

            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root, and initdb refuses root: no {SERVER_USER!r} user to run as"
    return None


class PrivateCluster:
    """One throw-away PostgreSQL server on 127.0.0.1 with trust authentication."""

    def __init__(self) -> None:
        binaries = bin_dir()
        assert binaries is not None, unavailable()
        self.bin = binaries
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="vmdash-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"
        if _as_root():
            shutil.chown(self.root, user=SERVER_USER, group=SERVER_USER)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N",
                  "-E", "UTF8", "--locale=C")  # fmt: skip
        self.start()

    @property
    def server_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str, **query: str) -> str:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}" + (
            f"?{params}" if params else ""
        )

    def _options(self) -> str:
        # No fsync: the test needs a restart, not durability across a power cut.
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )

    def _run(self, tool: str, *args: str, timeout: float = 60) -> str:
        argv = [str(self.bin / tool), *args]
        if _as_root():
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "30", *args)

    def start(self) -> None:
        self._ctl("-o", self._options(), "start")

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart``: every session is cut, new ones are refused until it is back."""
        self._ctl("-m", mode, "-o", self._options(), "restart")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def running(self) -> bool:
        argv = [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"]
        if _as_root():
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def remove(self) -> None:
        """Stop the server (by its data directory, whatever state it is in) and delete it."""
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
