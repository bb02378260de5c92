"""What a change looks like to the outside, and the outbox rows that carry it.

The state machine and the host services call ``record_instance_change`` / ``record_host_change``
inside the transaction that made the change, so an event exists exactly when the change
committed (invariant 4). ``compute.outbox.relay`` tails the rows and fans them out.

Payloads are ``TypedDict``s: they leave the process as JSON. An instance delta carries no host
name and no host_status; the publisher adds those only for the receivers whose policy allows.

On PostgreSQL the rows go in with one ``INSERT … SELECT`` from one JSON parameter, the
payloads, that also calls ``pg_notify``: one round trip, and the notification is delivered when
(and only if) the transaction commits, so the relays wake at once for a committed change and
never for a rolled-back one. Elsewhere (SQLite) ``bulk_create``, and the relays poll.

An outbox row's kind, object id, version and project are its payload's ``type``, ``id``,
``version`` and ``project_id`` (NULL for a host, whose delta has none): every delta carries
them, so the insert reads them from the payload instead of being sent them twice.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypedDict

from django.db import connection
from django.utils import timezone

from compute.models import ChangeEvent, Host, Instance
from compute.states import POWER_STATE_NAMES
from compute.status import status_from_state


def tail_sql(*, holes: bool, placeholders: tuple[str, ...]) -> str:
    """The outbox's tail, spelled once for both readers: the rows after a sequence number (and,
    with ``holes``, the awaited holes too, the scan starting at the oldest of them: an index
    range, not the table), in sequence order, a batch at most. ``placeholders`` are the
    driver's, in order: (after, limit), or (oldest hole, after, holes, limit)."""
    table = ChangeEvent._meta.db_table
    columns = f"SELECT id, kind, project_id, object_id, payload FROM {table}"
    if not holes:
        after, limit = placeholders
        return f"{columns} WHERE id > {after} ORDER BY id LIMIT {limit}"
    oldest, after, awaited, limit = placeholders
    return (
        f"{columns} WHERE id >= {oldest} AND (id > {after} OR id {awaited}) "
        f"ORDER BY id LIMIT {limit}"
    )


#: The PostgreSQL channel a committed outbox write notifies; ``compute.outbox.relay`` listens.
NOTIFY_CHANNEL = "vmdash_outbox"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class InstanceDelta(TypedDict):
    type: str
    id: str
    version: int
    name: str
    project_id: str
    status: str
    vm_state: str
    task_state: str | None
    power_state: int
    power_state_name: str
    progress: int
    task_started_at: str | None
    locked: bool
    deleted: bool
    updated_at: str | None
    #: Admin-only fields; the publisher strips them for project groups.
    host: str | None


class HostDelta(TypedDict):
    type: str
    id: str
    version: int
    host: str
    status: str
    disabled_reason: str | None
    forced_down: bool
    host_status: str
    last_seen_up: str | None


