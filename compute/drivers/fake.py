"""The fake hypervisor: guests that really change power state, kept in the database.

Unlike Nova's fake, whose pause and suspend are no-ops, every operation here moves the guest to
the power state a real hypervisor would report, so a sync test proves something. Guests live in
``FakeGuest`` rows, so the agent, the sync command and ``fake_guest`` in other processes all see
one hypervisor; every change appends a ``FakeLifecycleEvent`` the host's agent hears, as libvirt
would emit one.

Knobs: ``COMPUTE["fake_delays"]`` makes an operation take that many seconds (so transitions are
visible in the demo), ``FakeDriver.fail_next`` arms a failure for the next operation, and a
guest's ``migration_seconds`` / ``migration_fail_at`` (``fake_guest … slow-migration``) make its
live migrations take time, advancing their figures, and fail part way.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import close_old_connections, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Right
from django.utils import timezone

from compute.conf import conf
from compute.consoles.bus import publish
from compute.drivers import fake_console
from compute.drivers.base import (
    ComputeDriver,
    ConsoleTarget,
    EventCallback,
    GuestSpec,
    LifecycleEvent,
    MigrationMonitor,
    Transition,
)
from compute.drivers.diagnostics import CpuDetail, DiskDetail, GuestDiagnostics, NicDetail
from compute.exceptions import DriverError, InstanceNotFoundOnHypervisor, MigrationAborted
from compute.models import FakeFailure, FakeGuest, FakeLifecycleEvent
from compute.states import PowerState

P = PowerState

#: The lifecycle event a real hypervisor emits when a guest enters a power state.
_EVENT_FOR_STATE: dict[int, Transition] = {
    P.RUNNING: Transition.STARTED,
    P.SHUTDOWN: Transition.STOPPED,
    P.CRASHED: Transition.STOPPED,
    P.PAUSED: Transition.PAUSED,
    P.SUSPENDED: Transition.SUSPENDED,
}


MIB = 1 << 20
GIB = 1 << 30
#: A slow live migration reports its figures this often (seconds).
MIGRATION_TICK = 0.25


def _figures(memory: int, disk: int, share: float) -> dict[str, int]:
    """Nova's figures of a migration that has copied ``share`` of the memory and disk."""
    mem_done, disk_done = int(memory * share), int(disk * share)
    return {
        "memory_total": memory,
        "memory_processed": mem_done,
        "memory_remaining": memory - mem_done,
        "disk_total": disk,
        "disk_processed": disk_done,
        "disk_remaining": disk - disk_done,
    }


def set_guest_state(guest: FakeGuest, state: int, **changes: object) -> None:
    """Move a guest to ``state`` and emit the lifecycle event a hypervisor would; its serial
    console prints what the guest OS would (a boot log when it starts, the power-down lines
    when it stops, a panic when it crashes).

    Used by the driver and by ``fake_guest`` (a change behind the dashboard's back).
    """
    previous = guest.state
    guest.state = state
    for name, value in changes.items():
        setattr(guest, name, value)
    now = timezone.now()
    guest.updated_at = now
    printed = ""
    if state == P.RUNNING and previous in _OFF:
        guest.booted_at, guest.console_user = now, ""
        printed = fake_console.boot_log(guest.name, vcpus=guest.vcpus, memory_mb=guest.memory_mb)
    elif state == P.SHUTDOWN and previous in _ON:
        printed = fake_console.POWER_OFF_LOG
    elif state == P.CRASHED and previous in _ON:
        printed = fake_console.PANIC_LOG
    with transaction.atomic():
        if guest.pk is None:
            guest.console_log = printed[-fake_console.MAX_LOG :]
            guest.save()
        else:
            # Never the log itself: another process may have appended to it since this copy.
            guest.save(update_fields=_STATE_FIELDS)
            console_append(guest.uuid, printed)
        transition = _EVENT_FOR_STATE.get(state)
        if previous == P.PAUSED and state == P.RUNNING:
            transition = Transition.RESUMED
        if transition is not None and previous != state:
            FakeLifecycleEvent.objects.create(
                host=guest.host, uuid=guest.uuid, transition=transition
            )
    if printed:
        transaction.on_commit(lambda: publish(guest.uuid, printed))


