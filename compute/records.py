"""The action log and faults: what happened to an instance, by whom, and what went wrong.

Every accepted action gets an ``InstanceAction`` with events (invariant 5); an event that ends
in error marks its action ``Error`` (Nova's message) and, when the failure is the instance's,
leaves an ``InstanceFault`` a user can read. These rows are only ever appended and closed. An
action the host's agent runs is opened together with its ``ActionDispatch`` (``action_queue``).
"""

from __future__ import annotations

import traceback as tb
from datetime import datetime
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model
from django.utils import timezone

from compute.actions import ActionSpec
from compute.context import RequestContext
from compute.models import (
    ActionDispatch,
    Host,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
)


def action_start(
    *,
    context: RequestContext,
    instance: Instance,
    spec: ActionSpec,
    event_prefix: str = "compute",
    host: str = "",
) -> tuple[InstanceAction, InstanceActionEvent]:
    """Open the action record and its first event, named ``<prefix>_<manager function>``."""
    action, event = _opening(context, instance, spec, event_prefix=event_prefix, host=host)
    action.save(force_insert=True)
    event.save(force_insert=True)
    return action, event


def _opening(
    context: RequestContext, instance: Instance, spec: ActionSpec, *, event_prefix: str, host: str
) -> tuple[InstanceAction, InstanceActionEvent]:
    """The action record and its first event, not saved: who asked, from where, and when."""
    now = timezone.now()
    action = InstanceAction(
        instance=instance,
        request_id=context.request_id,
        action=spec.name,
        user_id=context.user_id,
        user_name=context.user_name,
        project_id=instance.project_id,
        client=context.client,
        start_time=now,
    )
    event = InstanceActionEvent(
        action=action,
        event=f"{event_prefix}_{spec.manager_function or spec.key}",
        start_time=now,
        host=host,
    )
    return action, event


def action_queue(
    *,
    context: RequestContext,
    instance: Instance,
    spec: ActionSpec,
    host: Host,
    params: dict[str, Any],
    deadline: datetime,
) -> tuple[InstanceAction, InstanceActionEvent, ActionDispatch]:
    """Open the action record and its first event, and queue the action for ``host``'s agent:
    the three rows every dispatched action leaves (invariant 5: every accepted action has a record with events; the dispatch row is the queue).

    On PostgreSQL they go in with one statement (an ``INSERT`` whose ``WITH`` inserts the other
    two, referencing the first's id), each value prepared exactly as the ORM's own ``INSERT``
    would; elsewhere with three.
    """
    action, event = _opening(context, instance, spec, event_prefix="compute", host=host.host)
    dispatch = ActionDispatch(
        action=action,
        instance=instance,
        host=host,
        kind=spec.key,
        params=params,
        expected_task_state=spec.start_task,
        deadline=deadline,
    )
    if connection.vendor == "postgresql":
        _insert_with_children(action, [event, dispatch], link="action")
    else:
        action.save(force_insert=True)
        for child in (event, dispatch):
            child.action = action
            child.save(force_insert=True)
    return action, event, dispatch


def _insert_with_children(parent: Model, children: list[Model], *, link: str) -> None:
    """INSERT ``parent`` and ``children`` (whose ``link`` foreign key is the parent) in one
    statement, and give each its primary key as ``save()`` would."""
    conn = connections[DEFAULT_DB_ALIAS]  # not the proxy: it is read once per value
    sql, columns = _insert_with_children_sql(
        conn.vendor, type(parent), tuple(type(c) for c in children), link
    )
    params: list[Any] = []
    for row, fields in zip([parent, *children], columns, strict=True):
        for field in fields:
            value = field.pre_save(row, add=True)  # auto_now and auto_now_add, as save() does
            params.append(field.get_db_prep_save(value, conn))
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        ids = cursor.fetchone()
    for row, pk in zip([parent, *children], ids, strict=True):
        row.pk = pk
        row._state.adding = False
        row._state.db = conn.alias
    for child in children:
        setattr(child, link, parent)


@cache
def _insert_with_children_sql(
    vendor: str, parent: type[Model], children: tuple[type[Model], ...], link: str
) -> tuple[str, tuple[tuple[Field, ...], ...]]:
    """The statement ``_insert_with_children`` runs (made once per process and shape) and, per
    row, the fields whose values it takes, in order."""
    del vendor  # the key only: quoting is the database's
    qn = connection.ops.quote_name
    parent_id = f"(SELECT {qn(parent._meta.pk.column)} FROM parent)"

    def insert(model: type[Model], linked: str | None) -> tuple[str, tuple[Field, ...]]:
        columns, marks, fields = [], [], []
        for field in model._meta.concrete_fields:
            if field.primary_key:
                continue
            columns.append(qn(field.column))
            if field.attname == linked:
                marks.append(parent_id)
            else:
                marks.append("%s")
                fields.append(field)
        table = qn(model._meta.db_table)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(marks)}) RETURNING id"
        return sql, tuple(fields)

    sql, fields = insert(parent, None)
    parts, columns, names = [f"parent AS ({sql})"], [fields], []
    for n, child in enumerate(children):
        sql, fields = insert(child, child._meta.get_field(link).attname)
        parts.append(f"child{n} AS ({sql})")
        columns.append(fields)
        names.append(f"(SELECT {qn(child._meta.pk.column)} FROM child{n})")
    return f"WITH {', '.join(parts)} SELECT {parent_id}, {', '.join(names)}", tuple(columns)


def event_finish(
    event: InstanceActionEvent,
    *,
    error: BaseException | str | None = None,
    details: str | None = None,
) -> None:
    """Close an event (and its action). An error marks the action ``Error`` as Nova does."""
    now = timezone.now()
    failed = error is not None
    trace = None
    if isinstance(error, BaseException):
        trace = "".join(tb.format_exception(error))
        details = details or str(error)
    elif isinstance(error, str):
        details = details or error
    InstanceActionEvent.objects.filter(pk=event.pk, finish_time__isnull=True).update(
        finish_time=now,
        result=InstanceActionEvent.Result.ERROR if failed else InstanceActionEvent.Result.SUCCESS,
        traceback=trace,
        details=details,
    )
    updates: dict[str, object] = {"finish_time": now, "updated_at": now}
    if failed:
        updates["message"] = "Error"
    InstanceAction.objects.filter(pk=event.action_id).update(**updates)


def event_add(
    action: InstanceAction, *, name: str, host: str = "", error: str | None = None
) -> InstanceActionEvent:
    """Append an event that starts and finishes now (an API step, a reaper's verdict)."""
    event = InstanceActionEvent.objects.create(
        action=action, event=name, start_time=timezone.now(), host=host
    )
    event_finish(event, error=error)
    return event


def fault_record(
    instance: Instance | int,
    *,
    message: str,
    code: int = 500,
    details: str = "",
    host: str = "",
) -> InstanceFault:
    pk = instance.pk if isinstance(instance, Instance) else instance
    return InstanceFault.objects.create(
        instance_id=pk, code=code, message=message[:255], details=details, host=host
    )


def action_touch(action_id: int) -> None:
    """Refresh ``updated_at`` (Nova 2.58's changes-since for actions)."""
    InstanceAction.objects.filter(pk=action_id).update(updated_at=timezone.now())


__all__ = [
    "action_queue",
    "action_start",
    "action_touch",
    "event_add",
    "event_finish",
    "fault_record",
]
