"""Derived statuses: the API ``status`` of an instance and the ``host_status`` of its host.

Neither is stored. ``status`` is Nova's forward map of (vm_state, task_state)
(``nova/api/openstack/common.py``); ``status_filter`` is its reverse, used by
``GET /servers?status=``. ``host_status`` follows ``get_instance_host_status`` (``nova/compute/api.py``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from compute.states import (
    HARD_REBOOT_STATES,
    REBUILD_STATES,
    RESIZING_STATES,
    SOFT_REBOOT_STATES,
    TaskState,
    VmState,
)

T = TaskState
V = VmState


class Status(enum.StrEnum):
    ACTIVE = "ACTIVE"
    BUILD = "BUILD"
    SHUTOFF = "SHUTOFF"
    PAUSED = "PAUSED"
    SUSPENDED = "SUSPENDED"
    RESCUE = "RESCUE"
    VERIFY_RESIZE = "VERIFY_RESIZE"
    REVERT_RESIZE = "REVERT_RESIZE"
    ERROR = "ERROR"
    DELETED = "DELETED"
    SOFT_DELETED = "SOFT_DELETED"
    SHELVED = "SHELVED"
    SHELVED_OFFLOADED = "SHELVED_OFFLOADED"
    REBOOT = "REBOOT"
    HARD_REBOOT = "HARD_REBOOT"
    PASSWORD = "PASSWORD"
    REBUILD = "REBUILD"
    MIGRATING = "MIGRATING"
    RESIZE = "RESIZE"
    UNKNOWN = "UNKNOWN"


_DEFAULT = "default"


def _tasks(states: Iterable[str], status: Status) -> dict[str, Status]:
    return dict.fromkeys(states, status)


#: vm_state → {task_state or "default": status}. A task_state not listed gives the default.
STATE_MAP: dict[str, dict[str, Status]] = {
    V.ACTIVE: {
        _DEFAULT: Status.ACTIVE,
        **_tasks(SOFT_REBOOT_STATES, Status.REBOOT),
        **_tasks(HARD_REBOOT_STATES, Status.HARD_REBOOT),
        T.UPDATING_PASSWORD: Status.PASSWORD,
        **_tasks(REBUILD_STATES, Status.REBUILD),
        T.MIGRATING: Status.MIGRATING,
        **_tasks(RESIZING_STATES, Status.RESIZE),
    },
    V.BUILDING: {_DEFAULT: Status.BUILD},
    V.STOPPED: {
        _DEFAULT: Status.SHUTOFF,
        **_tasks(RESIZING_STATES, Status.RESIZE),
        **_tasks(REBUILD_STATES, Status.REBUILD),
    },
    # resize_confirming is deliberately unmapped, so it stays VERIFY_RESIZE (as in Nova).
    V.RESIZED: {_DEFAULT: Status.VERIFY_RESIZE, T.RESIZE_REVERTING: Status.REVERT_RESIZE},
    V.PAUSED: {_DEFAULT: Status.PAUSED, T.MIGRATING: Status.MIGRATING},
    V.SUSPENDED: {_DEFAULT: Status.SUSPENDED},
    V.RESCUED: {_DEFAULT: Status.RESCUE},
    V.ERROR: {_DEFAULT: Status.ERROR, **_tasks(REBUILD_STATES, Status.REBUILD)},
    V.DELETED: {_DEFAULT: Status.DELETED},
    V.SOFT_DELETED: {_DEFAULT: Status.SOFT_DELETED},
    V.SHELVED: {_DEFAULT: Status.SHELVED},
    V.SHELVED_OFFLOADED: {_DEFAULT: Status.SHELVED_OFFLOADED},
}


def status_from_state(vm_state: str, task_state: str | None, *, deleted: bool = False) -> Status:
    """The API status a user sees. A row marked deleted is DELETED whatever its states."""
    if deleted:
        return Status.DELETED
    row = STATE_MAP.get(vm_state)
    if row is None:
        return Status.UNKNOWN
    return row.get(task_state or "", row[_DEFAULT]) if task_state else row[_DEFAULT]


@dataclass(frozen=True)
class StatusFilter:
    """What ``?status=`` selects: vm_states, and task_states unless ``any_task`` is set."""

    vm_states: frozenset[str]
    task_states: frozenset[str]
    any_task: bool


class UnknownStatus(ValueError):
    pass


def status_filter(statuses: Iterable[str]) -> StatusFilter:
    """Nova's reverse map (``task_and_vm_state_from_status``), merged over several ``status=``
    values; case-insensitive.

    A value that names no status is ignored, as in Nova; ``UnknownStatus`` only when none of
    them matched (the API answers 400 from 2.38, an empty list before). If any matched entry is
    a row default, no task_state filter applies at all (Nova's placeholder rule), so
    ``status=ACTIVE`` also matches active servers showing REBOOT.
    """
    wanted = {raw.upper() for raw in statuses}
    vm: set[str] = set()
    tasks: set[str] = set()
    any_task = False
    for vm_state, row in STATE_MAP.items():
        for task, status in row.items():
            if status in wanted:
                vm.add(vm_state)
                if task == _DEFAULT:
                    any_task = True
                else:
                    tasks.add(task)
    if not vm:
        raise UnknownStatus(", ".join(statuses))
    return StatusFilter(frozenset(vm), frozenset(tasks), any_task)


#: Statuses for which Nova includes ``progress`` in the server view.
PROGRESS_STATUSES: frozenset[Status] = frozenset(
    {
        Status.ACTIVE,
        Status.BUILD,
        Status.REBUILD,
        Status.RESIZE,
        Status.VERIFY_RESIZE,
        Status.MIGRATING,
    }
)


class HostStatus(enum.StrEnum):
    UP = "UP"
    DOWN = "DOWN"
    MAINTENANCE = "MAINTENANCE"
    UNKNOWN = "UNKNOWN"
    NONE = ""


def service_is_up(
    *,
    forced_down: bool,
    last_seen_up: datetime | None,
    created_at: datetime,
    now: datetime,
    service_down_time: float,
) -> bool:
    """The DB servicegroup driver's liveness: a recent enough heartbeat and not forced down.

    Nova compares the absolute difference, so a heartbeat stamped too far in the future (a
    compute whose clock runs ahead) counts as down too.
    """
    if forced_down:
        return False
    seen = last_seen_up or created_at
    return abs(now - seen) <= timedelta(seconds=service_down_time)


def host_status(
    *,
    forced_down: bool,
    disabled: bool,
    last_seen_up: datetime | None,
    created_at: datetime,
    now: datetime,
    service_down_time: float,
) -> HostStatus:
    """First matching rule wins: forced down, then disabled, then liveness."""
    return host_status_and_liveness(
        forced_down=forced_down,
        disabled=disabled,
        last_seen_up=last_seen_up,
        created_at=created_at,
        now=now,
        service_down_time=service_down_time,
    )[0]


def host_status_and_liveness(
    *,
    forced_down: bool,
    disabled: bool,
    last_seen_up: datetime | None,
    created_at: datetime,
    now: datetime,
    service_down_time: float,
) -> tuple[HostStatus, bool]:
    """``host_status`` and ``service_is_up`` from one reading of the heartbeat."""
    up = service_is_up(
        forced_down=forced_down,
        last_seen_up=last_seen_up,
        created_at=created_at,
        now=now,
        service_down_time=service_down_time,
    )
    if forced_down:
        return HostStatus.DOWN, up
    if disabled:
        return HostStatus.MAINTENANCE, up
    return (HostStatus.UP if up else HostStatus.UNKNOWN), up