#: Seconds a keystroke's echo may rely on what the driver last read of its guest.
ECHO_TRUST = 1.0

#: Power states in which the guest OS runs, and those it boots from.
_ON = (P.RUNNING, P.PAUSED)
_OFF = (P.SHUTDOWN, P.CRASHED, P.NOSTATE)
_STATE_FIELDS = [
    "host", "name", "state", "vcpus", "memory_mb", "image", "rescued", "saved",
    "admin_password_set_at", "booted_at", "console_user", "updated_at",
]  # fmt: skip


def console_append(uuid: str, text: str) -> None:
    """Append to the guest's console log in one statement, keeping its last 100 KiB (several
    processes may print to one guest: the agent, ``fake_guest``)."""
    if text:
        FakeGuest.objects.filter(uuid=uuid).update(
            console_log=Right(Concat(F("console_log"), Value(text)), fake_console.MAX_LOG)
        )


def guest_restart(guest: FakeGuest) -> None:
    """The guest OS restarts (``reboot`` typed at its console, or a soft reboot): it prints the
    restart and a new boot log; the hypervisor sees it running throughout (libvirt emits no
    lifecycle event for a guest's own reboot)."""
    now = timezone.now()
    printed = fake_console.RESTART_LOG + fake_console.boot_log(
        guest.name, vcpus=guest.vcpus, memory_mb=guest.memory_mb
    )
    with transaction.atomic():
        FakeGuest.objects.filter(pk=guest.pk).update(booted_at=now, console_user="", updated_at=now)
        console_append(guest.uuid, printed)
    transaction.on_commit(lambda: publish(guest.uuid, printed))


def remove_guest(guest: FakeGuest) -> None:
    with transaction.atomic():
        was_running = guest.state not in (P.SHUTDOWN, P.CRASHED, P.NOSTATE)
        guest.delete()
        if was_running:
            FakeLifecycleEvent.objects.create(
                host=guest.host, uuid=guest.uuid, transition=Transition.STOPPED
            )


