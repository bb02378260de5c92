"""Bench data, loaded straight into the tables: projects, users, hosts, instances and the fake
hypervisor's guests.

Seeding is not a product write path. The instances and guests go in with PostgreSQL's COPY and
a column list built from the model, the rest with ``bulk_create``; no state column is ever
written after the row exists (the state machine remains the only writer, invariant 1).

Layout: instance ``i`` runs on host ``i % hosts`` and belongs to project ``(i // hosts) %
projects``, so every host carries instances of every project. Every instance is ACTIVE with no
task and its guest RUNNING. On host ``h`` the first ``h % 20`` instances have drifted (their
power_state says NOSTATE; about one in ten overall), which is what the power-state sync finds and
writes — so hosts differ in how much a pass changes, from nothing to 19 rows.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from compute.models import FakeGuest, Flavor, Host, Image, Instance, Membership, Project, Role

PASSWORD = "bench-password"
ADMIN = "bench-admin"
RUNNING, NOSTATE = 1, 0
#: Host h has h % DRIFT_SPREAD instances whose power_state the hypervisor contradicts.
DRIFT_SPREAD = 20


def member(p: int) -> str:
    return f"member-{p:03d}"


def project_id(p: int) -> str:
    return uuid.UUID(int=p + 1).hex


@dataclass
class Seeded:
    instances: int
    hosts: list[Host]
    projects: list[str]
    #: project id → the uuids of its instances, in seeding order.
    by_project: dict[str, list[str]] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)

    def session(self, username: str) -> str:
        """A logged-in session for ``username`` (one per user; many sockets may share it)."""
        if username not in self.sessions:
            from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
            from django.contrib.sessions.backends.db import SessionStore

            user = get_user_model().objects.get(username=username)
            store = SessionStore()
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.create()
            self.sessions[username] = store.session_key or ""
        return self.sessions[username]


def seed(*, instances: int, hosts: int, projects: int) -> Seeded:
    now = timezone.now()
    password = make_password(PASSWORD)
    with transaction.atomic():
        Project.objects.bulk_create(
            [Project(id=project_id(p), name=f"bench-{p:03d}") for p in range(projects)]
            + [Project(id=project_id(projects), name="bench-admin")]
        )
        User = get_user_model()
        User.objects.bulk_create(
            [User(username=member(p), password=password) for p in range(projects)]
            + [User(username=ADMIN, password=password)]
        )
        users = dict(User.objects.values_list("username", "pk"))
        Membership.objects.bulk_create(
            [
                Membership(user_id=users[member(p)], project_id=project_id(p))
                for p in range(projects)
            ]
            + [Membership(user_id=users[ADMIN], project_id=project_id(projects), role=Role.ADMIN)]
        )
        Host.objects.bulk_create(
            [
                Host(host=f"node-{h:04d}", last_seen_up=now, driver="fake", published_status="up")
                for h in range(hosts)
            ]
        )
    host_rows = list(Host.objects.order_by("host"))
    flavor = Flavor.objects.get(flavorid="1")
    image = Image.objects.order_by("name").first()
    seeded = Seeded(instances, host_rows, [project_id(p) for p in range(projects)])
    for pid in seeded.projects:
        seeded.by_project[pid] = []

    rng = random.Random(6)
    instance_rows: list[dict[str, Any]] = []
    guest_rows: list[dict[str, Any]] = []
    for i in range(instances):
        host = host_rows[i % hosts]
        pid = project_id((i // hosts) % projects)
        ident = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        seeded.by_project[pid].append(ident)
        stamp = now - timedelta(seconds=instances - i)
        row: dict[str, Any] = {
            "uuid": ident,
            "name": f"vm-{i:06d}",
            "project_id": pid,
            "user_id": users[member((i // hosts) % projects)],
            "host_id": host.pk,
            "availability_zone": "nova",
            "flavor_id": flavor.pk,
            "image_id": image.pk if image else None,
            "launched_at": stamp,
            "created_at": stamp,
            "updated_at": stamp,
            # A bulk load, not a transition: the rows are born in these states.
            "vm_state": "active",
            "task_state": None,
            "power_state": NOSTATE if i // hosts < (i % hosts) % DRIFT_SPREAD else RUNNING,
            "addresses": {
                "private": [
                    {"version": 4, "addr": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}
                    | {"OS-EXT-IPS:type": "fixed"}
                ]
            },
        }
        instance_rows.append(row)
        guest_rows.append(
            {"uuid": ident, "host": host.host, "name": row["name"], "state": RUNNING}
            | {"updated_at": now}
        )
    copy_rows(Instance, instance_rows)
    copy_rows(FakeGuest, guest_rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return seeded


def copy_rows(model: type[Any], rows: list[dict[str, Any]]) -> None:
    """COPY ``rows`` into ``model``'s table; columns the rows leave out take the field default."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.name != "id"]
    columns = [f.column for f in fields]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        raw = cursor.connection  # psycopg 3
        with raw.cursor() as pg, pg.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_value(f, row) for f in fields])


def _value(f: Any, row: dict[str, Any]) -> Any:
    name = f.attname if f.attname in row else f.name
    if name in row:
        value = row[name]
    elif f.has_default():
        value = f.get_default()
    else:
        value = None
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value
