"""The contract every hypervisor driver keeps (Nova's ``nova/virt/driver.py``, cut down).

A driver speaks hypervisor verbs about guests identified by the instance's uuid. It never touches
the dashboard's tables: the agent calls it and turns what it did into state transitions. Every
method below is called from one agent thread at a time per guest; a method either completes or
raises ``DriverError`` (``InstanceNotFoundOnHypervisor`` for a guest it does not have).

Power states are Nova's integers (``compute.states.PowerState``); a guest the hypervisor does
not have is ``NOSTATE``.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from compute.drivers.diagnostics import GuestDiagnostics
from compute.exceptions import ConsoleNotAvailable, ConsoleTypeUnavailable, NotImplementedFeature


class Transition(enum.IntEnum):
    """Nova's virt lifecycle events (``nova/virt/event.py``)."""

    STARTED = 0
    STOPPED = 1
    PAUSED = 2
    RESUMED = 3
    SUSPENDED = 4
    POSTCOPY_STARTED = 5
    MIGRATION_COMPLETED = 6


@dataclass(frozen=True)
class LifecycleEvent:
    uuid: str
    transition: Transition
    #: time.monotonic() when the hypervisor emitted it.
    emitted_at: float


@dataclass(frozen=True)
class GuestSpec:
    """What a driver needs to create or reshape a guest."""

    uuid: str
    name: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    image: str
    #: The image's bytes on this host (``compute.image_store``); "" for a catalogue entry
    #: without a file, which only drivers that need no disk (fake, libvirt's test://) boot.
    image_file: str = ""
    image_format: str = "qcow2"


EventCallback = Callable[[LifecycleEvent], None]


class MigrationMonitor(Protocol):
    """The agent's side of a live migration in progress, handed to ``live_migrate``: where
    the driver reports its figures, and where it learns what an admin asked of the migration
    (Nova's ``live_migration_abort`` and ``live_migration_force_complete``)."""

    def report(self, figures: Mapping[str, int]) -> None:
        """Memory and disk figures in bytes, by Nova's names (``memory_total``,
        ``memory_processed``, ``memory_remaining``, ``disk_total``, …)."""

    def requested(self) -> str:
        """ "abort", "force_complete", or "" while nobody asked anything."""


@dataclass(frozen=True)
class ConsoleTarget:
    """Where a remote console connects (Nova's ``ConsoleVNC`` / ``ConsoleSerial``).

    ``kind``: ``"tcp"`` — the hypervisor's VNC server at ``host``:``port``, which the console
    socket proxies; ``"fake"`` — the fake hypervisor's framebuffer, drawn by the socket itself;
    ``"serial"`` — the guest's serial console through its host's agent (``compute.consoles``).
    """

    kind: str
    host: str = ""
    port: int = 0


