"""Running the power-state sync: one pass over a host, or one instance a lifecycle event names.

A pass (DESIGN flow 3, reference §7) reads every guest's power state from the driver in one call
and the host's instances in one query, applies the decision table (``compute.sync.decisions``),
writes every changed power_state in one bulk, conditional write
(``state_machine.set_power_states``) and asks for each correction through the normal action
path (``instance_action``) as the system user, so corrections land in the action log and reach
the browser like any action. The query count of a pass does not grow with the number of
instances; only corrections, which are per instance by nature, add queries.

Invariant 3 is kept twice over: an instance with a task in progress is skipped when read, and
every write re-checks at write time, so a task that starts while the pass runs always wins:

- the bulk power write is conditional on ``task_state IS NULL`` and the host, row by row;
- a correction re-reads the driver, then locks the row and checks that it is still on this host,
  in the vm_state the verdict was made for and without a task, before starting the action in
  the same transaction (``instance_action``'s own conditional UPDATE is the last guard).

The sync never writes a state column itself and never sets or clears ERROR: error instances get
their power_state and nothing else, and a failed correction fails like any stop (the task is
cleared, vm_state is left as it was).
"""

from __future__ import annotations

import logging
import time
import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypedDict

from django.db import transaction
from django.utils import timezone

from compute import state_machine
from compute.context import system_context
from compute.drivers.base import ComputeDriver
from compute.exceptions import ComputeError
from compute.models import Host, Instance, PowerSyncPass
from compute.services.instances import instance_action
from compute.states import POWER_STATE_NAMES, PowerState, VmState
from compute.sync.decisions import Correction, Verdict, decide

log = logging.getLogger("compute.sync")

#: Pass records kept per host; older ones are pruned as each new one is written.
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


@dataclass(frozen=True)
class _Row:
    """What one read of an instance tells the sync; the row may change right after."""

    pk: int
    uuid: str
    name: str
    vm_state: str
    task_state: str | None
    power_state: int
    shutdown_terminate: bool


_COLUMNS = ("pk", "uuid", "name", "vm_state", "task_state", "power_state", "shutdown_terminate")


def _read(host: Host, *, instance_uuid: str | None = None) -> list[_Row]:
    """The host's live instances in one query (offloaded instances have no host: never read)."""
    rows = Instance.objects.filter(host_id=host.pk, deleted_at__isnull=True)
    if instance_uuid is not None:
        rows = rows.filter(uuid=instance_uuid)
    return [
        _Row(pk, str(uuid), name, vm, task, power, terminate)
        for pk, uuid, name, vm, task, power, terminate in rows.values_list(*_COLUMNS)
    ]


def _host(host: Host | str) -> Host:
    """A fresh host row: the pass needs its current heartbeat, not one read minutes ago."""
    if isinstance(host, Host):
        return Host.objects.get(pk=host.pk)
    return Host.objects.get(host=host)


# --- the pass ---------------------------------------------------------------------------------


def sync_host(*, host: Host | str, driver: ComputeDriver) -> PowerSyncPass:
    """One sync pass over ``host`` through ``driver``, recorded as a ``PowerSyncPass``.

    A driver that cannot list its guests makes the whole pass a recorded error (Nova skips the
    run when the driver is not ready); nothing else is touched.
    """
    host_row = _host(host)
    started, clock = timezone.now(), time.monotonic()
    try:
        guests = {str(uuid): int(power) for uuid, power in driver.list_power_states().items()}
    except Exception as failure:
        message = getattr(failure, "message", None) or str(failure) or type(failure).__name__
        log.warning("power-state sync of %s skipped: the driver failed: %s", host_row, message)
        return _record(host_row, started, clock, checked=0, changes=[], unknown=[], error=message)
    rows = _read(host_row)
    changes = _apply(host_row, driver, rows, guests)
    unknown = _unknown_guests(guests, {row.uuid for row in rows})
    record = _record(host_row, started, clock, checked=len(rows), changes=changes, unknown=unknown)
    level = logging.INFO if changes or unknown else logging.DEBUG
    log.log(
        level,
        "power-state sync of %s: %d instance(s) checked, %d change(s), %d unknown guest(s), "
        "%.1f ms",
        host_row,
        record.checked,
        len(changes),
        len(unknown),
        record.duration_ms,
    )
    return record


def sync_instance(
    *, host: Host | str, driver: ComputeDriver, instance_uuid: str, power: int | None = None
) -> PowerChange | None:
    """Sync the one instance a lifecycle event names, with the same table as a pass.

    ``power`` is the driver's state the caller just read (else it is read here). Returns what
    changed, or None: nothing to do, or no live instance of that uuid on this host (an event for
    a guest that has gone elsewhere is dropped, as in Nova). Not recorded as a pass.
    """
    host_row = _host(host)
    rows = _read(host_row, instance_uuid=instance_uuid)
    if not rows:
        log.debug("lifecycle sync: no live instance %s on %s; dropped", instance_uuid, host_row)
        return None
    if power is None:
        power = driver.get_power_state(instance_uuid)
    changes = _apply(host_row, driver, rows, {rows[0].uuid: int(power)})
    return changes[0] if changes else None


