"""The state machine: the only code that writes ``vm_state``, ``task_state`` and ``power_state``.

Every write is one conditional UPDATE: it names the task_state it expects to find (Nova's
``save(expected_task_state=…)``), bumps ``version`` and, in the same transaction, appends the
change to the outbox. If the row holds another task_state, nothing is written and
``UnexpectedTaskState`` is raised: a lost race is an error, never an overwrite (invariant 2),
and never published (invariant 4). A test fails if any other module assigns a state column
(invariant 1).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import F, Field, Q
from django.utils import timezone

from compute import statements
from compute.exceptions import NotFound, UnexpectedTaskState
from compute.models import Host, Instance
from compute.outbox import write as events
from compute.states import PowerState, VmState

_UNSET: Any = object()

#: Columns the state machine owns; other fields may be set alongside a transition.
STATE_COLUMNS = ("vm_state", "task_state", "power_state")


def _task_filter(expected: str | Collection[str | None] | None) -> Q:
    if expected is None or isinstance(expected, str):
        expected = (expected,)
    names = [t for t in expected if t is not None]
    q = Q(task_state__in=names) if names else Q(pk__in=[])
    if None in expected:
        q |= Q(task_state__isnull=True)
    return q


def transition(
    instance: Instance | int,
    *,
    expected_task_state: str | Collection[str | None] | None,
    expected_vm_state: Collection[str] | None = None,
    vm_state: str = _UNSET,
    task_state: str | None = _UNSET,
    power_state: int = _UNSET,
    new_task: bool = False,
    **fields: Any,
) -> Instance:
    """Move one instance from its expected task_state to new states, atomically.

    ``new_task`` restarts the task clock (``task_started_at``), as when an action is accepted;
    clearing the task clears the clock. ``fields`` are other columns written in the same UPDATE
    (progress, host, launched_at, system_metadata, …). Returns the instance as committed.
    """
    pk = instance.pk if isinstance(instance, Instance) else instance
    now = timezone.now()
    updates: dict[str, Any] = dict(fields)
    if vm_state is not _UNSET:
        updates["vm_state"] = vm_state
    if power_state is not _UNSET:
        updates["power_state"] = power_state
    if task_state is not _UNSET:
        updates["task_state"] = task_state
        if task_state is None:
            updates["task_started_at"] = None
            updates.setdefault("progress", 0)
        elif new_task or expected_task_state is None:
            updates["task_started_at"] = now
    updates["updated_at"] = now
    expected_task = (
        (expected_task_state,)
        if expected_task_state is None or isinstance(expected_task_state, str)
        else tuple(expected_task_state)
    )
    expected_vm = None if expected_vm_state is None else list(expected_vm_state)
    # No savepoint: nothing here needs undoing on its own. A lost race writes nothing and is
    # raised after the block, so a caller's transaction that catches it stays usable.
    with transaction.atomic(savepoint=False):
        committed = _update_one(pk, updates, expected_task, expected_vm)
        if committed is not None:
            _keep_related(committed, instance, updates)
            events.record_instance_changes([committed])
    if committed is None:
        current = Instance.objects.filter(pk=pk).values("uuid", "task_state", "deleted_at")
        found = current.first()
        if found is None:
            raise NotFound(f"Instance {pk} could not be found.")
        raise UnexpectedTaskState(
            instance_uuid=str(found["uuid"]),
            expected=expected_task_state,
            actual="deleted" if found["deleted_at"] else found["task_state"],
        )
    return committed


def _update_one(
    pk: int,
    updates: dict[str, Any],
    expected_task: tuple[str | None, ...],
    expected_vm: list[str] | None,
) -> Instance | None:
    """Write ``updates`` to row ``pk`` and bump its version if it is live and holds an expected
    task_state (and vm_state); the row as written, or None.

    Where the database has ``UPDATE … RETURNING`` (``_update_returning``) the write and the
    read are one statement (``compute.statements.instance_update``, made once per shape);
    elsewhere the ORM writes and the row is read again, in the same transaction.
    """
    if _update_returning():
        return statements.instance_update(
            pk, updates, expected_task_states=expected_task, expected_vm_states=expected_vm
        )
    rows = Instance.objects.filter(pk=pk, deleted_at__isnull=True).filter(
        _task_filter(expected_task)
    )
    if expected_vm is not None:
        rows = rows.filter(vm_state__in=expected_vm)
    if rows.update(**updates, version=F("version") + 1) != 1:
        return None
    return Instance.objects.get(pk=pk)


#: The relations a written row may take over from the instance the caller passed.
_RELATED = ("host", "flavor", "image", "project")


def _keep_related(committed: Instance, given: Instance | int, written: dict[str, Any]) -> None:
    """Give the written row the related objects it was written with, or those the caller's
    instance already holds (the same rows, as the foreign keys did not change), so nobody
    queries them again; the host, which every delta names, is read if neither had it."""
    for name in _RELATED:
        field = Instance._meta.get_field(name)
        if isinstance(written.get(name), field.related_model):
            field.set_cached_value(committed, written[name])
        elif (
            isinstance(given, Instance)
            and field.is_cached(given)
            and getattr(given, field.attname) == getattr(committed, field.attname)
        ):
            field.set_cached_value(committed, field.get_cached_value(given))
    if committed.host_id is not None and not Instance._meta.get_field("host").is_cached(committed):
        committed.host = Host.objects.get(pk=committed.host_id)


class PowerWrite(NamedTuple):
    """A power_state the sync read from the driver, and what the row held when the sync decided.

    The row is written only if it still holds all of it at write time (invariant 3).
    """

    #: The driver's power state now: what is written.
    power_state: int
    #: The host the row was read on; it must still be there. Its name goes into the delta.
    host: Host
    #: The vm_state and power_state the sync read and decided for.
    vm_state: str
    previous: int


def set_power_states(
    *, host_id: int | None, changes: Mapping[int, int | PowerWrite]
) -> list[Instance]:
    """Write many power_states, on one host or many, in one conditional statement.

    ``changes`` maps instance pk → the driver's power_state (the row must be on ``host_id``), or
    → a ``PowerWrite``, which names the row's host itself (``host_id`` may then be None) and the
    vm_state and power_state the row must still hold. Either way a row is written only if, at
    write time, it is live and has no task in progress, so a task that started after the sync
    read the row is never trampled (invariant 3). Returns the rows actually written (and
    published), as committed, with their host; the fields their change event does not read
    are left to load on access.

    The write joins the caller's transaction without a savepoint (the sync's pass is one
    transaction): an error here must abort that transaction, never be caught inside it.
    """
    if not changes:
        return []
    writes, hosts = _power_writes(host_id, changes)
    if not writes:
        return []
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        if _update_returning():
            committed = _write_returning(writes, now)
        else:
            committed = _write_locked(writes, now)
        for instance in committed:
            instance.host = hosts[instance.host_id]  # no join, no query: the caller's rows
        events.record_instance_changes(committed)
    return committed


#: (pk, power_state, host pk, expected vm_state or None, expected power_state or None)
_Write = tuple[int, int, int, str | None, int | None]


def _power_writes(
    host_id: int | None, changes: Mapping[int, int | PowerWrite]
) -> tuple[list[_Write], dict[int, Host]]:
    writes: list[_Write] = []
    hosts: dict[int, Host] = {}
    plain = False
    for pk, change in changes.items():
        if isinstance(change, PowerWrite):
            hosts[change.host.pk] = change.host
            writes.append(
                (pk, int(change.power_state), change.host.pk, change.vm_state, change.previous)
            )
            continue
        if host_id is None:
            raise ValueError(f"power_state {change} for instance {pk} names no host")
        plain = True
        writes.append((pk, int(change), host_id, None, None))
    if plain and host_id not in hosts:
        found = Host.objects.filter(pk=host_id).first()
        if found is None:
            # No row can be on a host that does not exist: nothing to write.
            return [w for w in writes if w[2] != host_id], hosts
        hosts[found.pk] = found
    return writes, hosts


def _update_returning() -> bool:
    """Whether the database runs ``UPDATE … FROM … RETURNING``.

    Django has no feature flag for it. PostgreSQL always has; SQLite since 3.35, the release
    that also brought ``INSERT … RETURNING`` (``can_return_columns_from_insert``), and its JSON
    functions feed the rows. MariaDB's RETURNING is for INSERT and DELETE only.
    """
    features = connection.features
    if connection.vendor == "postgresql":
        return True
    return (
        connection.vendor == "sqlite"
        and features.can_return_columns_from_insert
        and features.supports_json_field
    )


#: The rows the statement joins on, one per write, from one JSON parameter: one string to send
#: (psycopg quotes arrays element by element), and a plan that looks each row up by its key.
_WRITES_SOURCE = {
    "postgresql": (
        "(SELECT (e->>0)::bigint AS w_id, (e->>1)::smallint AS w_power, (e->>2)::bigint AS w_host, "
        "e->>3 AS w_vm, (e->>4)::smallint AS w_prev FROM json_array_elements(%s::json) AS e) AS w"
    ),
    "sqlite": (
        "(SELECT json_extract(value, '$[0]') AS w_id, json_extract(value, '$[1]') AS w_power, "
        "json_extract(value, '$[2]') AS w_host, json_extract(value, '$[3]') AS w_vm, "
        "json_extract(value, '$[4]') AS w_prev FROM json_each(%s)) AS w"
    ),
}


#: What ``UPDATE … RETURNING`` brings back: the columns an instance's change event reads
#: (``events.DeltaBuilder.instance``), not the whole row — the JSON columns alone would double the cost
#: of a large write. Any other field loads on first access, one query per instance: a test
#: fails if the change event ever needs one (``tests/sync/test_power_writes.py``).
_RETURNED = frozenset(
    (
        "id",
        "uuid",
        "name",
        "project_id",
        "host_id",
        "vm_state",
        "task_state",
        "power_state",
        "progress",
        "task_started_at",
        "locked",
        "version",
        "updated_at",
        "deleted_at",
    )
)


def _write_returning(writes: list[_Write], now: datetime) -> list[Instance]:
    """One ``UPDATE … FROM (the writes) … RETURNING``: the conditions, the write and the
    committed rows (for the deltas) in one round trip, whatever the number of rows."""
    qn = connection.ops.quote_name
    table = qn(Instance._meta.db_table)
    # In the model's field order, as ``Model.from_db`` takes them.
    fields = [f for f in Instance._meta.concrete_fields if f.attname in _RETURNED]
    # Every condition is checked on the row as it is now, under the row lock the UPDATE takes.
    sql = (
        f"UPDATE {table} SET power_state = w.w_power, version = version + 1, updated_at = %s "
        f"FROM {_WRITES_SOURCE[connection.vendor]} "
        f"WHERE {table}.id = w.w_id AND {table}.host_id = w.w_host "
        f"AND {table}.task_state IS NULL AND {table}.deleted_at IS NULL "
        f"AND (w.w_vm IS NULL OR {table}.vm_state = w.w_vm) "
        f"AND (w.w_prev IS NULL OR {table}.power_state = w.w_prev) "
        f"RETURNING {', '.join(qn(f.column) for f in fields)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), json.dumps(writes)])
        rows = cursor.fetchall()
    return _instances(fields, rows)


def _instances(fields: Sequence[Field], rows: list[tuple[Any, ...]]) -> list[Instance]:
    """Model instances from raw rows, through the converters the ORM would apply."""
    return statements.from_rows(Instance, fields, rows)  # type: ignore[return-value]


def _write_locked(writes: list[_Write], now: datetime) -> list[Instance]:
    """Without RETURNING: lock the rows that still match, write exactly those, read them back.

    A query or two per distinct (power, host, expectations), not per row.
    """
    groups: dict[tuple[int, int, str | None, int | None], list[int]] = defaultdict(list)
    for pk, power, host, vm_state, previous in writes:
        groups[(power, host, vm_state, previous)].append(pk)
    written: list[int] = []
    for (power, host, vm_state, previous), pks in groups.items():
        rows = Instance.objects.filter(
            pk__in=pks, host_id=host, task_state__isnull=True, deleted_at__isnull=True
        )
        if vm_state is not None:
            rows = rows.filter(vm_state=vm_state)
        if previous is not None:
            rows = rows.filter(power_state=previous)
        locked = list(rows.select_for_update().values_list("pk", flat=True))
        if not locked:
            continue
        updated = rows.filter(pk__in=locked).update(
            power_state=power, version=F("version") + 1, updated_at=now
        )
        if updated != len(locked):  # pragma: no cover - only without row locks
            raise RuntimeError("rows changed under their locks; the power write is rolled back")
        written.extend(locked)
    return list(Instance.objects.filter(pk__in=written)) if written else []


def set_deleted_power_state(*, pk: int, host_id: int, write: PowerWrite) -> Instance | None:
    """Write the power_state of a row already deleted, as Nova's lifecycle handler does (it
    reads with ``read_deleted='yes'`` and saves the driver's power state before warning that the
    guest outlived its instance). Conditional like every sync write: the row must still be
    deleted, on ``host_id``, without a task, and hold what the sync read. Returns the row as
    committed (and published), or None.
    """
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        written = Instance.objects.filter(
            pk=pk,
            host_id=host_id,
            deleted_at__isnull=False,
            task_state__isnull=True,
            vm_state=write.vm_state,
            power_state=write.previous,
        ).update(power_state=write.power_state, version=F("version") + 1, updated_at=now)
        if written != 1:
            return None
        committed = Instance.objects.select_related("host").get(pk=pk)
        events.record_instance_changes([committed])
    return committed


def create_instance(*, task_state: str | None, **fields: Any) -> Instance:
    """Insert a new instance in BUILDING with its first task, version 1, and publish it."""
    now = timezone.now()
    # No savepoint: an error here aborts the caller's transaction, which nobody catches.
    with transaction.atomic(savepoint=False):
        instance = Instance.objects.create(
            vm_state=VmState.BUILDING,
            task_state=task_state,
            power_state=PowerState.NOSTATE,
            task_started_at=now if task_state else None,
            version=1,
            **fields,
        )
        events.record_instance_changes([instance])
    return instance
