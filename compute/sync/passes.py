"""Running the power-state sync: one pass over a host or a chunk of hosts, or over the one
instance a lifecycle event names.

A pass (Nova's ``_sync_power_states``) reads every guest's power state from the driver in one call
and the host's instances in one query, applies the decision table (``compute.sync.decisions``),
then, in one transaction, writes every changed power_state in one conditional statement that
returns the rows it wrote (``state_machine.set_power_states``, which appends their events) and
records the pass (``compute.sync.history``). It then asks for each correction through the normal
action path (``instance_action``) as the system user, so corrections land in the action log
and reach the browser like any action; a host with corrections to make is recorded after them,
with what became of each. The query count of a pass does not grow with the number of instances:
three queries for a host in step (the guests, the instances, the record), five with power
states to write; only corrections, which are per instance by nature, add queries.

``sync_hosts`` runs that pass over many hosts at once, for a driver that lists many hosts'
guests in one call (the fake hypervisor keeps them all in the database): the same reads, write
and transaction for the whole chunk, one record per host. ``sync_host`` is a chunk of one, so
both make the same decisions and leave the same records.

Invariant 3 is kept twice over: an instance with a task in progress is skipped when read, and
every write re-checks at write time, so a task that starts while the pass runs always wins:

- the bulk power write is conditional, row by row, on ``task_state IS NULL``, the host, and the
  vm_state and power_state the decision was made for;
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from compute import state_machine
from compute.context import system_context
from compute.drivers.base import ComputeDriver
from compute.exceptions import ComputeError
from compute.models import Host, Instance, PowerSyncPass
from compute.outbox.write import change_cause
from compute.services.instances import instance_action
from compute.states import POWER_STATE_NAMES, PowerState, VmState
from compute.sync import history
from compute.sync.decisions import TABLE, Correction, Verdict, decide
from compute.sync.history import PowerChange, UnknownGuest

log = logging.getLogger("compute.sync")

#: Lists every guest's power state on each of the named hosts, in one call.
GuestLister = Callable[[Sequence[str]], Mapping[str, Mapping[str, int]]]


class _Row(NamedTuple):
    """What one read of an instance tells the sync; the row may change right after.

    A chunk's read keeps its rows as the plain tuples the cursor returns, in this layout (a
    named tuple per row would cost a third of the read); only the rows the pass has something
    to say about become ``_Row``s.
    """

    pk: int
    uuid: str
    name: str
    vm_state: str
    task_state: str | None
    power_state: int
    shutdown_terminate: bool
    host_id: int


#: A row as the chunk's read returns it: ``_Row``'s fields, in its order.
_Read = tuple[int, str, str, str, str | None, int, bool, int]

_COLUMNS = (
    "id",
    "uuid",
    "name",
    "vm_state",
    "task_state",
    "power_state",
    "shutdown_terminate",
    "host_id",
)


_HOST_ID = itemgetter(_COLUMNS.index("host_id"))
_UUID = itemgetter(_COLUMNS.index("uuid"))


def _read(host_ids: Sequence[int]) -> dict[int, list[_Read]]:
    """The hosts' live instances in one query (offloaded instances have no host: never read),
    by host, each host's in no particular order (``_HostPass.plan`` orders what it keeps).

    Plain SQL into the tuples the cursor returns (``_Row``'s layout): a chunk of hosts is ten
    thousand rows, and any per-row work in Python — the ORM's, a named tuple, a loop to group
    them — costs more than the query. On PostgreSQL the uuid comes as text (a ``UUID`` object
    per row costs as much again) and the booleans as booleans; the rows are grouped by host
    with a sort and ``groupby``, both in C.
    """
    qn = connection.ops.quote_name
    as_text = connection.vendor == "postgresql"
    columns = [f"{qn(c)}::text" if c == "uuid" and as_text else qn(c) for c in _COLUMNS]
    sql = (
        f"SELECT {', '.join(columns)} FROM {qn(Instance._meta.db_table)} "
        f"WHERE deleted_at IS NULL AND host_id IN ({', '.join(['%s'] * len(host_ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(host_ids))
        rows = cursor.fetchall()
    if not as_text:
        # SQLite holds the 32 hex digits Django stores there, and 0/1 for booleans.
        rows = [
            (pk, str(uuidlib.UUID(uuid)), name, vm, task, power, bool(terminate), host_id)
            for pk, uuid, name, vm, task, power, terminate, host_id in rows
        ]
    rows.sort(key=_HOST_ID)
    return {host_id: list(group) for host_id, group in groupby(rows, _HOST_ID)}


def _read_one(host_id: int, instance_uuid: str) -> list[_Row]:
    """The one live instance a lifecycle event names, if it is on this host."""
    rows = Instance.objects.filter(host_id=host_id, deleted_at__isnull=True, uuid=instance_uuid)
    return [
        _Row(pk, str(uuid), name, vm, task, power, terminate, host)
        for pk, uuid, name, vm, task, power, terminate, host in rows.values_list(
            "pk", *_COLUMNS[1:]
        )
    ]


def _host_row(host: Host | str) -> Host:
    """The caller's host row as it is (only its id and name are used; whether the host is up is
    read fresh, and only when a correction depends on it)."""
    return host if isinstance(host, Host) else Host.objects.get(host=host)


@dataclass
class _HostPass:
    """One host's share of a pass: what it read, decided, wrote and found."""

    host: Host
    driver: ComputeDriver
    rows: Sequence[_Read] = field(default_factory=list)
    guests: dict[str, int] = field(default_factory=dict)
    error: str = ""
    #: (row, the driver's power now, the verdict) for every row worth a word in the record.
    findings: list[tuple[_Row, int, Verdict]] = field(default_factory=list)
    writes: dict[int, state_machine.PowerWrite] = field(default_factory=dict)
    changes: list[PowerChange] = field(default_factory=list)
    unknown: list[UnknownGuest] = field(default_factory=list)

    @property
    def corrects(self) -> bool:
        return any(v.correction is not Correction.NONE for _, _, v in self.findings)

    def plan(self) -> None:
        """The decision table over the rows: which power_states to write, what to say or do.

        Newest instance first, whatever order the rows came in, so the records, the writes and
        the corrections follow the same order whatever the chunk. This runs for every row of
        the fleet: a row in step that no rule names (the common case) costs one lookup.
        """
        guest_power = self.guests.get
        findings: list[tuple[_Row, int, Verdict]] = []
        for row in self.rows:
            _pk, uuid, _name, vm_state, task_state, was, terminate, _host = row
            if task_state is not None:
                continue  # Nova's step 2: a task is in progress; it will set power_state itself
            power = guest_power(uuid, _NOSTATE)  # unknown to the driver
            if power == was and (vm_state, power) not in TABLE:
                continue  # in step, and the table has nothing to say: POWER_STATE_ONLY
            verdict = decide(vm_state, power, shutdown_terminate=terminate)
            if power != was or verdict.correction is not Correction.NONE or verdict.warn:
                findings.append((_Row._make(row), power, verdict))
        findings.sort(key=_newest_first)
        for row, power, _verdict in findings:
            if power != row.power_state:
                self.writes[row.pk] = state_machine.PowerWrite(
                    power, self.host, row.vm_state, row.power_state
                )
        self.findings += findings

    def conclude(self, written: set[int], *, host_up: bool) -> None:
        """Step 4, after the power writes: the corrections, and what the record says."""
        for row, power, verdict in self.findings:
            if row.pk in self.writes and row.pk not in written:
                # The conditional write found a task (or another host, state or deletion): the
                # request that changed it wins, and it owns the instance's states now.
                log.info("sync left %s alone: it changed while the pass ran", row.uuid)
                continue
            note, action = verdict.note, None
            if verdict.correction is not Correction.NONE:
                if host_up:
                    action, note = _correct(self.host, self.driver, row, verdict)
                else:
                    deferred = verdict.correction.action
                    note = f"{verdict.note}; {deferred} deferred: {self.host} is not up"
            if verdict.warn:
                log.warning("instance %s (%s, power %s): %s", row.uuid, row.vm_state, power, note)
            elif verdict.correction is not Correction.NONE:
                log.info("instance %s (%s, power %s): %s", row.uuid, row.vm_state, power, note)
            self.changes.append(
                {
                    "instance": row.uuid,
                    "name": row.name,
                    "vm_state": row.vm_state,
                    "power_state": [row.power_state, power],
                    "action": action,
                    "note": note,
                }
            )


