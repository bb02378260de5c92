"""The statements an action's acceptance runs on every request, written from the models'
metadata instead of built by the ORM's query compiler each time.

Accepting an action reads one instance with its host and writes it back with one conditional
``UPDATE … RETURNING``. Built with querysets, compiling those two statements
cost more CPU than everything else the acceptance does in the database (docs/BENCHMARKS.md,
section 5). Here the SQL text for each shape (which relations are joined, how many projects,
which columns are written) is made once per process and database from ``Model._meta``, values
are prepared by each field exactly as the ORM's ``INSERT``/``UPDATE`` would prepare them, and
rows come back as model instances through the ORM's own converters. Nothing here knows a
column by name that the models do not declare; tests compare every read and write with the
ORM's own (``tests/compute/test_statements.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

from compute.models import Instance


def quoted_columns(alias: str, fields: Iterable[Field]) -> str:
    qn = connection.ops.quote_name
    return ", ".join(f"{alias}.{qn(f.column)}" for f in fields)


@cache
def _reader(
    vendor: str, model: type[Model], names: tuple[str, ...]
) -> tuple[frozenset[str], tuple[tuple[int, Any, Any], ...]]:
    """For rows of the fields ``names`` of ``model``, in that order (the model's): the names as
    ``Model.from_db`` takes them, and (position, converter, column) for each converter the ORM
    applies to a value read from this database (JSON decoding, SQLite's UUIDs and datetimes…).
    ``vendor`` is part of the key: the converters are the database's."""
    del vendor  # the key only
    table = model._meta.db_table
    found = []
    for position, name in enumerate(names):
        column = model._meta.get_field(name).get_col(table)
        for convert in connection.ops.get_db_converters(column) + column.get_db_converters(
            connection
        ):
            found.append((position, convert, column))
    return frozenset(names), tuple(found)


def from_rows(
    model: type[Model], fields: Sequence[Field], rows: Iterable[Sequence[Any]]
) -> list[Model]:
    """Model instances from raw rows of column values in ``fields`` order (the model's), as the
    ORM would make them."""
    conn = _connection()
    names, converters = _reader(conn.vendor, model, tuple(f.attname for f in fields))
    made = []
    for row in rows:
        values = list(row)
        for position, convert, column in converters:
            values[position] = convert(values[position], column, conn)
        made.append(model.from_db(conn.alias, names, values))  # type: ignore[arg-type]
    return made


def from_row(model: type[Model], fields: Sequence[Field], values: Sequence[Any]) -> Model:
    return from_rows(model, fields, [values])[0]


def _connection() -> Any:
    """The default connection itself: every attribute read through ``django.db.connection``
    (a proxy to this thread's or task's connection) costs a context-local lookup."""
    return connections[DEFAULT_DB_ALIAS]


# --- one instance with its relations --------------------------------------------------------


@cache
def _instance_select(
    vendor: str, joined: tuple[str, ...], projects: int | None, include_deleted: bool
) -> str:
    """``SELECT`` one instance by uuid with the ``joined`` relations (``LEFT JOIN``: a shelved
    instance has no host), in ``projects`` projects (None: any)."""
    del vendor  # the key only: quoting is the database's
    qn = connection.ops.quote_name
    meta = Instance._meta
    columns = [quoted_columns("i", meta.concrete_fields)]
    joins = []
    for n, name in enumerate(joined):
        field = meta.get_field(name)
        related = field.related_model._meta
        columns.append(quoted_columns(f"r{n}", related.concrete_fields))
        joins.append(
            f"LEFT JOIN {qn(related.db_table)} r{n} "
            f"ON r{n}.{qn(field.target_field.column)} = i.{qn(field.column)}"
        )
    where = [f"i.{qn(meta.get_field('uuid').column)} = %s"]
    if not include_deleted:
        where.append(f"i.{qn(meta.get_field('deleted_at').column)} IS NULL")
    if projects is not None:
        marks = ", ".join(["%s"] * projects)
        where.append(f"i.{qn(meta.get_field('project').column)} IN ({marks})")
    return (
        f"SELECT {', '.join(columns)} FROM {qn(meta.db_table)} i {' '.join(joins)} "
        f"WHERE {' AND '.join(where)}"
    )


def instance_by_uuid(
    uid: Any,
    *,
    project_ids: Sequence[str] | None,
    include_deleted: bool,
    joined: Sequence[str],
) -> Instance | None:
    """The instance with uuid ``uid`` (in one of ``project_ids``, unless None), its ``joined``
    relations cached on it as ``select_related`` would; None if there is none."""
    if project_ids is not None and not project_ids:
        return None
    conn = _connection()
    joined = tuple(joined)
    sql = _instance_select(
        conn.vendor,
        joined,
        None if project_ids is None else len(project_ids),
        include_deleted,
    )
    meta = Instance._meta
    params = [meta.get_field("uuid").get_db_prep_value(uid, conn), *(project_ids or ())]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    own = meta.concrete_fields
    instance = from_row(Instance, own, row[: len(own)])
    start = len(own)
    for name in joined:
        field = meta.get_field(name)
        related_fields = field.related_model._meta.concrete_fields
        values = row[start : start + len(related_fields)]
        start += len(related_fields)
        related = None
        if getattr(instance, field.attname) is not None:
            related = from_row(field.related_model, related_fields, values)
        field.set_cached_value(instance, related)
    return instance  # type: ignore[return-value]


# --- one conditional write ------------------------------------------------------------------


@cache
def _instance_update(
    vendor: str,
    columns: tuple[str, ...],
    task_states: int,
    task_none: bool,
    vm_states: int | None,
) -> str:
    """``UPDATE`` one instance by pk: the ``columns`` set, ``version`` bumped by one, if the
    row is live and its task_state is one of ``task_states`` values (or NULL, with
    ``task_none``) and, unless None, its vm_state one of ``vm_states`` values; ``RETURNING``
    every column, so the row as written needs no second read."""
    del vendor  # the key only
    qn = connection.ops.quote_name
    meta = Instance._meta
    col = {name: qn(meta.get_field(name).column) for name in ("task_state", "vm_state")}
    sets = [f"{qn(column)} = %s" for column in columns]
    version = qn(meta.get_field("version").column)
    sets.append(f"{version} = {version} + 1")
    task = []
    if task_states:
        task.append(f"{col['task_state']} IN ({', '.join(['%s'] * task_states)})")
    if task_none:
        task.append(f"{col['task_state']} IS NULL")
    where = [
        f"{qn(meta.pk.column)} = %s",
        f"{qn(meta.get_field('deleted_at').column)} IS NULL",
        f"({' OR '.join(task) or '1 = 0'})",
    ]
    if vm_states is not None:
        where.append(
            f"{col['vm_state']} IN ({', '.join(['%s'] * vm_states)})" if vm_states else "1 = 0"
        )
    returning = ", ".join(qn(f.column) for f in meta.concrete_fields)
    return (
        f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)} WHERE {' AND '.join(where)} "
        f"RETURNING {returning}"
    )