class ComputeDriver(abc.ABC):
    #: Nova's hypervisor_type.
    hypervisor_type: str = ""

    def __init__(self, *, host: str) -> None:
        self.host = host

    # --- reading -----------------------------------------------------------------------
    @abc.abstractmethod
    def list_power_states(self) -> dict[str, int]:
        """Every guest on this host, uuid → power_state, in one call (the sync's read)."""

    @abc.abstractmethod
    def get_power_state(self, uuid: str) -> int:
        """One guest's power state now, uncached; NOSTATE if the hypervisor lacks it."""

    # --- lifecycle ---------------------------------------------------------------------
    @abc.abstractmethod
    def spawn(self, guest: GuestSpec, *, power_on: bool = True) -> None:
        """Create the guest from its image and (by default) start it. Re-spawning an existing
        guest replaces it, so a build interrupted by a crash can simply be run again."""

    @abc.abstractmethod
    def destroy(self, uuid: str) -> None:
        """Power off and remove the guest. A guest that is already gone is not an error."""

    @abc.abstractmethod
    def power_off(self, uuid: str, *, timeout: float) -> None:
        """Ask the guest OS to shut down, wait up to ``timeout`` seconds, then pull the plug."""

    @abc.abstractmethod
    def power_on(self, uuid: str) -> None:
        """Start a shut-down guest; a running guest is left running."""

    @abc.abstractmethod
    def reboot_soft(self, uuid: str) -> None:
        """Ask the guest OS to restart."""

    @abc.abstractmethod
    def reboot_hard(self, guest: GuestSpec) -> None:
        """Power-cycle; re-create the guest if the hypervisor lost it (as Nova's fake does)."""

    @abc.abstractmethod
    def pause(self, uuid: str) -> None:
        """Freeze the vCPUs; memory stays resident (libvirt ``suspend``)."""

    @abc.abstractmethod
    def unpause(self, uuid: str) -> None:
        """Let a paused guest run (libvirt ``resume``)."""

    @abc.abstractmethod
    def suspend(self, uuid: str) -> None:
        """Save memory to disk and stop the guest (libvirt managed save)."""

    @abc.abstractmethod
    def resume(self, uuid: str) -> None:
        """Restore a suspended guest from its saved memory and run it."""

    @abc.abstractmethod
    def rescue(self, uuid: str, *, image: str, image_file: str = "") -> None:
        """Boot the guest from a rescue image (``image_file``, its bytes, where the driver
        needs them) with its own disk attached."""

    @abc.abstractmethod
    def unrescue(self, uuid: str) -> None:
        """Boot the guest from its own disk again."""

    @abc.abstractmethod
    def rebuild(self, guest: GuestSpec) -> None:
        """Re-create the guest's disk from ``guest.image`` and start it."""

    # --- moving ------------------------------------------------------------------------
    @abc.abstractmethod
    def migrate_disk_and_power_off(self, guest: GuestSpec, *, dest_host: str) -> None:
        """First half of a resize or cold migration: stop the guest and copy its disk."""

    @abc.abstractmethod
    def finish_migration(self, guest: GuestSpec, *, dest_host: str, power_on: bool) -> None:
        """Second half: the guest, with ``guest``'s flavor, now lives on ``dest_host``."""

    @abc.abstractmethod
    def finish_revert_migration(
        self, guest: GuestSpec, *, source_host: str, power_on: bool
    ) -> None:
        """Undo a resize or migration: the guest with its old flavor back on ``source_host``."""

    @abc.abstractmethod
    def live_migrate(
        self, uuid: str, *, dest_host: str, monitor: MigrationMonitor | None = None
    ) -> None:
        """Move a running or paused guest to ``dest_host`` without stopping it, reporting its
        figures to ``monitor`` as the transfer goes. An abort the monitor asks for stops the
        transfer and raises ``MigrationAborted`` with the guest running here; a force-complete
        makes it converge now."""

    # --- images and guest agents -------------------------------------------------------
    @abc.abstractmethod
    def snapshot(self, uuid: str, *, image_name: str, target: str = "") -> None:
        """Capture the guest's disk; with ``target``, as a standalone image file there (the
        image store's file for the new image). The guest ends in the power state it had."""

    @abc.abstractmethod
    def upload_image(self, uuid: str, *, image_name: str) -> None:
        """Hand a captured disk to the image service."""

    @abc.abstractmethod
    def set_admin_password(self, uuid: str, *, password: str) -> None:
        """Set the guest's administrator password through its agent."""

    @abc.abstractmethod
    def trigger_crash_dump(self, uuid: str) -> None:
        """Inject an NMI so the guest kernel writes a crash dump."""

    # --- consoles ----------------------------------------------------------------------
    # Called by the host's console worker (``compute.consoles.hub``), one call at a time.
    # Output a guest prints is handed to ``compute.consoles.bus.publish``.
    def console_output(self, uuid: str) -> str:
        """The guest's serial console log (Nova's ``get_console_output``), its last 100 KiB at
        most; "" where the guest has printed nothing yet."""
        raise ConsoleNotAvailable()

    def console_input(self, uuid: str, data: str) -> None:
        """Type ``data`` at the guest's serial console."""
        raise ConsoleNotAvailable()

    def remote_console(self, uuid: str, protocol: str) -> ConsoleTarget:
        """Where a ``protocol`` ("vnc" or "serial") console of the guest connects; raises
        ``ConsoleTypeUnavailable`` where the guest has none."""
        raise ConsoleTypeUnavailable(console_type=protocol)

    def get_diagnostics(self, uuid: str) -> GuestDiagnostics:
        """The guest's figures now (Nova's ``get_instance_diagnostics``)."""
        raise NotImplementedFeature()

    def console_flush(self) -> None:  # noqa: B027 - optional hook
        """Write what the consoles printed and is not yet logged (called when the host's
        console worker is idle). Drivers that log at once keep this default."""

    def console_watch(self, uuid: str) -> None:  # noqa: B027 - optional hook
        """Somebody looks at the console: publish what the guest prints for the next minutes
        (renewed while they look). Drivers that always publish keep this default."""

    # --- files left by moves ------------------------------------------------------------
    def disks_without_domain(self) -> set[str]:
        """Uuids whose disks are on this host with no guest defined for them (a move's source
        copy, kept for a revert). Drivers without disks of their own have none."""
        return set()

    def remove_disks(self, uuid: str) -> None:  # noqa: B027 - optional hook
        """Remove what ``disks_without_domain`` named for ``uuid``."""

    # --- events ------------------------------------------------------------------------
    def start_events(self, callback: EventCallback) -> None:  # noqa: B027 - optional hook
        """Call ``callback`` for each lifecycle event until ``stop_events``. Drivers that emit
        no events keep this default; the periodic sync then catches every change."""

    def stop_events(self) -> None:  # noqa: B027 - optional hook
        """Stop delivering events."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