def _apply(
    host: Host, driver: ComputeDriver, rows: Iterable[_Row], guests: dict[str, int]
) -> list[PowerChange]:
    """The decision table over ``rows``: one bulk power write, then the corrections."""
    power_writes: dict[int, int] = {}
    findings: list[tuple[_Row, int, Verdict]] = []
    for row in rows:
        if row.task_state is not None:
            continue  # Nova's step 2: a task is in progress; it will set power_state itself
        power = guests.get(row.uuid, PowerState.NOSTATE)  # unknown to the driver = NOSTATE
        verdict = decide(row.vm_state, power, shutdown_terminate=row.shutdown_terminate)
        if power != row.power_state:
            power_writes[row.pk] = power
        if power != row.power_state or verdict.correction is not Correction.NONE or verdict.warn:
            findings.append((row, power, verdict))
    if not findings:
        return []

    # Step 3 always precedes step 4: power_state first, for every instance at once.
    written = {i.pk for i in state_machine.set_power_states(host_id=host.pk, changes=power_writes)}
    host_up = host.is_up
    changes: list[PowerChange] = []
    for row, power, verdict in findings:
        if row.pk in power_writes and row.pk not in written:
            # The conditional write found a task (or another host, or a deletion): the
            # request that started it wins, and it owns the instance's states now.
            log.info("sync left %s alone: it changed while the pass ran", row.uuid)
            continue
        note, action = verdict.note, None
        if verdict.correction is not Correction.NONE:
            if host_up:
                action, note = _correct(host, driver, row, verdict)
            else:
                note = f"{verdict.note}; {verdict.correction.action} deferred: {host} is not up"
        if verdict.warn:
            log.warning("instance %s (%s, power %s): %s", row.uuid, row.vm_state, power, note)
        elif verdict.correction is not Correction.NONE:
            log.info("instance %s (%s, power %s): %s", row.uuid, row.vm_state, power, note)
        changes.append(
            {
                "instance": row.uuid,
                "name": row.name,
                "vm_state": row.vm_state,
                "power_state": [row.power_state, power],
                "action": action,
                "note": note,
            }
        )
    return changes


def _correct(
    host: Host, driver: ComputeDriver, row: _Row, verdict: Verdict
) -> tuple[str | None, str]:
    """Start the verdict's action as the system user, if the instance still warrants it."""
    wanted = verdict.correction.action
    assert wanted is not None
    # Nova re-reads the driver, uncached, before stopping: the guest may be back already.
    try:
        fresh = driver.get_power_state(row.uuid)
    except Exception as failure:
        return None, f"{verdict.note}; not corrected: the driver failed: {failure}"
    again = decide(row.vm_state, fresh, shutdown_terminate=row.shutdown_terminate)
    if again.correction is not verdict.correction:
        now = POWER_STATE_NAMES.get(fresh, str(fresh))
        return None, f"{verdict.note}; not corrected: the guest is {now} now"
    context = replace(system_context("sync"), request_id=f"req-{uuidlib.uuid4()}")
    try:
        with transaction.atomic():
            # Lock the row and check it again: a request that starts a task now waits for this
            # transaction and then loses its conditional UPDATE, or it committed first and the
            # row no longer matches. Either way exactly one of the two acts.
            still = (
                Instance.objects.select_for_update()
                .filter(
                    pk=row.pk,
                    host_id=host.pk,
                    deleted_at__isnull=True,
                    task_state__isnull=True,
                    vm_state=row.vm_state,
                )
                .values_list("pk", flat=True)
            )
            if not list(still):
                return None, f"{verdict.note}; not corrected: the instance changed meanwhile"
            instance_action(context=context, instance_uuid=row.uuid, action=wanted)
    except ComputeError as refusal:
        log.warning("sync could not %s %s: %s", wanted, row.uuid, refusal.message)
        return None, f"{verdict.note}; not corrected: {refusal.message}"
    except Exception as failure:  # corrections are best effort: log, never break the pass
        log.exception("sync could not %s %s", wanted, row.uuid)
        return None, f"{verdict.note}; not corrected: {failure}"
    return wanted, verdict.note


def _unknown_guests(guests: dict[str, int], known: set[str]) -> list[UnknownGuest]:
    """Guests no live instance of this host accounts for; at most one query."""
    strangers = {uuid: power for uuid, power in guests.items() if uuid not in known}
    if not strangers:
        return []
    valid = []
    for uuid in strangers:
        try:
            valid.append(uuidlib.UUID(uuid))
        except ValueError:
            continue
    owners: dict[str, tuple[datetime | None, str | None]] = {
        str(uuid): (deleted_at, host_name)
        for uuid, deleted_at, host_name in Instance.objects.filter(uuid__in=valid).values_list(
            "uuid", "deleted_at", "host__host"
        )
    }
    report: list[UnknownGuest] = []
    for uuid, power in sorted(strangers.items()):
        note = ""
        if uuid in owners:
            deleted_at, host_name = owners[uuid]
            if deleted_at is not None:
                note = "instance deleted"
                if decide(VmState.DELETED, power).warn:
                    log.warning("instance %s is deleted but its guest is still there", uuid)
            else:
                note = f"instance is on host {host_name}" if host_name else "instance has no host"
        report.append({"uuid": uuid, "power_state": power, "note": note})
    return report


# --- the record -------------------------------------------------------------------------------


def _record(
    host: Host,
    started: datetime,
    clock: float,
    *,
    checked: int,
    changes: list[PowerChange],
    unknown: list[UnknownGuest],
    error: str = "",
) -> PowerSyncPass:
    record = PowerSyncPass.objects.create(
        host=host,
        started_at=started,
        duration_ms=round((time.monotonic() - clock) * 1000, 3),
        checked=checked,
        changes=changes,
        unknown_guests=unknown,
        error=error,
    )
    # One DELETE, whatever the backlog: keep the newest PASSES_KEPT of this host.
    stale = PowerSyncPass.objects.filter(host=host).order_by("-started_at", "-id")[PASSES_KEPT:]
    PowerSyncPass.objects.filter(pk__in=stale.values("pk")).delete()
    return record


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