_NOSTATE = int(PowerState.NOSTATE)


def _newest_first(finding: tuple[_Row, int, Verdict]) -> int:
    return -finding[0].pk


# --- the pass ---------------------------------------------------------------------------------


def sync_host(*, host: Host | str, driver: ComputeDriver) -> PowerSyncPass:
    """One sync pass over ``host`` through ``driver``, recorded as a ``PowerSyncPass``.

    A driver that cannot list its guests makes the whole pass a recorded error (Nova skips the
    run when the driver is not ready); nothing else is touched.
    """
    row = _host_row(host)

    def list_guests(_names: Sequence[str]) -> Mapping[str, Mapping[str, int]]:
        return {row.host: _as_guests(driver.list_power_states())}

    (record,) = sync_hosts(hosts=[row], drivers={row.pk: driver}, list_guests=list_guests)
    return record


def sync_hosts(
    *, hosts: Sequence[Host], drivers: Mapping[int, ComputeDriver], list_guests: GuestLister
) -> list[PowerSyncPass]:
    """One pass over each of ``hosts`` together: one call to ``list_guests`` for all of them,
    one read of their instances, one transaction for the power writes and the records. Returns
    one record per host, in the order given. ``drivers`` (by host id) re-read a guest before a
    correction."""
    if not hosts:
        return []
    if len({host.pk for host in hosts}) != len(hosts):
        raise ValueError("a pass syncs each host once")
    started, clock = timezone.now(), time.monotonic()
    passes = [_HostPass(host, drivers[host.pk]) for host in hosts]
    try:
        listed = list_guests([host.host for host in hosts])
    except Exception as failure:
        message = getattr(failure, "message", None) or str(failure) or type(failure).__name__
        for one in passes:
            one.error = message
            log.warning("power-state sync of %s skipped: the driver failed: %s", one.host, message)
        return _ordered(hosts, _record(passes, clock, started))

    rows = _read([host.pk for host in hosts])
    for one in passes:
        one.guests = _as_guests(listed.get(one.host.host, {}))
        one.rows = rows.get(one.host.pk, [])
        one.plan()
    _unknown_guests(passes)  # a read, before the transaction starts

    # Reads stay outside the transaction: it begins with the write, so it holds its locks (on
    # SQLite, the database's write lock) only for the write, its events and the records.
    correcting = [one for one in passes if one.corrects]
    uncorrected = [one for one in passes if not one.corrects]
    with transaction.atomic():
        # Step 3 always precedes step 4: power_state first, for every instance at once.
        written = _write({pk: w for one in passes for pk, w in one.writes.items()})
        for one in uncorrected:
            one.conclude(written, host_up=False)  # nothing to correct: notes and warnings only
        records = _record(uncorrected, clock, started)
    if correcting:
        # Corrections are per instance by nature, each through the action path in its own
        # transaction; they wait while their host is not up, read fresh for the purpose.
        up = _hosts_up([one.host for one in correcting])
        for one in correcting:
            one.conclude(written, host_up=up.get(one.host.pk, False))
        records += _record(correcting, clock, started)
    return _ordered(hosts, records)


