"""The libvirt driver: ``ComputeDriver`` spoken to one libvirt host (QEMU/KVM or ``test://``).

It owns the domains whose name *and* libvirt UUID are an instance's uuid; other domains on the
host are not looked at. It keeps one invariant: everything needed to rebuild a domain's XML
lives in the domain itself, in a ``<metadata>`` element (name, image, disk size and, while
rescued, the rescue image), so rescue, unrescue and the migrations need nothing but the uuid
and the flavor they are given.

On a real host (any URI but ``test://``) it also owns the guests' disks, through libvirt's
storage API (``compute.drivers.libvirt_storage``): a qcow2 overlay per guest on a base copy of
its image, sized to the flavor's root disk, made on spawn, re-made on rebuild, grown on resize,
a rescue overlay while rescued, all removed on destroy. A snapshot with a target flattens the
disk into a standalone qcow2 image file (Nova's cold snapshot: a running guest's memory is
saved meanwhile and restored after). Each domain has a serial console logged to
``<instances_path>/<uuid>/console.log``, VNC on 127.0.0.1 and a guest-agent channel. The domain
type is ``virt_type`` (Nova's ``[libvirt] virt_type``): ``kvm``, or ``qemu`` (TCG) on a host
without hardware virtualisation. On ``test://`` disks are only named, never created.

Scope, on purpose:

- Resize and cold migration to the same host redefine the guest with the new flavor, its disk
  grown; a reverted resize keeps the grown disk (qcow2 does not shrink). To another host's
  libvirtd (``peers``: its URI and instances path) the flattened disk is uploaded into that
  host's pool, the source's kept for a revert; a revert is run by the destination, which
  defines the guest on the source again. Live migration copies the overlay's blocks and the
  memory while the guest runs. Nothing runs on confirm (it completes in the API): the
  source's agent removes the kept disk later (``disks_without_domain``, ``remove_disks``).
- Lifecycle events come from libvirt's default event loop, run by one daemon thread per
  process. The callback runs on that thread and must return quickly. STOPPED is delivered at
  once: holding it back over a reboot (Nova's 15 s) is the agent's job, for every driver.

With its siblings ``libvirt_events`` (Nova's reading of libvirt's states and events, the event
loop) and ``libvirt_storage`` (the disks), the only modules that import ``libvirt`` (an import
contract checks it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt

from compute.drivers.base import (
    ComputeDriver,
    ConsoleTarget,
    EventCallback,
    GuestSpec,
    LifecycleEvent,
    MigrationMonitor,
)
from compute.drivers.diagnostics import CpuDetail, DiskDetail, GuestDiagnostics, NicDetail
from compute.drivers.libvirt_console import LibvirtConsoles
from compute.drivers.libvirt_events import (
    deregister_on_event_thread,
    lifecycle_transition,
    power_state_of,
    prepare_libvirt,
)
from compute.drivers.libvirt_storage import DiskPool, ImageFile
from compute.drivers.libvirt_xml import domain_xml, element, guest_from_xml, slug, volume_name
from compute.exceptions import (
    ConsoleNotAvailable,
    ConsoleTypeUnavailable,
    DriverError,
    InstanceNotFoundOnHypervisor,
    MigrationAborted,
)
from compute.states import PowerState

logger = logging.getLogger(__name__)

#: How often ``power_off`` re-presses the ACPI power button (Nova's retry interval) and polls.
SHUTDOWN_RETRY_INTERVAL = 10.0
SHUTDOWN_POLL_INTERVAL = 0.2
#: Clean-shutdown wait before a cold migration pulls the plug (Nova's ``shutdown_timeout``).
MIGRATE_SHUTDOWN_TIMEOUT = 60.0
#: How long a soft reboot waits for the guest to shut down before it falls back to a hard
#: reboot (Nova's ``[libvirt] wait_soft_reboot_seconds``).
SOFT_REBOOT_TIMEOUT = 120.0
#: The domain types ``virt_type`` may name (Nova's choices that QEMU serves).
VIRT_TYPES = ("kvm", "qemu")


# --- errors ----------------------------------------------------------------------------------
def _is(exc: libvirt.libvirtError, code: int) -> bool:
    return exc.get_error_code() == code


def _driver_error(action: str, uuid: str | None, exc: libvirt.libvirtError) -> DriverError:
    """``action`` is a verb phrase whose object is the instance, if there is one."""
    if uuid is None:
        return DriverError(f"libvirt could not {action}: {exc.get_error_message()}")
    if _is(exc, libvirt.VIR_ERR_NO_DOMAIN):
        return InstanceNotFoundOnHypervisor(uuid)
    return DriverError(f"libvirt could not {action} instance {uuid}: {exc.get_error_message()}")


@contextlib.contextmanager
def _translated(action: str, uuid: str | None) -> Iterator[None]:
    try:
        yield
    except libvirt.libvirtError as exc:
        raise _driver_error(action, uuid, exc) from exc


def _alive(conn: libvirt.virConnect) -> bool:
    try:
        return conn.isAlive() == 1  # local state, no round trip
    except libvirt.libvirtError:
        return False


def _instance_uuid(name: str) -> str | None:
    try:
        return str(uuidlib.UUID(name))
    except ValueError:
        return None


def _instance_dir_made(instances_path: Path, uuid: str) -> str:
    """The instance's directory, made, owned like the instances path (a libvirtd running as
    another user than the agent, a session daemon, logs there); the console log's path."""
    directory = instances_path / uuid
    directory.mkdir(parents=True, exist_ok=True)
    owner = instances_path.stat()
    here = directory.stat()
    if (here.st_uid, here.st_gid) != (owner.st_uid, owner.st_gid):
        with contextlib.suppress(PermissionError):
            os.chown(directory, owner.st_uid, owner.st_gid)
    return str(directory / "console.log")


