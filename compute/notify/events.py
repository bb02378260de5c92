"""What one outbox row means to a subscriber: its event kinds, a title, and the versioned
notification Nova would have emitted for it.

The kinds come from the row alone, and from its neighbours in the outbox:

- ``cause`` (``compute.outbox.write.change_cause``) names the watchdog's reaping, an action's
  failure, and the sync's correction of a power-state mismatch (with the rule's reason);
- an instance whose ``vm_state`` is ``error`` entered ERROR if the previous row of the same
  instance was not in ERROR (or there is none left in the outbox);
- a host whose ``host_status`` differs from its previous row's went UNKNOWN, DOWN, MAINTENANCE
  or UP (a new host coming UP is not news).

The payload is Nova's envelope (``priority``, ``event_type``, ``publisher_id``, ``payload`` as a
``nova_object`` with ``name``/``namespace``/``version``/``data``; nova/notifications/objects/),
plus one key of ours beside Nova's, ``vmdash``: the kind, the outbox sequence and the reason.
Members are not told host names (Nova's extended-server-attributes policy): their payload's
``host`` is null.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from compute.models import ChangeEvent, EventKind, InstanceFault
from compute.notify.conf import notify_conf
from compute.states import VmState
from compute.status import HostStatus

#: When a change is several kinds at once, the title and event type follow the first one a
#: subscriber asked for, in this order (the most specific first).
PRECEDENCE = (
    EventKind.TASK_REAPED,
    EventKind.ACTION_FAILED,
    EventKind.POWER_CORRECTED,
    EventKind.INSTANCE_ERROR,
    EventKind.HOST_STATUS,
)

#: Nova's notification verbs for an action's ``.error`` event (nova/compute/manager.py).
NOVA_VERBS = {
    "stop": "power_off",
    "start": "power_on",
    "reboot": "reboot",
    "createImage": "snapshot",
    "createBackup": "snapshot",
    "shelve": "shelve",
    "shelveOffload": "shelve_offload",
    "unshelve": "unshelve",
    "resize": "resize",
    "migrate": "resize",
    "live-migration": "live_migration",
    "rebuild": "rebuild",
    "evacuate": "evacuate",
    "pause": "pause",
    "unpause": "unpause",
    "suspend": "suspend",
    "resume": "resume",
    "rescue": "rescue",
    "unrescue": "unrescue",
    "delete": "delete",
    "create": "create",
    "confirmResize": "resize_confirm",
    "revertResize": "resize_revert",
    "trigger_crash_dump": "trigger_crash_dump",
}
HOST_NEWS = frozenset({HostStatus.UP, HostStatus.DOWN, HostStatus.MAINTENANCE, HostStatus.UNKNOWN})


@dataclass(frozen=True)
class Change:
    """One outbox row as the notifier reads it: what it is and what is needed to tell it."""

    seq: int
    kind: str
    object_id: str
    project_id: str | None
    payload: dict[str, Any]
    created_at: datetime
    #: The event kinds this change is (empty: nobody is told).
    kinds: frozenset[str]
    #: The previous row of the same object's payload, where it was needed and found.
    previous: dict[str, Any] | None = None

    @property
    def host(self) -> str | None:
        return self.payload.get("host")

    @property
    def cause(self) -> dict[str, Any]:
        return self.payload.get("cause") or {}


def _needs_previous(row: ChangeEvent) -> bool:
    """Only an instance now in ERROR, and a host, are judged by the row before them."""
    if row.kind == ChangeEvent.Kind.HOST:
        return True
    payload = row.payload if isinstance(row.payload, dict) else {}
    return row.kind == ChangeEvent.Kind.INSTANCE and payload.get("vm_state") == VmState.ERROR


def _before(rows: list[ChangeEvent]) -> dict[tuple[str, str], dict[str, Any]]:
    """The newest row before the batch of each object whose previous state matters."""
    wanted = {(r.kind, r.object_id) for r in rows if _needs_previous(r)}
    if not wanted:
        return {}
    first = min(r.id for r in rows)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    if connection.vendor == "postgresql":
        # One row per object: PostgreSQL's DISTINCT ON, read along the (object_id, id) index.
        # An instance's and a host's ids are uuids: one object id is one object.
        pairs = (
            ChangeEvent.objects.filter(id__lt=first, object_id__in={obj for _, obj in wanted})
            .exclude(kind=ChangeEvent.Kind.NOTIFICATION)
            .order_by("object_id", "-id")
            .distinct("object_id")
            .values_list("kind", "object_id", "payload")
        )
        for kind, obj, payload in pairs:
            found[(kind, obj)] = payload
        return found
    for kind, obj in wanted:
        payload = (
            ChangeEvent.objects.filter(kind=kind, object_id=obj, id__lt=first)
            .order_by("-id")
            .values_list("payload", flat=True)
            .first()
        )
        if isinstance(payload, dict):
            found[(kind, obj)] = payload
    return found


def classify_all(rows: list[ChangeEvent]) -> list[Change]:
    """The changes of a batch of outbox rows (in sequence order) that are news to someone; the
    previous state of each object is read once for the batch, then carried along it."""
    latest = _before(rows)
    out: list[Change] = []
    for row in rows:
        if row.kind == ChangeEvent.Kind.NOTIFICATION:
            continue
        key = (row.kind, row.object_id)
        change = classify(row, previous=latest.get(key))
        if isinstance(row.payload, dict):
            latest[key] = row.payload
        if change.kinds:
            out.append(change)
    return out


def classify(row: ChangeEvent, *, previous: dict[str, Any] | None = None) -> Change:
    """The event kinds of one outbox row, given the row before it of the same object."""
    payload = row.payload if isinstance(row.payload, dict) else {}
    kinds: set[str] = set()
    if row.kind == ChangeEvent.Kind.INSTANCE:
        cause = (payload.get("cause") or {}).get("kind")
        if cause == "watchdog.reaped":
            kinds.add(EventKind.TASK_REAPED)
        elif cause == "action.failed":
            kinds.add(EventKind.ACTION_FAILED)
        elif cause == "sync.corrected":
            kinds.add(EventKind.POWER_CORRECTED)
        if payload.get("vm_state") == VmState.ERROR and (
            previous is None or previous.get("vm_state") != VmState.ERROR
        ):
            kinds.add(EventKind.INSTANCE_ERROR)
    elif row.kind == ChangeEvent.Kind.SCHEDULE:
        # A scheduled run refused (Nova's words) or skipped: an action that failed to start.
        kinds.add(EventKind.ACTION_FAILED)
    elif row.kind == ChangeEvent.Kind.HOST:
        old = previous.get("host_status") if previous else None
        new = payload.get("host_status")
        if new in HOST_NEWS and new != old and not (old is None and new == HostStatus.UP):
            kinds.add(EventKind.HOST_STATUS)
    return Change(
        seq=row.id,
        kind=row.kind,
        object_id=row.object_id,
        project_id=row.project_id,
        payload=payload,
        created_at=row.created_at,
        kinds=frozenset(kinds),
        previous=previous,
    )


def primary_kind(change: Change, wanted: set[str]) -> str | None:
    for kind in PRECEDENCE:
        if kind in change.kinds and kind in wanted:
            return kind
    return None


def latest_faults(instance_uuids: list[str]) -> dict[str, InstanceFault]:
    """Each instance's newest fault, for a batch of instances (one query: the faults of the
    last hour, newest first — a change's fault is written in the changing transaction)."""
    if not instance_uuids:
        return {}
    found: dict[str, InstanceFault] = {}
    recent = timezone.now() - timedelta(hours=1)
    for fault in (
        InstanceFault.objects.filter(instance__uuid__in=set(instance_uuids), created_at__gte=recent)
        .select_related("instance")
        .order_by("-created_at", "-id")
    ):
        found.setdefault(str(fault.instance.uuid), fault)
    return found