def _as_guests(listed: Mapping[str, int]) -> dict[str, int]:
    """A host's guests as ``plan`` reads them: uuid text → power state.

    A lister returns that already (``GuestLister``), so a host's listing is taken as it is
    unless its first entry says otherwise (a ``UUID`` key, a ``PowerState``): converting ten
    thousand entries a chunk just in case would cost as much as listing them.
    """
    first = next(iter(listed.items()), None)
    if isinstance(listed, dict) and first is not None:
        uuid, power = first
        if type(uuid) is str and type(power) is int:
            return listed
    return {str(uuid): int(power) for uuid, power in listed.items()}


def sync_instance(
    *, host: Host | str, driver: ComputeDriver, instance_uuid: str, power: int | None = None
) -> PowerChange | None:
    """Sync the one instance a lifecycle event names, with the same table as a pass.

    ``power`` is the driver's state the caller just read (else it is read here). Returns what
    changed, or None: nothing to do, or no instance of that uuid on this host (an event for a
    guest that has gone elsewhere is dropped, as in Nova). A deleted row is synced too, as
    Nova's handler reads with ``read_deleted='yes'``: its power_state is written and a guest
    still running is warned about. Not recorded as a pass.
    """
    row = _host_row(host)
    rows = _read_one(row.pk, instance_uuid)
    if power is None and rows:
        power = driver.get_power_state(instance_uuid)
    if not rows:
        return _sync_deleted(row, driver, instance_uuid, power)
    assert power is not None
    one = _HostPass(row, driver, rows=rows, guests={rows[0].uuid: int(power)})
    one.plan()
    if not one.findings:
        return None
    written = _write(one.writes)
    up = _hosts_up([row]) if one.corrects else {}
    one.conclude(written, host_up=up.get(row.pk, False))
    return one.changes[0] if one.changes else None


def _sync_deleted(
    host: Host, driver: ComputeDriver, instance_uuid: str, power: int | None
) -> PowerChange | None:
    """The lifecycle sync of a row already deleted: Nova's step 3 (power_state from the
    driver) and its (soft-)deleted row, which only warns. Never a correction."""
    deleted = (
        Instance.objects.filter(host_id=host.pk, uuid=instance_uuid, deleted_at__isnull=False)
        .order_by("-deleted_at")
        .values_list("pk", "name", "vm_state", "task_state", "power_state")
        .first()
    )
    if deleted is None:
        log.debug("lifecycle sync: no instance %s on %s; dropped", instance_uuid, host)
        return None
    pk, name, vm_state, task_state, was = deleted
    if task_state is not None:
        return None  # Nova's step 2, for deleted rows too
    if power is None:
        power = driver.get_power_state(instance_uuid)
    verdict = decide(vm_state, power)
    if power == was and not verdict.warn:
        return None
    if power != was:
        write = state_machine.PowerWrite(power, host, vm_state, was)
        state_machine.set_deleted_power_state(pk=pk, host_id=host.pk, write=write)
    note = verdict.note or "the instance is deleted"
    if verdict.warn:
        log.warning("instance %s (%s, deleted, power %s): %s", instance_uuid, vm_state, power, note)
    return {
        "instance": instance_uuid,
        "name": name,
        "vm_state": vm_state,
        "power_state": [was, power],
        "action": None,
        "note": note,
    }