def _force_off(dom: libvirt.virDomain) -> None:
    try:
        dom.destroy()
    except libvirt.libvirtError as exc:
        if not _is(exc, libvirt.VIR_ERR_OPERATION_INVALID):  # "not running": nothing to do
            raise


class LibvirtDriver(ComputeDriver):
    hypervisor_type = "QEMU"

    def __init__(
        self,
        *,
        host: str,
        uri: str,
        virt_type: str = "kvm",
        instances_path: str = "/var/lib/libvirt/vmdash",
        peers: dict[str, dict[str, str]] | None = None,
    ) -> None:
        super().__init__(host=host)
        self.uri = uri
        #: Other hosts' libvirtds, for live migration (``LIBVIRT_PEERS``).
        self.peers = dict(peers or {})
        if virt_type not in VIRT_TYPES:
            raise ValueError(f"virt_type must be one of {VIRT_TYPES}, not {virt_type!r}")
        #: test:// has no files: disks are named in the XML but never made.
        self.real = not uri.startswith("test:")
        if not self.real:
            self.hypervisor_type = "test"
        self.instances_path = instances_path
        self._pool = DiskPool(instances_path)
        self._lock = threading.Lock()
        self._conn: libvirt.virConnect | None = None
        self._configured_virt_type = virt_type
        self._virt_type = virt_type
        self._callback: EventCallback | None = None
        self._callback_id: int | None = None
        self._consoles = LibvirtConsoles(self._open_console, self.console_log_path)
        prepare_libvirt()

    # --- connection and events ------------------------------------------------------------
    def _connection(self) -> libvirt.virConnect:
        """The open connection; opened on first use and again if libvirtd dropped it."""
        with self._lock:
            if self._conn is not None and _alive(self._conn):
                return self._conn
            if self._conn is not None:
                with contextlib.suppress(libvirt.libvirtError):
                    self._conn.close()  # its event registration died with it
            self._conn, self._callback_id = None, None
            with _translated(f"connect to {self.uri}", None):
                conn = libvirt.open(self.uri)
                try:
                    self._virt_type = self._pick_virt_type(conn)
                except DriverError:
                    conn.close()
                    raise
                if self._callback is not None:
                    self._register_events(conn)
            self._conn = conn
            return conn

    def _pick_virt_type(self, conn: libvirt.virConnect) -> str:
        """The configured type, if the host offers it. Nova refuses to start on a kvm host
        without KVM rather than silently emulating; so does this (with the fix in the message).
        The converse is not checked: a host may list kvm and still not run it (nested PVM)."""
        if conn.getType().lower() == "test":
            return "test"
        capabilities = ET.fromstring(conn.getCapabilities())
        types = {d.get("type") for d in capabilities.iterfind("guest/arch/domain")}
        wanted = self._configured_virt_type
        if wanted not in types:
            raise DriverError(
                f"virt_type {wanted!r} is not offered by {self.uri} (it offers "
                f"{', '.join(sorted(t for t in types if t))}): set LIBVIRT_VIRT_TYPE=qemu on a "
                "host without hardware virtualisation"
            )
        return wanted

    def _register_events(self, conn: libvirt.virConnect) -> None:
        self._callback_id = conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None
        )

    def _on_lifecycle(
        self,
        _conn: libvirt.virConnect,
        dom: libvirt.virDomain,
        event: int,
        detail: int,
        _opaque: object,
    ) -> None:
        emitted_at = time.monotonic()
        callback, uuid = self._callback, _instance_uuid(dom.name())
        if callback is None or uuid is None:
            return
        transition = lifecycle_transition(event, detail, dom)
        if transition is None:
            return
        try:
            callback(LifecycleEvent(uuid, transition, emitted_at))
        except Exception:  # an exception escaping here would only be printed by libvirt
            logger.exception("Lifecycle callback failed for %s %s", uuid, transition.name)

    def start_events(self, callback: EventCallback) -> None:
        self._callback = callback
        conn = self._connection()  # registers if it had to (re)connect
        with self._lock:
            if self._callback_id is None:
                with _translated("register for lifecycle events", None):
                    self._register_events(conn)

    def stop_events(self) -> None:
        """Stop forwarding. The libvirt registration stays until ``close`` (see there) and is
        reused by the next ``start_events``."""
        self._callback = None

    def close(self) -> None:
        self._callback = None
        with self._lock:
            conn, callback_id = self._conn, self._callback_id
            self._conn, self._callback_id = None, None
        if conn is None:
            return
        # Outside the lock: a callback still running on the loop thread may need it.
        if callback_id is not None:
            deregister_on_event_thread(conn, callback_id)
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()

    # --- lookups --------------------------------------------------------------------------
    def _find(self, uuid: str) -> libvirt.virDomain | None:
        if _instance_uuid(uuid) is None:
            return None
        conn = self._connection()
        try:
            return conn.lookupByUUIDString(uuid)
        except libvirt.libvirtError as exc:
            if _is(exc, libvirt.VIR_ERR_NO_DOMAIN):
                return None
            raise _driver_error("look up", uuid, exc) from exc

    def _lookup(self, uuid: str) -> libvirt.virDomain:
        dom = self._find(uuid)
        if dom is None:
            raise InstanceNotFoundOnHypervisor(uuid)
        return dom

    # --- reading --------------------------------------------------------------------------
    def list_power_states(self) -> dict[str, int]:
        """One ``getAllDomainStats`` round trip for the whole host (active and inactive
        domains). Only a driver without bulk stats falls back to ``listAllDomains`` plus one
        ``state()`` call per domain, i.e. 1 + N round trips."""
        conn = self._connection()
        with _translated(f"list the guests of host {self.host}", None):
            try:
                records = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE)
                states = [(dom, stats["state.state"]) for dom, stats in records]
            except libvirt.libvirtError as exc:
                if not _is(exc, libvirt.VIR_ERR_NO_SUPPORT):
                    raise
                states = [(dom, dom.state()[0]) for dom in conn.listAllDomains()]
        result: dict[str, int] = {}
        for dom, state in states:
            uuid = _instance_uuid(dom.name())  # name() is cached locally: no round trip
            if uuid is not None:
                result[uuid] = power_state_of(state)
        return result

    def get_power_state(self, uuid: str) -> int:
        dom = self._find(uuid)
        if dom is None:
            return PowerState.NOSTATE
        try:
            return power_state_of(dom.state()[0])
        except libvirt.libvirtError as exc:
            if _is(exc, libvirt.VIR_ERR_NO_DOMAIN):  # undefined since the lookup
                return PowerState.NOSTATE
            raise _driver_error("read the state of", uuid, exc) from exc

    # --- lifecycle ------------------------------------------------------------------------
    # --- disks and domain XML -------------------------------------------------------------
    def _xml(self, guest: GuestSpec, *, rescue_image: str | None = None) -> str:
        if not self.real:
            return domain_xml(guest, virt_type=self._virt_type, rescue_image=rescue_image)
        return domain_xml(
            guest,
            virt_type=self._virt_type,
            rescue_image=rescue_image,
            disk_dir=str(self._pool.path),
            console_log=self._console_log(guest.uuid),
        )

    def _instance_dir(self, uuid: str) -> Path:
        return Path(self.instances_path) / uuid

    def _console_log(self, uuid: str) -> str:
        """Nova's console.log; its directory must exist before QEMU starts."""
        return _instance_dir_made(Path(self.instances_path), uuid)

    def console_log_path(self, uuid: str) -> str:
        """Where the guest's serial console output is kept (a real host only)."""
        return str(self._instance_dir(uuid) / "console.log")

    # --- the serial console -----------------------------------------------------------------
    # test:// domains have no serial device: no log, no stream (Nova: ConsoleNotAvailable).
    def console_output(self, uuid: str) -> str:
        self._lookup(uuid)
        if not self.real:
            raise ConsoleNotAvailable()
        return self._consoles.output(uuid)

    def console_watch(self, uuid: str) -> None:
        if self.real:
            self._consoles.watch(uuid)

    def console_input(self, uuid: str, data: str) -> None:
        if not self.real:
            raise ConsoleNotAvailable()
        self._consoles.type(uuid, data.encode())

    def remote_console(self, uuid: str, protocol: str) -> ConsoleTarget:
        """Serial: through the agent (the stream above). VNC: the port QEMU listens on now
        (autoport: a new one each start; 0 while the guest is not running)."""
        dom = self._lookup(uuid)
        if not self.real:
            raise ConsoleTypeUnavailable(console_type=protocol)
        if protocol == "serial":
            return ConsoleTarget("serial")
        with _translated("read the graphics of", uuid):
            tree = ET.fromstring(dom.XMLDesc(0))
        graphics = tree.find("devices/graphics[@type='vnc']")
        if graphics is None:
            raise ConsoleTypeUnavailable(console_type="vnc")
        listen = graphics.find("listen")
        host = listen.get("address", "127.0.0.1") if listen is not None else "127.0.0.1"
        port = int(graphics.get("port", "-1"))
        return ConsoleTarget("tcp", host=host, port=max(port, 0))

    def get_diagnostics(self, uuid: str) -> GuestDiagnostics:
        """``virDomainGetInfo`` (state, memory, vCPUs, CPU time: every hypervisor has it) and,
        where the hypervisor keeps them, the block and interface counters of
        ``virConnectGetAllDomainStats``; MACs from the domain's XML. ``uptime`` is -1: the
        hypervisor does not know when the OS booted (the API takes the instance's launch)."""
        dom = self._lookup(uuid)
        with _translated("read the diagnostics of", uuid):
            state, max_kib, mem_kib, vcpus, cpu_ns = dom.info()
            stats: dict[str, Any] = {}
            flags = (
                libvirt.VIR_DOMAIN_STATS_BALLOON
                | libvirt.VIR_DOMAIN_STATS_VCPU
                | libvirt.VIR_DOMAIN_STATS_INTERFACE
                | libvirt.VIR_DOMAIN_STATS_BLOCK
            )
            with contextlib.suppress(libvirt.libvirtError):
                stats = dict(self._connection().domainListGetStats([dom], flags)[0][1])
            tree = ET.fromstring(dom.XMLDesc(0))
        running = power_state_of(state) == PowerState.RUNNING
        used_kib = stats.get("balloon.rss") or (
            stats["balloon.current"] - stats["balloon.unused"]
            if "balloon.unused" in stats and "balloon.current" in stats
            else mem_kib
        )
        cpus = [
            CpuDetail(
                id=n,
                time=int(stats.get(f"vcpu.{n}.time", cpu_ns // max(vcpus, 1))),
                utilisation=None,
            )
            for n in range(vcpus)
        ]
        disks = [
            DiskDetail(
                read_bytes=int(stats.get(f"block.{n}.rd.bytes", 0)),
                read_requests=int(stats.get(f"block.{n}.rd.reqs", 0)),
                write_bytes=int(stats.get(f"block.{n}.wr.bytes", 0)),
                write_requests=int(stats.get(f"block.{n}.wr.reqs", 0)),
                errors_count=int(stats.get(f"block.{n}.errs", 0)),
            )
            for n in range(int(stats.get("block.count", len(tree.findall("devices/disk")))))
        ]
        macs = [m.get("address", "") for m in tree.findall("devices/interface/mac")]
        nics = [
            NicDetail(
                mac_address=mac,
                rx_octets=int(stats.get(f"net.{n}.rx.bytes", 0)),
                rx_errors=int(stats.get(f"net.{n}.rx.errs", 0)),
                rx_drop=int(stats.get(f"net.{n}.rx.drop", 0)),
                rx_packets=int(stats.get(f"net.{n}.rx.pkts", 0)),
                tx_octets=int(stats.get(f"net.{n}.tx.bytes", 0)),
                tx_errors=int(stats.get(f"net.{n}.tx.errs", 0)),
                tx_drop=int(stats.get(f"net.{n}.tx.drop", 0)),
                tx_packets=int(stats.get(f"net.{n}.tx.pkts", 0)),
            )
            for n, mac in enumerate(macs)
        ]
        return GuestDiagnostics(
            state=power_state_of(state),
            driver="libvirt",
            hypervisor=self._virt_type,
            hypervisor_os="linux",
            uptime=-1,
            memory_maximum_mb=int(max_kib) // 1024,
            memory_used_mb=int(used_kib) // 1024 if running else 0,
            cpu_details=cpus,
            disk_details=disks,
            nic_details=nics,
        )

    def _open_console(self, uuid: str) -> Any:
        dom = self._lookup(uuid)
        conn = self._connection()
        with _translated("open the serial console of", uuid):
            stream = conn.newStream(0)
            dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        return stream

    def _make_disk(self, guest: GuestSpec, *, rescue: bool = False, image_file: str = "") -> None:
        """Create the guest's root (or rescue) overlay on its image; replaces an old one."""
        source = image_file if rescue else guest.image_file
        if not source:
            what = "rescue image" if rescue else "image"
            raise DriverError(
                f"Cannot create the disk of instance {guest.uuid}: its {what} has no file "
                "(register one with manage.py import_image or image upload, or boot "
                "vmdash-guest from manage.py build_guest_image)"
            )
        with _translated("create the disk of", guest.uuid):
            self._pool.create_overlay(
                self._connection(),
                volume_name(guest.uuid, rescue=rescue),
                ImageFile(source, guest.image_format if not rescue else "qcow2"),
                size_gb=0 if rescue else guest.disk_gb,
            )

    def _has_disk(self, uuid: str) -> bool:
        with _translated("look up the disk of", uuid):
            return self._pool.volume(self._connection(), volume_name(uuid)) is not None

    def _remove_disks(self, uuid: str) -> None:
        with _translated("remove the disks of", uuid):
            conn = self._connection()
            for rescue in (False, True):
                self._pool.delete(conn, volume_name(uuid, rescue=rescue))
        shutil.rmtree(self._instance_dir(uuid), ignore_errors=True)

    def disks_without_domain(self) -> set[str]:
        if not self.real:
            return set()
        with _translated(f"list the disks of host {self.host}", None):
            conn = self._connection()
            names = self._pool.pool(conn).listVolumes()
            uuids = {
                u for n in names if n.endswith("-disk.qcow2") and (u := _instance_uuid(n[:36]))
            }
            return {u for u in uuids if self._find(u) is None}

    def remove_disks(self, uuid: str) -> None:
        if self.real and self._find(uuid) is None:
            self._remove_disks(uuid)

    def disk_paths(self, uuid: str) -> list[str]:
        """The guest's volumes that exist now (for tests and operators)."""
        if not self.real:
            return []
        conn = self._connection()
        return [
            vol.path()
            for rescue in (False, True)
            if (vol := self._pool.volume(conn, volume_name(uuid, rescue=rescue))) is not None
        ]

    def spawn(self, guest: GuestSpec, *, power_on: bool = True) -> None:
        self.destroy(guest.uuid)  # re-spawning replaces, leftovers of a crashed build included
        if self.real:
            self._make_disk(guest)
        try:
            with _translated("spawn", guest.uuid):
                dom = self._connection().defineXML(self._xml(guest))
                if power_on:
                    dom.create()
        except DriverError:
            # As Nova: a guest that failed to spawn leaves no domain and no disk behind.
            with contextlib.suppress(DriverError):
                self.destroy(guest.uuid)
            raise

    def destroy(self, uuid: str) -> None:
        """Remove the domain and, on a real host, its disks and console log."""
        dom = self._find(uuid)
        if dom is not None:
            try:
                _force_off(dom)
                dom.undefineFlags(
                    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                )
            except libvirt.libvirtError as exc:
                if not _is(exc, libvirt.VIR_ERR_NO_DOMAIN):  # gone meanwhile, or was transient
                    raise _driver_error("destroy", uuid, exc) from exc
        if self.real and _instance_uuid(uuid) is not None:
            self._remove_disks(uuid)

    def power_off(self, uuid: str, *, timeout: float) -> None:
        dom = self._lookup(uuid)
        with _translated("power off", uuid):
            if not dom.isActive():
                return
            # A paused guest's vCPUs cannot answer the ACPI request: waiting would be wasted.
            if dom.state()[0] != libvirt.VIR_DOMAIN_PAUSED and self._shut_down(dom, timeout):
                return
            _force_off(dom)

    @staticmethod
    def _shut_down(dom: libvirt.virDomain, timeout: float) -> bool:
        """Press the power button (again every retry interval, as guests may miss the first
        press while booting) until the domain is off or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        next_press = 0.0
        while True:
            now = time.monotonic()
            if now >= next_press:
                try:
                    dom.shutdown()
                except libvirt.libvirtError as exc:
                    if not _is(exc, libvirt.VIR_ERR_OPERATION_INVALID):  # off already
                        raise
                next_press = now + SHUTDOWN_RETRY_INTERVAL
            if not dom.isActive():
                return True
            if now >= deadline:
                return False
            time.sleep(min(SHUTDOWN_POLL_INTERVAL, deadline - now))

    def power_on(self, uuid: str) -> None:
        """Start the domain; libvirt restores it from a managed-save image if it has one."""
        dom = self._lookup(uuid)
        with _translated("power on", uuid):
            if not dom.isActive():
                dom.create()

    def reboot_soft(self, uuid: str) -> None:
        """Nova's soft reboot: press the power button, wait for the guest to shut down and
        start it again; a guest that does not stop within ``SOFT_REBOOT_TIMEOUT`` is rebooted
        hard instead (from the spec its domain carries)."""
        dom = self._lookup(uuid)
        with _translated("reboot", uuid):
            if not dom.isActive():
                raise DriverError(f"libvirt could not reboot instance {uuid}: it is not running")
            if self._shut_down(dom, SOFT_REBOOT_TIMEOUT):
                dom.create()
                return
            guest, rescue_image = guest_from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), uuid)
        logger.warning("Instance %s did not shut down for a soft reboot: rebooting hard", uuid)
        self._redefine(guest, rescue_image=rescue_image, power_on=True)

    def reboot_hard(self, guest: GuestSpec) -> None:
        """Like Nova: stop, regenerate the XML from ``guest`` (a lost domain is re-created, a
        lost disk made again from the image, a saved memory image discarded) and start."""
        if self.real and not self._has_disk(guest.uuid):
            self._make_disk(guest)
        self._redefine(guest, rescue_image=None, power_on=True)

    def pause(self, uuid: str) -> None:
        dom = self._lookup(uuid)
        with _translated("pause", uuid):
            dom.suspend()

    def unpause(self, uuid: str) -> None:
        dom = self._lookup(uuid)
        with _translated("unpause", uuid):
            dom.resume()

    def suspend(self, uuid: str) -> None:
        dom = self._lookup(uuid)
        with _translated("suspend", uuid):
            dom.managedSave(0)

    def resume(self, uuid: str) -> None:
        dom = self._lookup(uuid)
        with _translated("resume", uuid):
            if not dom.isActive():
                dom.create()  # restores the managed-save image
            if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:  # it was saved while paused
                dom.resume()

    def rescue(self, uuid: str, *, image: str, image_file: str = "") -> None:
        """Reboot from a rescue disk (vda, first to boot; an overlay on ``image_file``) with
        the guest's own disk as vdb."""
        dom = self._lookup(uuid)
        with _translated("rescue", uuid):
            guest, _ = guest_from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), uuid)
            _force_off(dom)
        if self.real:
            self._make_disk(guest, rescue=True, image_file=image_file)
        self._redefine(guest, rescue_image=image, power_on=True)

    def unrescue(self, uuid: str) -> None:
        dom = self._lookup(uuid)
        with _translated("unrescue", uuid):
            guest, rescue_image = guest_from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), uuid)
        if rescue_image is None:
            self.power_on(uuid)  # not rescued: only make sure it runs, as after an unrescue
            return
        self._redefine(guest, rescue_image=None, power_on=False)
        if self.real:
            with _translated("remove the rescue disk of", uuid):
                self._pool.delete(self._connection(), volume_name(uuid, rescue=True))
        self.power_on(uuid)

    def rebuild(self, guest: GuestSpec) -> None:
        """Re-create the disk from ``guest.image`` (its old contents are gone, as in Nova),
        redefine and start; libvirt snapshots survive, a saved memory image does not."""
        dom = self._find(guest.uuid)
        if dom is not None:
            with _translated("rebuild", guest.uuid):
                _force_off(dom)
        if self.real:
            self._make_disk(guest)
        self._redefine(guest, rescue_image=None, power_on=True)

    def _redefine(self, guest: GuestSpec, *, rescue_image: str | None, power_on: bool) -> None:
        """Stop the domain, drop its saved memory, define it anew in place and maybe start it.
        Redefining (rather than undefining) keeps its snapshots; a missing domain is created."""
        dom = self._find(guest.uuid)
        with _translated("redefine", guest.uuid):
            if dom is not None:
                _force_off(dom)
                if dom.hasManagedSaveImage(0):
                    dom.managedSaveRemove(0)
            dom = self._connection().defineXML(self._xml(guest, rescue_image=rescue_image))
            if power_on:
                dom.create()

    # --- moving ---------------------------------------------------------------------------
    def _require_this_host(self, uuid: str, host: str, verb: str) -> None:
        if host != self.host:
            raise DriverError(
                f"Cannot {verb} instance {uuid} to host {host!r}: this libvirt driver manages "
                f"the single host {self.host!r} and cannot move disks or memory between hosts"
            )

    def _peer(self, host: str) -> tuple[str, DiskPool]:
        """Another host's libvirtd (``LIBVIRT_PEERS``, else Nova's ``qemu+tcp://<host>/system``)
        and its disk pool."""
        peer = self.peers.get(host, {})
        uri = peer.get("uri") or f"qemu+tcp://{host}/system"
        return uri, DiskPool(peer.get("instances_path") or self.instances_path)

    @contextlib.contextmanager
    def _peer_connection(self, host: str, uuid: str, verb: str) -> Iterator[tuple[Any, DiskPool]]:
        uri, pool = self._peer(host)
        with _translated(f"connect to host {host} ({uri}) to {verb}", uuid):
            conn = libvirt.open(uri)
        try:
            yield conn, pool
        finally:
            with contextlib.suppress(libvirt.libvirtError):
                conn.close()

    def _peer_xml(self, guest: GuestSpec, pool: DiskPool) -> str:
        return domain_xml(
            guest,
            virt_type=self._virt_type,
            rescue_image=None,
            disk_dir=str(pool.path),
            console_log=_instance_dir_made(Path(pool.path).parent, guest.uuid),
        )

    def migrate_disk_and_power_off(self, guest: GuestSpec, *, dest_host: str) -> None:
        """Power off. To another host (a real one): the disk, flattened, is copied into the
        destination's pool and the domain undefined here; the source's disk is kept until the
        migration is confirmed or reverted (Nova's ``_resize`` copy)."""
        if dest_host == self.host or not self.real:
            self._require_this_host(guest.uuid, dest_host, "migrate")
            self.power_off(guest.uuid, timeout=MIGRATE_SHUTDOWN_TIMEOUT)
            return
        self.power_off(guest.uuid, timeout=MIGRATE_SHUTDOWN_TIMEOUT)
        copying = _translated(f"copy the disk to host {dest_host} of", guest.uuid)
        with self._peer_connection(dest_host, guest.uuid, "migrate") as (dconn, dest_pool), copying:
            staged = self._pool.path / f".{guest.uuid}-migrating.qcow2"
            try:
                self._pool.export(self._connection(), volume_name(guest.uuid), staged)
                dest_pool.import_file(dconn, volume_name(guest.uuid), staged)
            finally:
                staged.unlink(missing_ok=True)
        dom = self._find(guest.uuid)
        if dom is not None:
            with _translated("undefine", guest.uuid):
                if dom.hasManagedSaveImage(0):
                    dom.managedSaveRemove(0)
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)

    def finish_migration(self, guest: GuestSpec, *, dest_host: str, power_on: bool) -> None:
        """Grow the disk to the new flavor's root disk, define the domain with its vCPUs and
        memory (on the destination's libvirtd when it is another host) and maybe start it."""
        if dest_host == self.host or not self.real:
            self._require_this_host(guest.uuid, dest_host, "migrate")
            if self.real:
                with _translated("grow the disk of", guest.uuid):
                    self._pool.grow(self._connection(), volume_name(guest.uuid), guest.disk_gb)
            self._redefine(guest, rescue_image=None, power_on=power_on)
            return
        starting = _translated(f"start on host {dest_host}", guest.uuid)
        with (
            self._peer_connection(dest_host, guest.uuid, "migrate") as (dconn, dest_pool),
            starting,
        ):
            dest_pool.grow(dconn, volume_name(guest.uuid), guest.disk_gb)
            dom = dconn.defineXML(self._peer_xml(guest, dest_pool))
            if power_on:
                dom.create()

    def finish_revert_migration(
        self, guest: GuestSpec, *, source_host: str, power_on: bool
    ) -> None:
        """Redefine with the old flavor. Run by the destination after a migration from another
        host: its domain and disk go, and the source's kept disk boots there again."""
        if source_host == self.host or not self.real:
            self._require_this_host(guest.uuid, source_host, "revert the migration of")
            self._redefine(guest, rescue_image=None, power_on=power_on)
            return
        self.destroy(guest.uuid)
        with (
            self._peer_connection(source_host, guest.uuid, "revert the migration") as (
                sconn,
                source_pool,
            ),
            _translated(f"start again on host {source_host}", guest.uuid),
        ):
            if source_pool.volume(sconn, volume_name(guest.uuid)) is None:
                raise DriverError(
                    f"The disk of instance {guest.uuid} is no longer on host {source_host}"
                )
            dom = sconn.defineXML(self._peer_xml(guest, source_pool))
            if power_on:
                dom.create()

    def live_migrate(
        self, uuid: str, *, dest_host: str, monitor: MigrationMonitor | None = None
    ) -> None:
        """Nova's block live migration to another host's libvirtd (``LIBVIRT_PEERS``): the
        destination gets the base and an empty overlay of the same size in its own pool (Nova's
        ``pre_live_migration``), the domain moves with its memory and its overlay's blocks
        (``VIR_MIGRATE_NON_SHARED_INC``; the base is the same bytes on both sides), defined
        there and undefined here; then the source's disks and directory are removed."""
        dom = self._lookup(uuid)
        if dest_host == self.host:
            raise DriverError(f"Cannot live-migrate instance {uuid} to its own host {dest_host!r}")
        if not self.real:
            self._require_this_host(uuid, dest_host, "live-migrate")
        migrating = _translated(f"live-migrate to host {dest_host}", uuid)
        with (
            self._peer_connection(dest_host, uuid, "live-migrate") as (dconn, dest_pool),
            migrating,
        ):
            xml = self._prepare_destination(dom, uuid, dconn, dest_pool)
            flags = (
                libvirt.VIR_MIGRATE_LIVE
                | libvirt.VIR_MIGRATE_PERSIST_DEST
                | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
                | libvirt.VIR_MIGRATE_NON_SHARED_INC
            )
            params = {
                libvirt.VIR_MIGRATE_PARAM_DEST_XML: xml,
                libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS: ["vda"],
            }
            try:
                aborted = _migrate_watched(dom, dconn, params, flags, monitor)
            except libvirt.libvirtError as failure:
                with contextlib.suppress(libvirt.libvirtError):
                    dest_pool.delete(dconn, volume_name(uuid))
                if isinstance(failure.__cause__, MigrationAborted):
                    raise failure.__cause__ from None
                raise
            if aborted:  # the job ended before the abort reached it: it completed
                logger.info("live migration of %s completed before its abort took effect", uuid)
        self._remove_disks(uuid)

    def _prepare_destination(
        self, dom: libvirt.virDomain, uuid: str, dconn: libvirt.virConnect, dest_pool: DiskPool
    ) -> str:
        """The destination's disk (its base uploaded once, an overlay of the source's size) and
        the domain's XML with the destination's paths."""
        conn = self._connection()
        source = self._pool.volume(conn, volume_name(uuid))
        if source is None:
            raise DriverError(f"Instance {uuid} has no disk on host {self.host}")
        backing = ET.fromstring(source.XMLDesc(0)).find("backingStore")
        if backing is None:
            raise DriverError(f"The disk of instance {uuid} is not an overlay on a base")
        base_path = backing.findtext("path", "")
        fmt = backing.find("format")
        base_format = fmt.get("type", "qcow2") if fmt is not None else "qcow2"
        size_gb = -(-int(source.info()[1]) // (1 << 30))
        dest_path = dest_pool.create_overlay(
            dconn, volume_name(uuid), ImageFile(base_path, base_format), size_gb=size_gb
        )
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE))
        for disk in root.iterfind("devices/disk"):
            found = disk.find("source")
            if found is not None and found.get("file") == source.path():
                found.set("file", dest_path)
        log = _instance_dir_made(Path(dest_pool.path).parent, uuid)
        for device in root.iterfind("devices/serial/log"):
            device.set("file", log)
        return ET.tostring(root, encoding="unicode")

    # --- images and guest agents ----------------------------------------------------------
    def snapshot(self, uuid: str, *, image_name: str, target: str = "") -> None:
        """On a real host with a ``target``: Nova's cold snapshot. A running or paused guest's
        memory is saved (managed save: QEMU exits and lets go of its disk), the disk is
        flattened into a standalone qcow2 at ``target`` and the guest restored as it was.
        Otherwise a libvirt snapshot (internal, with memory if running) named after the image;
        a random suffix keeps repeated captures under one image name apart."""
        dom = self._lookup(uuid)
        if self.real and target:
            with _translated("snapshot", uuid):
                was_active = bool(dom.isActive())
                if was_active:
                    dom.managedSave(0)
                try:
                    self._pool.export(self._connection(), volume_name(uuid), Path(target))
                finally:
                    if was_active:
                        dom.create()  # restores the saved memory, running or paused
            return
        snapshot = ET.Element("domainsnapshot")
        element(snapshot, "name", f"{slug(image_name)}-{uuidlib.uuid4().hex[:8]}")
        element(snapshot, "description", image_name)
        with _translated("snapshot", uuid):
            dom.snapshotCreateXML(ET.tostring(snapshot, encoding="unicode"), 0)

    def upload_image(self, uuid: str, *, image_name: str) -> None:
        """No image service to hand the capture to: the snapshot stays with the domain."""
        self._lookup(uuid)

    def set_admin_password(self, uuid: str, *, password: str) -> None:
        """Through the QEMU guest agent, for ``root`` (Nova's choice for non-Windows images)."""
        dom = self._lookup(uuid)
        try:
            dom.setUserPassword("root", password, 0)
        except libvirt.libvirtError as exc:
            if _is(exc, libvirt.VIR_ERR_NO_DOMAIN):
                raise InstanceNotFoundOnHypervisor(uuid) from exc
            raise DriverError(
                f"Cannot set the admin password of instance {uuid}: it needs a running guest "
                f"with the QEMU guest agent ({exc.get_error_message()})"
            ) from exc

    def trigger_crash_dump(self, uuid: str) -> None:
        dom = self._lookup(uuid)
        with _translated("inject an NMI into", uuid):
            dom.injectNMI(0)


