"""Instances as the pages show them: badges, host facts where policy allows, the sync's warning,
the action in flight.

Built for a whole page at once in a constant number of queries: the instances come with their
host (``select_related``), each host's status is derived once, and the actions in flight are one
query over the page's busy instances.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from compute.context import RequestContext
from compute.models import ActionDispatch, Host, Instance
from compute.policy import opaque_host_id
from dashboard.web.policy import shows_host, shows_host_status_column, visible_host_status
from dashboard.web.presentation import LONG_TASKS, Badge, badge
from dashboard.web.sync_hints import sync_hint

_IN_FLIGHT = (ActionDispatch.State.PENDING, ActionDispatch.State.RUNNING)


@dataclass(frozen=True)
class InstanceRow:
    instance: Instance
    status: Badge
    vm_state: Badge
    task_state: Badge
    power_state: Badge
    #: None when policy hides it from this caller.
    host: str | None
    host_status: Badge | None
    #: What live host changes find this row's host_status cell by: the host's name for admins,
    #: Nova's opaque per-project hostId for members (None: no host, or no host_status column).
    host_key: str | None
    #: Whether the host is up, as the preconditions need it (None: no host).
    host_up: bool | None
    sync_hint: str | None
    #: The action-table key of the task in progress, if an agent is running one.
    pending_action: str | None

    @property
    def uuid(self) -> str:
        return str(self.instance.uuid)

    @property
    def busy(self) -> bool:
        return self.instance.task_state is not None

    @property
    def long_task(self) -> bool:
        return self.instance.task_state in LONG_TASKS

    @property
    def task_started_at(self) -> datetime | None:
        return self.instance.task_started_at


def host_statuses(hosts: Iterable[Host]) -> dict[int, tuple[str, bool]]:
    """Each distinct host's (host_status, is_up), derived once."""
    out: dict[int, tuple[str, bool]] = {}
    for host in hosts:
        if host.pk not in out:
            out[host.pk] = (str(host.host_status), host.is_up)
    return out


def pending_actions(instances: Sequence[Instance]) -> dict[int, str]:
    """instance pk → the action-table key its agent is running or about to run."""
    busy = [i.pk for i in instances if i.task_state is not None]
    if not busy:
        return {}
    rows = (
        ActionDispatch.objects.filter(instance_id__in=busy, state__in=_IN_FLIGHT)
        .order_by("instance_id", "id")
        .values_list("instance_id", "kind")
    )
    return dict(rows)  # the newest dispatch per instance wins, as it comes last


def instance_rows(instances: Sequence[Instance], context: RequestContext) -> list[InstanceRow]:
    statuses = host_statuses(i.host for i in instances if i.host_id is not None)
    pending = pending_actions(instances)
    return [_row(i, context, statuses, pending) for i in instances]


def _row(
    instance: Instance,
    context: RequestContext,
    statuses: dict[int, tuple[str, bool]],
    pending: dict[int, str],
) -> InstanceRow:
    status, up = statuses.get(instance.host_id or 0, ("", None))
    shown = visible_host_status(context, instance.project_id, status) if status else None
    host_name = instance.host.host if instance.host_id else None
    return InstanceRow(
        instance=instance,
        status=badge("status", instance.status),
        vm_state=badge("vm_state", instance.vm_state),
        task_state=badge("task_state", instance.task_state),
        power_state=badge("power_state", instance.power_state),
        host=host_name if shows_host(context) else None,
        host_status=badge("host_status", shown) if shown is not None else None,
        host_key=_host_key(context, instance.project_id, host_name),
        host_up=up,
        sync_hint=sync_hint(instance.vm_state, instance.task_state, instance.power_state),
        pending_action=pending.get(instance.pk) if instance.task_state else None,
    )


def _host_key(context: RequestContext, project_id: str, host: str | None) -> str | None:
    if host is None or not shows_host_status_column(context):
        return None
    return host if shows_host(context) else opaque_host_id(project_id, host)