def title_for(change: Change, kind: str, fault: InstanceFault | None) -> str:
    p = change.payload
    name = p.get("name") or change.object_id
    reason = change.cause.get("reason") or (fault.message if fault else "")
    if kind == EventKind.HOST_STATUS:
        old = (change.previous or {}).get("host_status") or "?"
        return f"Host {p.get('host')} is {p.get('host_status')} (was {old})"
    if kind == EventKind.TASK_REAPED:
        text = f"{name}: a stuck task was reaped by the watchdog"
    elif kind == EventKind.ACTION_FAILED:
        text = f"{name}: {change.cause.get('action') or 'an action'} failed"
    elif kind == EventKind.POWER_CORRECTED:
        text = f"{name}: the sync corrected a power-state mismatch ({change.cause.get('action')})"
    else:
        text = f"{name} entered ERROR"
    return f"{text}: {reason}"[:255] if reason else text[:255]


def _object(name: str, version: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "nova_object.name": name,
        "nova_object.namespace": "nova",
        "nova_object.version": version,
        "nova_object.data": data,
    }


def _fault_payload(fault: InstanceFault | None, exception: str = "") -> dict[str, Any] | None:
    if fault is None:
        return None
    return _object(
        "ExceptionPayload",
        "1.1",
        {
            "module_name": "vmdash",
            "function_name": "",
            "exception": exception or "InstanceFault",
            "exception_message": fault.message,
            "traceback": "",
        },
    )


