"""What the reliability tests compare the product against, written apart from the product.

- ``reference_status``: Nova's forward map (reference §4a), typed in again here from the
  reference's table rather than imported from ``compute.status``, so a wrong entry there fails.
- ``ALLOWED_PAIRS``: the (vm_state, task_state) pairs the action table can produce: NULL with
  any vm_state, and each task of an action's walk with each vm_state it may start from.
- ``reference_delta``: the live delta an instance's row must have produced last, built field by
  field from the row (``compute.outbox.write.InstanceDelta``'s keys) rather than by the product.
- ``Client``: a browser's view of the live updates: it folds deltas by version and ignores any
  that is not newer than what it shows, exactly as DESIGN flow 6 asks of the page.
"""

from __future__ import annotations

from typing import Any

from compute import actions
from compute.actions import Result
from compute.states import PowerState, TaskState, VmState

_REBOOT = ("rebooting", "reboot_pending", "reboot_started")
_HARD_REBOOT = ("rebooting_hard", "reboot_pending_hard", "reboot_started_hard")
_REBUILD = ("rebuilding", "rebuild_block_device_mapping", "rebuild_spawning")
_RESIZE = ("resize_prep", "resize_migrating", "resize_migrated", "resize_finish")

#: vm_state → (default status, {task_state: status}); reference §4a, row by row.
_FORWARD: dict[str, tuple[str, dict[str, str]]] = {
    "active": (
        "ACTIVE",
        {
            **dict.fromkeys(_REBOOT, "REBOOT"),
            **dict.fromkeys(_HARD_REBOOT, "HARD_REBOOT"),
            "updating_password": "PASSWORD",
            **dict.fromkeys(_REBUILD, "REBUILD"),
            "migrating": "MIGRATING",
            **dict.fromkeys(_RESIZE, "RESIZE"),
        },
    ),
    "building": ("BUILD", {}),
    "stopped": (
        "SHUTOFF",
        {**dict.fromkeys(_RESIZE, "RESIZE"), **dict.fromkeys(_REBUILD, "REBUILD")},
    ),
    "resized": ("VERIFY_RESIZE", {"resize_reverting": "REVERT_RESIZE"}),
    "paused": ("PAUSED", {"migrating": "MIGRATING"}),
    "suspended": ("SUSPENDED", {}),
    "rescued": ("RESCUE", {}),
    "error": ("ERROR", dict.fromkeys(_REBUILD, "REBUILD")),
    "deleted": ("DELETED", {}),
    "soft-delete": ("SOFT_DELETED", {}),
    "shelved": ("SHELVED", {}),
    "shelved_offloaded": ("SHELVED_OFFLOADED", {}),
}


def reference_status(vm_state: str, task_state: str | None, *, deleted: bool = False) -> str:
    if deleted:
        return "DELETED"
    default, overrides = _FORWARD.get(vm_state, ("UNKNOWN", {}))
    return overrides.get(task_state or "", default)


#: Nova's power_state display names (nova/compute/power_state.py STATE_MAP).
_POWER_NAMES = {
    0: "pending",
    1: "running",
    3: "paused",
    4: "shutdown",
    6: "crashed",
    7: "suspended",
}


def reference_delta(row: Any) -> dict[str, Any]:
    """The delta a browser must hold last for ``row`` (an ``Instance`` as committed)."""
    deleted = row.deleted_at is not None

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "type": "instance",
        "id": str(row.uuid),
        "version": row.version,
        "name": row.name,
        "project_id": row.project_id,
        "status": reference_status(row.vm_state, row.task_state, deleted=deleted),
        "vm_state": row.vm_state,
        "task_state": row.task_state,
        "power_state": row.power_state,
        "power_state_name": _POWER_NAMES.get(row.power_state, "unknown"),
        "progress": row.progress,
        "task_started_at": iso(row.task_started_at),
        "locked": row.locked,
        "deleted": deleted,
        "updated_at": iso(row.updated_at),
        "host": row.host.host if row.host_id is not None else None,
    }


VM_STATES = frozenset(VmState.values)
TASK_STATES = frozenset(TaskState.values)
POWER_STATES = frozenset(PowerState.values)


def _allowed_pairs() -> frozenset[tuple[str, str | None]]:
    pairs: set[tuple[str, str | None]] = {(vm, None) for vm in VM_STATES}
    for spec in actions.BY_KEY.values():
        starts = spec.vm_states if spec.vm_states is not None else VM_STATES
        walk = set(spec.walk)
        if spec.result is Result.ACTIVE_OR_STOPPED:
            walk.add(TaskState.POWERING_OFF)  # rebuild / revert of a stopped instance
        pairs.update((vm, task) for vm in starts for task in walk)
        if spec.key == "shelve":
            pairs.add((VmState.SHELVED, TaskState.SHELVING_OFFLOADING))  # offload at once
    return frozenset(pairs)


ALLOWED_PAIRS = _allowed_pairs()


def live_walk(kind: str) -> frozenset[str]:
    """Every task_state the agent may find an instance in and carry on from, for a dispatch."""
    spec = actions.get(kind)
    walk = set(spec.walk)
    if spec.result is Result.ACTIVE_OR_STOPPED:
        walk.add(TaskState.POWERING_OFF)
    if spec.key == "shelve":
        walk.add(TaskState.SHELVING_OFFLOADING)
    return frozenset(walk)


class Client:
    """What one browser tab shows: the newest delta of every object it heard of."""

    def __init__(self, *, seq: int = 0) -> None:
        self.seq = seq
        self.objects: dict[str, dict[str, Any]] = {}
        self.ignored = 0

    def receive(self, seq: int, delta: dict[str, Any]) -> None:
        self.seq = max(self.seq, seq)
        if delta.get("type") != "instance":
            return
        shown = self.objects.get(delta["id"])
        if shown is not None and delta["version"] <= shown["version"]:
            self.ignored += 1  # not newer: a replayed or duplicated delta
            return
        # What the page shows: ``cause`` (who made the change, for readers of the outbox such as
        # the notifier) is not shown, as live.js ignores it.
        self.objects[delta["id"]] = {k: v for k, v in delta.items() if k != "cause"}

    def receive_all(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.receive(message["seq"], message["delta"])