def instance_update(
    pk: int,
    updates: dict[str, Any],
    *,
    expected_task_states: Sequence[str | None],
    expected_vm_states: Sequence[str] | None,
) -> Instance | None:
    """Write ``updates`` (field name → value; a related field takes a model instance or None)
    to live instance ``pk`` and bump its version, if its task_state is one of
    ``expected_task_states`` and its vm_state one of ``expected_vm_states`` (None: any).
    Returns the row as written, or None if the conditions did not hold. Needs
    ``UPDATE … RETURNING`` (the caller checks)."""
    conn = _connection()
    meta = Instance._meta
    columns, params = [], []
    for name, value in updates.items():
        field = meta.get_field(name)
        if hasattr(value, "resolve_expression"):
            raise TypeError(f"{name}: expressions are not written here ({value!r})")
        if isinstance(value, Model):
            value = value.prepare_database_save(field)
        columns.append(field.column)
        params.append(field.get_db_prep_save(value, conn))
    named = [t for t in expected_task_states if t is not None]
    sql = _instance_update(
        conn.vendor,
        tuple(columns),
        len(named),
        None in expected_task_states,
        None if expected_vm_states is None else len(expected_vm_states),
    )
    params += [pk, *named, *(expected_vm_states or ())]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if len(rows) != 1:
        return None
    return from_row(Instance, meta.concrete_fields, rows[0])  # type: ignore[return-value]
