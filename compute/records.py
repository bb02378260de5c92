"""The action log and faults: what happened to an instance, by whom, and what went wrong.

Every accepted action gets an ``InstanceAction`` with events (invariant 5); an event that ends
in error marks its action ``Error`` (Nova's message) and, when the failure is the instance's,
leaves an ``InstanceFault`` a user can read. These rows are only ever appended and closed.
"""

from __future__ import annotations

import traceback as tb

from django.utils import timezone

from compute.actions import ActionSpec
from compute.context import RequestContext
from compute.models import Instance, InstanceAction, InstanceActionEvent, InstanceFault


def action_start(
    *,
    context: RequestContext,
    instance: Instance,
    spec: ActionSpec,
    event_prefix: str = "compute",
    host: str = "",
) -> tuple[InstanceAction, InstanceActionEvent]:
    """Open the action record and its first event, named ``<prefix>_<manager function>``."""
    now = timezone.now()
    action = InstanceAction.objects.create(
        instance=instance,
        request_id=context.request_id,
        action=spec.name,
        user_id=context.user_id,
        user_name=context.user_name,
        project_id=instance.project_id,
        client=context.client,
        start_time=now,
    )
    event = InstanceActionEvent.objects.create(
        action=action,
        event=f"{event_prefix}_{spec.manager_function or spec.key}",
        start_time=now,
        host=host,
    )
    return action, event


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


__all__ = ["action_start", "action_touch", "event_add", "event_finish", "fault_record"]