def event_type_for(change: Change, kind: str) -> tuple[str, str]:
    """Nova's ``(event_type, priority)`` for the change told as ``kind``."""
    if kind == EventKind.HOST_STATUS:
        return "service.update", "INFO"
    if kind == EventKind.ACTION_FAILED:
        action = str(change.cause.get("action") or "")
        verb = NOVA_VERBS.get(action, action.replace("-", "_") or "update")
        return f"instance.{verb}.error", "ERROR"
    if kind == EventKind.POWER_CORRECTED:
        verb = "delete" if change.cause.get("action") == "delete" else "power_off"
        return f"instance.{verb}.start", "INFO"
    return "instance.update", "INFO"


def envelope(
    change: Change,
    kind: str,
    *,
    admin: bool,
    fault: InstanceFault | None,
    key: str,
    title: str,
) -> dict[str, Any]:
    """The versioned notification for one subscriber (``admin``: may see host names)."""
    event_type, priority = event_type_for(change, kind)
    p = change.payload
    if change.kind == ChangeEvent.Kind.HOST:
        payload = _object(
            "ServiceStatusPayload",
            "1.1",
            {
                "host": p.get("host"),
                "binary": "nova-compute",
                "topic": "compute",
                "report_count": 0,
                "disabled": p.get("status") == "disabled",
                "disabled_reason": p.get("disabled_reason"),
                "availability_zone": None,
                "last_seen_up": p.get("last_seen_up"),
                "forced_down": bool(p.get("forced_down")),
                "version": p.get("version"),
                "uuid": change.object_id,
            },
        )
        publisher = f"nova-compute:{p.get('host')}"
    else:
        data: dict[str, Any] = {
            "uuid": change.object_id,
            "tenant_id": change.project_id,
            "display_name": p.get("name"),
            "host": p.get("host") if admin else None,
            "node": p.get("host") if admin else None,
            "state": p.get("vm_state"),
            "power_state": p.get("power_state_name"),
            "task_state": p.get("task_state"),
            "progress": p.get("progress"),
            "locked": p.get("locked"),
            "updated_at": p.get("updated_at"),
            "fault": _fault_payload(fault, str(change.cause.get("exception") or "")),
        }
        if event_type == "instance.update":
            old = change.previous or {}
            data["state_update"] = _object(
                "InstanceStateUpdatePayload",
                "1.0",
                {
                    "old_state": old.get("vm_state"),
                    "state": p.get("vm_state"),
                    "old_task_state": old.get("task_state"),
                    "new_task_state": p.get("task_state"),
                },
            )
            payload = _object("InstanceUpdatePayload", "2.1", data)
        else:
            payload = _object("InstanceActionPayload", "1.9", data)
        publisher = f"nova-compute:{p.get('host') if admin else notify_conf().publisher_host}"
    return {
        "priority": priority,
        "event_type": event_type,
        "publisher_id": publisher,
        "message_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"vmdash:notification:{key}")),
        "timestamp": change.created_at.isoformat(),
        "payload": payload,
        "vmdash": {
            "kind": kind,
            "seq": change.seq,
            "title": title,
            "reason": change.cause.get("reason") or (fault.message if fault else None),
            "cause": change.cause.get("kind"),
        },
    }