class FakeDriver(ComputeDriver):
    hypervisor_type = "fake"

    def __init__(self, *, host: str) -> None:
        super().__init__(host=host)
        self._events_stop = threading.Event()
        self._events_thread: threading.Thread | None = None
        #: Each guest's tty line being typed, in the process that serves the host's consoles.
        self._ttys: dict[str, fake_console.LineDiscipline] = {}
        #: What this driver last read of each guest typed at, and when (``console_input``).
        self._seen: dict[str, tuple[float, FakeGuest]] = {}
        #: Echo not yet appended to each guest's log.
        self._unlogged: dict[str, str] = {}
        self._unlogged_lock = threading.Lock()

    # --- knobs ---------------------------------------------------------------------------
    @staticmethod
    def fail_next(*, host: str = "", operation: str = "", message: str) -> None:
        """Arm a failure: the next ``operation`` (any, if empty) on ``host`` (any) raises."""
        FakeFailure.objects.create(host=host, operation=operation, message=message)

    @contextmanager
    def _operation(self, name: str) -> Iterator[None]:
        delay = conf().fake_delays.get(name, conf().fake_delays.get("default", 0.0))
        if delay:
            time.sleep(delay)
        armed = (
            FakeFailure.objects.filter(host__in=["", self.host], operation__in=["", name])
            .order_by("id")
            .first()
        )
        # Delete by id and check the count, so two agents never both consume one failure.
        if armed is not None and FakeFailure.objects.filter(pk=armed.pk).delete()[0]:
            raise DriverError(armed.message)
        yield

    def _new_guest(self, guest: GuestSpec) -> FakeGuest:
        """An unsaved guest on this host, powered off until set_guest_state starts it."""
        return FakeGuest(
            uuid=guest.uuid,
            host=self.host,
            name=guest.name,
            state=P.NOSTATE,
            vcpus=guest.vcpus,
            memory_mb=guest.memory_mb,
            disk_gb=guest.disk_gb,
            image=guest.image,
        )

    def _guest(self, uuid: str) -> FakeGuest:
        try:
            return FakeGuest.objects.get(uuid=uuid)
        except FakeGuest.DoesNotExist:
            raise InstanceNotFoundOnHypervisor(uuid) from None

    # --- reading -------------------------------------------------------------------------
    def list_power_states(self) -> dict[str, int]:
        return dict(FakeGuest.objects.filter(host=self.host).values_list("uuid", "state"))

    @staticmethod
    def list_power_states_of_hosts(hosts: Sequence[str]) -> dict[str, dict[str, int]]:
        """``list_power_states`` of many hosts in one read, by host name: one hypervisor's table
        holds every host's guests, so the whole-fleet sync (``compute.sync.fleet``) lists a
        chunk of hosts at once."""
        found: dict[str, dict[str, int]] = {host: {} for host in hosts}
        if not found:
            return found
        # One plain fetch: a chunk is ten thousand guests, too many to iterate through the ORM.
        qn = connection.ops.quote_name
        sql = (
            f"SELECT {qn('host')}, {qn('uuid')}, {qn('state')} "
            f"FROM {qn(FakeGuest._meta.db_table)} "
            f"WHERE {qn('host')} IN ({', '.join(['%s'] * len(found))})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, list(found))
            for host, uuid, state in cursor.fetchall():
                found[host][uuid] = state
        return found

    def get_power_state(self, uuid: str) -> int:
        # By uuid alone: after a migration the source agent asks where its guest went.
        state = FakeGuest.objects.filter(uuid=uuid).values_list("state", flat=True).first()
        return P.NOSTATE if state is None else state

    # --- lifecycle -----------------------------------------------------------------------
    def spawn(self, guest: GuestSpec, *, power_on: bool = True) -> None:
        with self._operation("spawn"):
            FakeGuest.objects.filter(uuid=guest.uuid).delete()
            set_guest_state(self._new_guest(guest), P.RUNNING if power_on else P.SHUTDOWN)

    def destroy(self, uuid: str) -> None:
        with self._operation("destroy"):
            row = FakeGuest.objects.filter(uuid=uuid).first()
            if row is not None:
                remove_guest(row)

    def power_off(self, uuid: str, *, timeout: float) -> None:
        with self._operation("power_off"):
            set_guest_state(self._guest(uuid), P.SHUTDOWN, saved=False)

    def power_on(self, uuid: str) -> None:
        with self._operation("power_on"):
            row = self._guest(uuid)
            if row.state != P.RUNNING:
                set_guest_state(row, P.RUNNING, saved=False)

    def reboot_soft(self, uuid: str) -> None:
        with self._operation("reboot_soft"):
            row = self._guest(uuid)
            if row.state != P.RUNNING:
                raise DriverError(f"Guest {uuid} is not running; a soft reboot needs a running OS.")
            guest_restart(row)

    def reboot_hard(self, guest: GuestSpec) -> None:
        with self._operation("reboot_hard"):
            row = FakeGuest.objects.filter(uuid=guest.uuid).first()
            if row is None:
                # As Nova's fake: a hard reboot of a guest the hypervisor lost re-creates it.
                row = self._new_guest(guest)
            elif row.state != P.SHUTDOWN:
                set_guest_state(row, P.SHUTDOWN)
            set_guest_state(row, P.RUNNING, saved=False, rescued=False)

    def pause(self, uuid: str) -> None:
        with self._operation("pause"):
            row = self._guest(uuid)
            if row.state != P.RUNNING:
                raise DriverError(f"Guest {uuid} is not running and cannot be paused.")
            set_guest_state(row, P.PAUSED)

    def unpause(self, uuid: str) -> None:
        with self._operation("unpause"):
            row = self._guest(uuid)
            if row.state != P.PAUSED:
                raise DriverError(f"Guest {uuid} is not paused.")
            set_guest_state(row, P.RUNNING)

    def suspend(self, uuid: str) -> None:
        with self._operation("suspend"):
            row = self._guest(uuid)
            if row.state not in (P.RUNNING, P.PAUSED):
                raise DriverError(f"Guest {uuid} is not running and cannot be suspended.")
            set_guest_state(row, P.SUSPENDED, saved=True)

    def resume(self, uuid: str) -> None:
        with self._operation("resume"):
            row = self._guest(uuid)
            if not row.saved and row.state != P.SUSPENDED:
                raise DriverError(f"Guest {uuid} has no saved memory to resume from.")
            set_guest_state(row, P.RUNNING, saved=False)

    def rescue(self, uuid: str, *, image: str, image_file: str = "") -> None:
        with self._operation("rescue"):
            set_guest_state(self._guest(uuid), P.RUNNING, rescued=True)

    def unrescue(self, uuid: str) -> None:
        with self._operation("unrescue"):
            set_guest_state(self._guest(uuid), P.RUNNING, rescued=False)

    def rebuild(self, guest: GuestSpec) -> None:
        with self._operation("rebuild"):
            row = self._guest(guest.uuid)
            set_guest_state(row, P.SHUTDOWN)
            set_guest_state(row, P.RUNNING, image=guest.image, rescued=False, saved=False)

    # --- moving ----------------------------------------------------------------------------
    def migrate_disk_and_power_off(self, guest: GuestSpec, *, dest_host: str) -> None:
        with self._operation("migrate_disk_and_power_off"):
            set_guest_state(self._guest(guest.uuid), P.SHUTDOWN)

    def finish_migration(self, guest: GuestSpec, *, dest_host: str, power_on: bool) -> None:
        with self._operation("finish_migration"):
            row = self._guest(guest.uuid)
            # The guest leaves this host: its STOPPED/STARTED now belong to dest_host's agent.
            row.host = dest_host
            set_guest_state(
                row,
                P.RUNNING if power_on else P.SHUTDOWN,
                vcpus=guest.vcpus,
                memory_mb=guest.memory_mb,
            )

    def finish_revert_migration(
        self, guest: GuestSpec, *, source_host: str, power_on: bool
    ) -> None:
        with self._operation("finish_revert_migration"):
            row = self._guest(guest.uuid)
            set_guest_state(row, P.SHUTDOWN)
            row.host = source_host
            set_guest_state(
                row,
                P.RUNNING if power_on else P.SHUTDOWN,
                vcpus=guest.vcpus,
                memory_mb=guest.memory_mb,
            )

    def live_migrate(
        self, uuid: str, *, dest_host: str, monitor: MigrationMonitor | None = None
    ) -> None:
        """A block live migration: the guest's memory and disk are copied in ticks over its
        ``migration_seconds`` (at once by default), each tick reported to ``monitor`` and
        followed by what an admin asked: an abort leaves the guest running here, a
        force-complete copies the rest at once. A ``migration_fail_at`` fails it there, once."""
        with self._operation("live_migrate"):
            row = self._guest(uuid)
            if row.state not in (P.RUNNING, P.PAUSED):
                raise DriverError(f"Guest {uuid} is not running and cannot be live-migrated.")
            memory, disk = row.memory_mb * MIB, row.disk_gb * GIB
            ticks = max(1, math.ceil(row.migration_seconds / MIGRATION_TICK))
            for tick in range(1, ticks + 1):
                if ticks > 1:
                    time.sleep(row.migration_seconds / ticks)
                share = tick / ticks
                if monitor is not None:
                    monitor.report(_figures(memory, disk, share))
                    wanted = monitor.requested()
                    if wanted == "abort":
                        raise MigrationAborted(uuid)
                    if wanted == "force_complete" and tick < ticks:
                        monitor.report(_figures(memory, disk, 1.0))
                        break
                fail_at = row.migration_fail_at
                if fail_at is not None and share * 100 >= fail_at:
                    FakeGuest.objects.filter(pk=row.pk).update(migration_fail_at=None)
                    raise DriverError(
                        f"Live migration of {uuid} to {dest_host} failed after copying "
                        f"{round(share * 100)} % (fake_guest slow-migration --fail-at {fail_at})."
                    )
            FakeGuest.objects.filter(pk=row.pk).update(host=dest_host, updated_at=timezone.now())

    # --- images and guest agents -------------------------------------------------------------
    def snapshot(self, uuid: str, *, image_name: str, target: str = "") -> None:
        with self._operation("snapshot"):
            self._guest(uuid)

    def upload_image(self, uuid: str, *, image_name: str) -> None:
        with self._operation("upload_image"):
            self._guest(uuid)

    def set_admin_password(self, uuid: str, *, password: str) -> None:
        with self._operation("set_admin_password"):
            row = self._guest(uuid)
            if row.state != P.RUNNING:
                raise DriverError(f"Guest {uuid} is not running; its agent cannot set a password.")
            FakeGuest.objects.filter(pk=row.pk).update(admin_password_set_at=timezone.now())

    def trigger_crash_dump(self, uuid: str) -> None:
        with self._operation("trigger_crash_dump"):
            row = self._guest(uuid)
            if row.state not in (P.RUNNING, P.PAUSED):
                raise DriverError(f"Guest {uuid} is not running; no NMI can be injected.")
            set_guest_state(row, P.CRASHED)

    # --- the serial console ------------------------------------------------------------------
    def console_output(self, uuid: str) -> str:
        self._flush(uuid)
        log = FakeGuest.objects.filter(uuid=uuid).values_list("console_log", flat=True).first()
        if log is None:
            raise InstanceNotFoundOnHypervisor(uuid)
        return log

    def console_input(self, uuid: str, data: str) -> None:
        """The guest's tty: echo, and run each completed line in its shell. A guest that is not
        running reads nothing (its serial port is dead), as a real one.

        Keystrokes that complete no line are echoed from what this driver read of the guest
        less than ``ECHO_TRUST`` seconds ago, and their echo joins the log at the next line or
        ``console_flush``: a keystroke costs no database round trip. A completed line reads the
        guest afresh (another process may have stopped it)."""
        completes = any(c in data for c in "\r\n\x03\x04")
        seen = self._seen.get(uuid)
        if completes or seen is None or time.monotonic() - seen[0] > ECHO_TRUST:
            self._flush(uuid)
            row = FakeGuest.objects.defer("console_log").filter(uuid=uuid).first()
            if row is None:
                self._seen.pop(uuid, None)
                raise InstanceNotFoundOnHypervisor(uuid)
            self._seen[uuid] = (time.monotonic(), row)
        else:
            row = seen[1]
        if row.state != P.RUNNING:
            return
        tty = self._ttys.setdefault(uuid, fake_console.LineDiscipline())
        printed = ""
        for echo, line in tty.feed(data):
            printed += echo
            if line is None:
                continue
            guest = fake_console.Guest(
                uuid=uuid,
                name=row.name,
                user=row.console_user,
                booted_at=row.booted_at,
                vcpus=row.vcpus,
                memory_mb=row.memory_mb,
            )
            answer, effect, user = fake_console.run(guest, line, timezone.now())
            printed += answer
            if user != row.console_user:
                row.console_user = user
                FakeGuest.objects.filter(pk=row.pk).update(console_user=user)
            if effect in (fake_console.Effect.POWER_OFF, fake_console.Effect.REBOOT):
                # The rest of what was typed goes nowhere: the OS is going down.
                self._print(uuid, printed)
                self._ttys.pop(uuid, None)
                self._seen.pop(uuid, None)
                if effect is fake_console.Effect.POWER_OFF:
                    set_guest_state(row, P.SHUTDOWN, saved=False)
                else:
                    guest_restart(row)
                return
        if completes:
            self._print(uuid, printed)
        elif printed:
            publish(uuid, printed)
            with self._unlogged_lock:
                self._unlogged[uuid] = self._unlogged.get(uuid, "") + printed

    def console_flush(self) -> None:
        for uuid in list(self._unlogged):
            self._flush(uuid)

    def _flush(self, uuid: str) -> None:
        with self._unlogged_lock:
            pending = self._unlogged.pop(uuid, "")
        console_append(uuid, pending)

    def remote_console(self, uuid: str, protocol: str) -> ConsoleTarget:
        """Both: the serial console above, and a framebuffer the console socket draws."""
        self._guest(uuid)
        return ConsoleTarget("serial" if protocol == "serial" else "fake")

    # --- diagnostics ---------------------------------------------------------------------
    def get_diagnostics(self, uuid: str) -> GuestDiagnostics:
        """The load model's figures (``fake_console``): smooth, deterministic per guest; the
        counters grow while the guest runs and stand still while it does not."""
        row = self._guest(uuid)
        running = row.state == P.RUNNING
        now = time.time()
        booted = row.booted_at.timestamp() if row.booted_at else now
        until = now if running else max(booted, row.updated_at.timestamp())
        m = fake_console

        def count(figure: tuple[float, float, tuple[float, float]], salt: str) -> int:
            base, swing, period = figure
            return int(m.total(uuid, salt, booted, until, base=base, swing=swing, period=period))

        base, swing, period = m.MEMORY
        share = m.level(uuid, "memory", until, base=base, swing=swing, period=period)
        base, swing, period = m.CPU
        cpu_ns = int(
            m.total(uuid, "cpu", booted, until, base=base, swing=swing, period=period) * 1e9
        )
        per_cpu = max(1, row.vcpus)
        utilisation = int(m.cpu_fraction(uuid, now) * 100) if running else 0
        read, written = count(m.DISK_READ, "disk_read"), count(m.DISK_WRITE, "disk_write")
        received, sent = count(m.NET_RX, "net_rx"), count(m.NET_TX, "net_tx")
        mac = "fa:16:3e:" + ":".join(uuid.replace("-", "")[-6:][i : i + 2] for i in (0, 2, 4))
        return GuestDiagnostics(
            state=row.state,
            # Nova's fake reports "libvirt" too: the 2.48 schema knows no fake driver.
            driver="libvirt",
            hypervisor="fake",
            hypervisor_os="fake-os",
            uptime=int(until - booted) if running else 0,
            memory_maximum_mb=row.memory_mb,
            memory_used_mb=int(row.memory_mb * min(0.95, share)) if running else 0,
            cpu_details=[
                CpuDetail(id=n, time=cpu_ns // per_cpu, utilisation=utilisation)
                for n in range(per_cpu)
            ],
            disk_details=[
                DiskDetail(
                    read_bytes=read,
                    read_requests=read // 4096,
                    write_bytes=written,
                    write_requests=written // 4096,
                )
            ],
            nic_details=[
                NicDetail(
                    mac_address=mac,
                    rx_octets=received,
                    rx_packets=received // 800,
                    tx_octets=sent,
                    tx_packets=sent // 600,
                )
            ],
        )

    @staticmethod
    def _print(uuid: str, text: str) -> None:
        if text:
            publish(uuid, text)  # the echo first: the log's write is not on the keystroke's path
            console_append(uuid, text)

    # --- events ------------------------------------------------------------------------------
    def start_events(self, callback: EventCallback, *, poll_interval: float = 0.25) -> None:
        """Tail this host's ``FakeLifecycleEvent`` rows from now on, in a daemon thread."""
        last = FakeLifecycleEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self._events_stop.clear()

        def tail() -> None:
            nonlocal last
            while not self._events_stop.wait(poll_interval):
                try:
                    rows = list(
                        FakeLifecycleEvent.objects.filter(host=self.host, id__gt=last)
                        .order_by("id")
                        .values_list("id", "uuid", "transition")[:500]
                    )
                except Exception:  # the database restarting must not kill the listener
                    close_old_connections()
                    continue
                for pk, uuid, transition in rows:
                    last = pk
                    callback(LifecycleEvent(uuid, Transition(transition), time.monotonic()))
            close_old_connections()

        self._events_thread = threading.Thread(
            target=tail, name=f"fake-events-{self.host}", daemon=True
        )
        self._events_thread.start()

    def stop_events(self) -> None:
        self._events_stop.set()
        if self._events_thread is not None:
            self._events_thread.join(timeout=5)
            self._events_thread = None
