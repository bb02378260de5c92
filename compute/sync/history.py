"""The sync's record of itself: one ``PowerSyncPass`` per host per pass, which the hosts page
shows (when the host was last synced, what the pass changed, which guests nobody accounts for).

Passes write their records in bulk, inside the pass's own transaction when they can
(``compute.sync.passes``). Old records are pruned apart from the passes — by the watchdog and
after each round of ``sync_power_states`` — in one statement for every host, so a pass never
pays for it and its query count does not depend on its host's history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TypedDict

from django.db import connection
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from compute.models import PowerSyncPass

#: Pass records kept per host; older ones are pruned (``prune_passes``).
PASSES_KEPT = 200


class PowerChange(TypedDict):
    """One instance the pass changed, corrected or has something to say about."""

    instance: str
    name: str
    vm_state: str
    #: [the database's power_state before, the driver's now].
    power_state: list[int]
    #: The correction asked for (``stop``, ``forceStop``, ``delete``), or None.
    action: str | None
    note: str


class UnknownGuest(TypedDict):
    """A guest the hypervisor has that no live instance of this host accounts for."""

    uuid: str
    power_state: int
    #: "" (no such instance), "instance deleted", or "instance is on host X".
    note: str


class SyncPassReport(TypedDict):
    """A ``PowerSyncPass`` as ``sync_power_states --json`` prints it."""

    host: str
    started_at: str
    duration_ms: float
    checked: int
    changes: list[PowerChange]
    unknown_guests: list[UnknownGuest]
    error: str


#: The rows ``save`` inserts, one per record, from one JSON parameter.
_RECORDS_SOURCE = {
    # Parsed once, into jsonb: the changes and unknown guests are then taken as they are (from
    # ``json``, each would be parsed a second time on its way into its jsonb column).
    "postgresql": (
        "SELECT (e->>'host_id')::bigint, (e->>'started_at')::timestamptz, "
        "(e->>'duration_ms')::double precision, (e->>'checked')::integer, "
        "e->'changes', e->'unknown_guests', e->>'error' "
        "FROM jsonb_array_elements(%s::jsonb) AS e"
    ),
    "sqlite": (
        "SELECT json_extract(value, '$.host_id'), json_extract(value, '$.started_at'), "
        "json_extract(value, '$.duration_ms'), json_extract(value, '$.checked'), "
        "json_extract(value, '$.changes'), json_extract(value, '$.unknown_guests'), "
        "json_extract(value, '$.error') FROM json_each(%s)"
    ),
}


def save(records: Sequence[PowerSyncPass]) -> None:
    """Insert the records of one pass — at most one per host — in one statement, and set their
    ids as ``create`` would.

    ``INSERT … SELECT`` from one JSON parameter: a pass's records are a hundred rows of JSON at
    most, which the ORM's ``bulk_create`` adapts field by field at several times the cost.
    """
    if not records:
        return
    if connection.vendor not in _RECORDS_SOURCE or not (
        connection.features.can_return_columns_from_insert
    ):
        PowerSyncPass.objects.bulk_create(records)  # pragma: no cover - other databases
        return
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        {
            "host_id": record.host_id,
            "started_at": str(adapt(record.started_at)),
            "duration_ms": record.duration_ms,
            "checked": record.checked,
            "changes": record.changes,
            "unknown_guests": record.unknown_guests,
            "error": record.error,
        }
        for record in records
    ]
    qn = connection.ops.quote_name
    columns = ("host_id", "started_at", "duration_ms", "checked", "changes", "unknown_guests")
    sql = (
        f"INSERT INTO {qn(PowerSyncPass._meta.db_table)} "
        f"({', '.join(qn(c) for c in (*columns, 'error'))}) "
        f"{_RECORDS_SOURCE[connection.vendor]} RETURNING {qn('id')}, {qn('host_id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows, separators=(",", ":"))])
        ids = dict((host_id, pk) for pk, host_id in cursor.fetchall())
    for record in records:
        record.pk = ids[record.host_id]
        record._state.adding = False


def prune_passes(*, keep: int | None = None) -> int:
    """Delete every host's records beyond its newest ``keep`` (``PASSES_KEPT``): one statement
    for all hosts. Returns how many were deleted."""
    if keep is None:
        keep = PASSES_KEPT
    newest_first = Window(
        RowNumber(), partition_by=[F("host_id")], order_by=[F("started_at").desc(), F("id").desc()]
    )
    stale = PowerSyncPass.objects.annotate(newer=newest_first).filter(newer__gt=keep).values("pk")
    return PowerSyncPass.objects.filter(pk__in=stale).delete()[0]


def report(record: PowerSyncPass) -> SyncPassReport:
    """A pass record as JSON-ready data."""
    return {
        "host": record.host.host,
        "started_at": record.started_at.isoformat(),
        "duration_ms": record.duration_ms,
        "checked": record.checked,
        "changes": list(record.changes),
        "unknown_guests": list(record.unknown_guests),
        "error": record.error,
    }