def _write(writes: dict[int, state_machine.PowerWrite]) -> set[int]:
    """The power writes of a pass, one statement for every host; the ids actually written."""
    if not writes:
        return set()
    # Every write names its host, so no ``host_id`` is needed.
    return {i.pk for i in state_machine.set_power_states(host_id=None, changes=writes)}


def _hosts_up(hosts: Sequence[Host]) -> dict[int, bool]:
    """Whether each host is up now, from its row as it is now: the caller's row may be minutes
    old, and a host forced down or silent meanwhile must not be corrected on."""
    fresh = Host.objects.filter(pk__in=[host.pk for host in hosts])
    return {host.pk: host.is_up for host in fresh}


def _correct(
    host: Host, driver: ComputeDriver, row: _Row, verdict: Verdict
) -> tuple[str | None, str]:
    """Start the verdict's action as the system user, if the instance still warrants it."""
    wanted = verdict.correction.action
    assert wanted is not None
    if verdict.recheck is not None:
        # Nova re-reads the driver, uncached, before stopping an active instance whose guest
        # went off: the guest may be back already. Its other corrections act on the pass's read.
        try:
            fresh = driver.get_power_state(row.uuid)
        except Exception as failure:
            return None, f"{verdict.note}; not corrected: the driver failed: {failure}"
        if fresh not in verdict.recheck:
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
            with change_cause("sync.corrected", reason=verdict.note, action=wanted):
                instance_action(context=context, instance_uuid=row.uuid, action=wanted)
    except ComputeError as refusal:
        log.warning("sync could not %s %s: %s", wanted, row.uuid, refusal.message)
        return None, f"{verdict.note}; not corrected: {refusal.message}"
    except Exception as failure:  # corrections are best effort: log, never break the pass
        log.exception("sync could not %s %s", wanted, row.uuid)
        return None, f"{verdict.note}; not corrected: {failure}"
    return wanted, verdict.note


def _unknown_guests(passes: Sequence[_HostPass]) -> None:
    """Guests no live instance of their host accounts for; at most one query for all hosts."""
    strangers: dict[int, dict[str, int]] = {}
    for one in passes:
        # A set difference in C: every guest of the host, less its rows' uuids.
        unknown = one.guests.keys() - map(_UUID, one.rows)
        if unknown:
            strangers[one.host.pk] = {uuid: one.guests[uuid] for uuid in unknown}
    if not strangers:
        return
    valid = []
    for uuid in {uuid for mine in strangers.values() for uuid in mine}:
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
    for one in passes:
        for uuid, power in sorted(strangers.get(one.host.pk, {}).items()):
            note = ""
            if uuid in owners:
                deleted_at, host_name = owners[uuid]
                if deleted_at is not None:
                    note = "instance deleted"
                    if decide(VmState.DELETED, power).warn:
                        log.warning("instance %s is deleted but its guest is still there", uuid)
                else:
                    note = (
                        f"instance is on host {host_name}" if host_name else "instance has no host"
                    )
            one.unknown.append({"uuid": uuid, "power_state": power, "note": note})


# --- the record -------------------------------------------------------------------------------


def _record(passes: Sequence[_HostPass], clock: float, started: datetime) -> list[PowerSyncPass]:
    """One record per host, in one statement. A host synced in a chunk records the chunk's
    duration: its pass took that long."""
    if not passes:
        return []
    duration = round((time.monotonic() - clock) * 1000, 3)
    records = [
        PowerSyncPass(
            host=one.host,
            started_at=started,
            duration_ms=duration,
            checked=len(one.rows),
            changes=one.changes,
            unknown_guests=one.unknown,
            error=one.error,
        )
        for one in passes
    ]
    history.save(records)
    for one in passes:
        if one.error:
            continue
        log.log(
            logging.INFO if one.changes or one.unknown else logging.DEBUG,
            "power-state sync of %s: %d instance(s) checked, %d change(s), %d unknown guest(s), "
            "%.1f ms",
            one.host,
            len(one.rows),
            len(one.changes),
            len(one.unknown),
            duration,
        )
    return records


def _ordered(hosts: Sequence[Host], records: list[PowerSyncPass]) -> list[PowerSyncPass]:
    by_host = {record.host_id: record for record in records}
    return [by_host[host.pk] for host in hosts]