class DeltaBuilder:
    """Builds the deltas of one batch of changes (a sync pass writes a thousand at a time); one
    instance's delta is ``DeltaBuilder().instance(row)``.

    What many rows of a batch share is worked out once: the rows of one write share their
    ``updated_at`` and a handful of hosts.
    """

    def __init__(self) -> None:
        #: Keyed with the zone too: equal instants in two zones print differently.
        self._stamps: dict[tuple[datetime, object], str] = {}
        self._hosts: dict[int, str] = {}

    def _iso(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        key = (value, value.tzinfo)
        found = self._stamps.get(key)
        if found is None:
            found = self._stamps[key] = value.isoformat()
        return found

    def _host(self, instance: Instance) -> str | None:
        host_id = instance.host_id
        if host_id is None:
            return None
        found = self._hosts.get(host_id)
        if found is None:
            found = self._hosts[host_id] = instance.host.host
        return found

    def instance(self, instance: Instance) -> InstanceDelta:
        deleted = instance.deleted_at is not None
        power = instance.power_state
        return {
            "type": "instance",
            "id": str(instance.uuid),
            "version": instance.version,
            "name": instance.name,
            "project_id": instance.project_id,
            "status": str(
                status_from_state(instance.vm_state, instance.task_state, deleted=deleted)
            ),
            "vm_state": instance.vm_state,
            "task_state": instance.task_state,
            "power_state": power,
            "power_state_name": POWER_STATE_NAMES.get(power, "unknown"),
            "progress": instance.progress,
            "task_started_at": self._iso(instance.task_started_at),
            "locked": instance.locked,
            "deleted": deleted,
            "updated_at": self._iso(instance.updated_at),
            "host": self._host(instance),
        }


def host_delta(host: Host, *, status: str | None = None) -> HostDelta:
    return {
        "type": "host",
        "id": str(host.uuid),
        "version": host.version,
        "host": host.host,
        "status": "disabled" if host.disabled else "enabled",
        "disabled_reason": host.disabled_reason,
        "forced_down": host.forced_down,
        "host_status": status if status is not None else str(host.host_status),
        "last_seen_up": _iso(host.last_seen_up),
    }


#: Why the changes written now are made, when the writer says (``change_cause``).
_cause: ContextVar[dict[str, Any] | None] = ContextVar("outbox_change_cause", default=None)


@contextlib.contextmanager
def change_cause(kind: str, **details: Any) -> Iterator[None]:
    """Label every outbox row written inside the block with ``cause``: who made the change and
    why (``sync.corrected``, ``watchdog.reaped``, ``action.failed``). Readers of the outbox by
    sequence (``compute.notify``) tell a correction or a failure from an ordinary change by it;
    the live pages ignore it. Details must be JSON values."""
    token = _cause.set({"kind": kind, **details})
    try:
        yield
    finally:
        _cause.reset(token)


def _with_cause(payloads: list[Any]) -> list[Any]:
    cause = _cause.get()
    if cause is not None:
        for payload in payloads:
            payload["cause"] = cause
    return payloads


def record_instance_changes(instances: Iterable[Instance]) -> None:
    """Append one outbox row per changed instance. Call inside the changing transaction."""
    deltas = DeltaBuilder()
    _append(_with_cause([deltas.instance(i) for i in instances]))


def record_host_change(host: Host, *, status: str | None = None) -> None:
    _append(_with_cause([host_delta(host, status=status)]))


def _append(payloads: list[Any]) -> None:
    """One outbox row per payload, in order; each row's kind, object id, version and project
    are the payload's ``type``, ``id``, ``version`` and ``project_id``."""
    if not payloads:
        return
    if connection.vendor != "postgresql":
        ChangeEvent.objects.bulk_create(
            [
                ChangeEvent(
                    kind=d["type"],
                    object_id=d["id"],
                    version=d["version"],
                    project_id=d.get("project_id"),
                    payload=dict(d),
                )
                for d in payloads
            ]
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            # One parameter, the payloads as one JSON document, parsed once into jsonb; the
            # other columns are read back out of each payload. Arrays beside it would cost
            # psycopg an element-by-element quoting pass each, and the server a join.
            f"WITH added AS (INSERT INTO {connection.ops.quote_name(ChangeEvent._meta.db_table)} "
            "(kind, object_id, version, project_id, payload, created_at) "
            "SELECT d->>'type', d->>'id', (d->>'version')::bigint, d->>'project_id', d, %s "
            "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(d, n) "
            "ORDER BY n RETURNING id) "
            "SELECT pg_notify(%s, max(id)::text) FROM added",
            [timezone.now(), json.dumps(payloads, separators=(",", ":")), NOTIFY_CHANNEL],
        )


class NotificationDelta(TypedDict):
    type: str
    #: The user's id, as text: the row's object id, and the socket group ``user.<id>``.
    id: str
    #: The notification's id.
    version: int
    unread: int
    title: str
    kind: str
    event_type: str
    object_id: str


def record_schedule_outcome(payload: dict[str, Any]) -> None:
    """A scheduled run that did not start its action (``compute.services.schedule_runs``)."""
    _append([payload])


def record_notifications(deltas: list[NotificationDelta] | list[dict[str, Any]]) -> None:
    """Append users' bell updates (``compute.notify``): only each user's sockets get theirs."""
    _append(list(deltas))
