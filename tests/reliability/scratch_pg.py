"""A PostgreSQL database of the test's own, for the database-restart fault test: made on the
server of ``VMDASH_RELIABILITY_PG`` (else of ``DATABASE_URL`` when it names PostgreSQL, else the
local default), its backends terminated at will, dropped afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from urllib.parse import urlparse

from tests.support.processes import ROOT
from tests.support.servers import create_database, drop_database, pg_server_url

PG_SERVER = pg_server_url("VMDASH_RELIABILITY_PG")

#: Run in a child process on a fresh PostgreSQL database: the schema straight from the models
#: (what ``migrate`` ends with, in a second instead of a dozen; migrations are tested
#: elsewhere), the catalog, a user with a token and an up host. Prints what the test needs.
SET_UP_DATABASE = """
import json
from importlib import import_module
from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection
from compute.models import Project
from compute.services import user_ensure
from compute.services.hosts import host_heartbeat, host_register
from dashboard.api.identity import tokens
with connection.schema_editor() as editor:
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            editor.create_model(model)
import_module("compute.migrations.0002_seed_flavors_and_images").seed(apps, None)
user_ensure(username="alice", password="alice-pass-1", project="demo")
host_heartbeat(host=host_register(host="node1"))
alice = User.objects.get(username="alice")
token = tokens.token_issue(
    user=alice, project=Project.objects.get(name="demo"), methods=["password"]
).token
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
session = SessionStore()
session[SESSION_KEY] = str(alice.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = alice.get_session_auth_hash()
session.create()
print(json.dumps({"token": token, "session": session.session_key}))
"""


def unreachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_SERVER, connect_timeout=2, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as failure:
        return f"PostgreSQL unreachable at {PG_SERVER}: {failure}"
    return None


def terminate_backends(database: str) -> int:
    """What a database restart does to every open connection: it is cut."""
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        ).fetchall()
    return len(rows)


def rows(database: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(database_url(database), autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def database_url(name: str, **query: str) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return urlparse(PG_SERVER)._replace(path=f"/{name}", query=params).geturl()


def create(name: str) -> None:
    create_database(PG_SERVER, name)


def drop(name: str) -> None:
    drop_database(PG_SERVER, name)


def set_up(env: dict[str, str]) -> dict[str, Any]:
    """Run ``SET_UP_DATABASE`` in a child process with ``env``; what it printed."""
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SET_UP_DATABASE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        raise RuntimeError(f"setting up the database failed:\n{made.stderr[-3000:]}")
    return json.loads(made.stdout.strip().splitlines()[-1])
