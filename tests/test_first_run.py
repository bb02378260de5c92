"""A clean first run: the documented ``manage.py`` commands work on a database whose directory
does not exist yet (a fresh clone has no ``var/``), each without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_documented_commands_run_on_a_database_in_a_missing_directory(tmp_path):
    database = tmp_path / "not-yet" / "var" / "db.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "IMAGE_DIR": str(tmp_path)}
    for name in ("TEST_SQLITE_NAME", "REDIS_URL"):
        env.pop(name, None)
    steps = [
        ("migrate", "--verbosity", "0"),
        ("create_user", "ada", "--password", "ada-pass", "--project", "lab", "--role", "manager"),
        ("check",),
    ]
    for step in steps:
        done = manage(*step, env=env)
        assert done.returncode == 0, (step, done.stderr)
        assert "Traceback" not in done.stderr, (step, done.stderr)
    assert database.exists()
    # With no compute host yet, the sync says so in one line instead of a traceback.
    done = manage("sync_power_states", "--once", "--json", env=env)
    assert (done.returncode, done.stderr) == (1, "CommandError: No compute host to sync.\n")
