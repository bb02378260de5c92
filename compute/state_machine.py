"""The state machine: the only code that writes ``vm_state``, ``task_state`` and ``power_state``.

Every write is one conditional UPDATE: it names the task_state it expects to find (Nova's
``save(expected_task_state=…)``), bumps ``version`` and, in the same transaction, appends the
change to the outbox. If the row holds another task_state, nothing is written and
``UnexpectedTaskState`` is raised: a lost race is an error, never an overwrite (invariant 2),
and never published (invariant 4). A test fails if any other module assigns a state column
(invariant 1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from compute import events
from compute.exceptions import NotFound, UnexpectedTaskState
from compute.models import Host, Instance
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
    updates["version"] = F("version") + 1
    updates["updated_at"] = now

    rows = Instance.objects.filter(pk=pk, deleted_at__isnull=True).filter(
        _task_filter(expected_task_state)
    )
    if expected_vm_state is not None:
        rows = rows.filter(vm_state__in=list(expected_vm_state))
    # No savepoint: nothing here needs undoing on its own. A lost race writes nothing and is
    # raised after the block, so a caller's transaction that catches it stays usable.
    with transaction.atomic(savepoint=False):
        committed = _update_one(pk, rows, updates)
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


def _update_one(pk: int, rows: QuerySet[Instance], updates: dict[str, Any]) -> Instance | None:
    """Write ``updates`` to row ``pk`` if ``rows`` (its conditions) match; the row as written,
    or None.

    Where the database has ``UPDATE … RETURNING`` (PostgreSQL; SQLite from 3.35, the release
    that also brought ``INSERT … RETURNING``) the write and the read are one statement, built
    by the ORM's own UPDATE compiler and read back through its converters; elsewhere the row
    is read again after the write, in the same transaction.
    """
    if not (
        connection.vendor in ("postgresql", "sqlite")
        and connection.features.can_return_columns_from_insert
    ):
        if rows.update(**updates) != 1:
            return None
        return Instance.objects.get(pk=pk)
    query = rows.query.chain(UpdateQuery)
    query.add_update_values(updates)
    compiler = query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    fields = Instance._meta.concrete_fields
    returning = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {returning}", params)
        written = cursor.fetchall()
    if len(written) != 1:
        return None
    columns = [f.get_col(Instance._meta.db_table) for f in fields]
    converters = compiler.get_converters(columns)
    values = (
        next(iter(compiler.apply_converters(written, converters))) if converters else written[0]
    )
    return Instance.from_db(connection.alias, [f.attname for f in fields], list(values))


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


def set_power_states(*, host_id: int, changes: Mapping[int, int]) -> list[Instance]:
    """Write many power_states for one host in a constant number of queries.

    ``changes`` maps instance pk → the driver's power_state. Each row is written only if it
    still has no task in progress and is still on ``host_id`` — checked at write time, so a task
    that started after the sync read the row is never trampled (invariant 3). Returns the rows
    actually written (and published).
    """
    by_state: dict[int, list[int]] = defaultdict(list)
    for pk, state in changes.items():
        by_state[int(state)].append(pk)
    if not by_state:
        return []
    table = Instance._meta.db_table
    now = timezone.now()
    written: list[int] = []
    with transaction.atomic(), connection.cursor() as cursor:
        # One UPDATE … RETURNING per distinct power state (at most six), whatever the row count.
        for state, pks in by_state.items():
            marks = ",".join(["%s"] * len(pks))
            cursor.execute(
                f"UPDATE {table} SET power_state = %s, version = version + 1, updated_at = %s "
                f"WHERE id IN ({marks}) AND host_id = %s AND task_state IS NULL "
                f"AND deleted_at IS NULL RETURNING id",
                [state, now, *pks, host_id],
            )
            written.extend(row[0] for row in cursor.fetchall())
        committed = list(Instance.objects.select_related("host").filter(pk__in=written))
        events.record_instance_changes(committed)
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