#: How often a live migration's job is read (Nova's ``_live_migration_monitor`` reads every
#: half second).
MIGRATION_POLL = 0.5


def _migrate_watched(
    dom: libvirt.virDomain,
    dconn: libvirt.virConnect,
    params: dict[str, Any],
    flags: int,
    monitor: MigrationMonitor | None,
) -> bool:
    """``migrate3`` in a thread of its own while this one reads the job's figures for
    ``monitor`` and carries out what it asks: an abort is ``abortJob`` (the migration then
    fails in libvirt, raised here with ``MigrationAborted`` as its cause), a force-complete
    pauses the guest so the memory copy converges (Nova's default without post-copy; the
    guest is resumed on the destination). Returns whether an abort was asked."""
    failure: list[libvirt.libvirtError] = []

    def transfer() -> None:
        try:
            dom.migrate3(dconn, params, flags)
        except libvirt.libvirtError as error:
            failure.append(error)

    thread = threading.Thread(target=transfer, name=f"migrate-{dom.UUIDString()}", daemon=True)
    thread.start()
    aborted = forced = False
    while thread.is_alive():
        thread.join(MIGRATION_POLL)
        if monitor is None or not thread.is_alive():
            continue
        with contextlib.suppress(libvirt.libvirtError):
            monitor.report(_figures(dom.jobStats()))
        wanted = monitor.requested()
        if wanted == "abort" and not aborted:
            aborted = True
            with contextlib.suppress(libvirt.libvirtError):
                dom.abortJob()
        elif wanted == "force_complete" and not forced:
            forced = True
            with contextlib.suppress(libvirt.libvirtError):
                dom.suspend()
    if failure:
        if aborted:
            raise failure[0] from MigrationAborted(dom.UUIDString())
        raise failure[0]
    if monitor is not None:
        # The last read was up to half a second before the end, with memory still to copy:
        # the record ends with the completed job's figures, which the source hands to the
        # destination in its migration cookie (the source's domain is undefined by now).
        with contextlib.suppress(libvirt.libvirtError):
            moved = dconn.lookupByUUIDString(dom.UUIDString())
            monitor.report(_figures(moved.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)))
    if forced:
        with contextlib.suppress(libvirt.libvirtError):
            moved = dconn.lookupByUUIDString(dom.UUIDString())
            if moved.info()[0] == libvirt.VIR_DOMAIN_PAUSED:
                moved.resume()
    return aborted


def _figures(stats: dict[str, Any]) -> dict[str, int]:
    """A job's memory and disk figures, by Nova's names (libvirt's own)."""
    return {k: int(v) for k, v in stats.items() if k.startswith(("memory_", "disk_"))}
