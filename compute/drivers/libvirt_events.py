"""What libvirt's states and events mean in Nova's terms, and the process's libvirt event loop.

Part of the libvirt driver (``compute.drivers.libvirt``): Nova's power-state mapping and
lifecycle-event reading (``nova/virt/libvirt/host.py``, ``driver.py``), and the one event-loop thread per
process that delivers every connection's events. The loop must be registered before the first
connection is opened, or that connection never delivers events.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import libvirt

from compute.drivers.base import Transition
from compute.states import PowerState

logger = logging.getLogger(__name__)

#: How long ``deregister_on_event_thread`` waits for the event-loop thread.
EVENT_LOOP_TIMEOUT = 5.0

#: Nova's ``LIBVIRT_POWER_STATE`` (``nova/virt/libvirt/driver.py``).
POWER_STATES: dict[int, int] = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    # Blocked only means the vCPUs are idle, waiting on I/O.
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    # Still shutting down: Nova already calls that SHUTDOWN.
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.SUSPENDED,
}


def power_state_of(domain_state: int) -> int:
    return int(POWER_STATES.get(domain_state, PowerState.NOSTATE))


def lifecycle_transition(event: int, detail: int, dom: libvirt.virDomain) -> Transition | None:
    """Nova's reading of a libvirt lifecycle event; ``None`` for events it ignores."""
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        return Transition.STOPPED
    if event == libvirt.VIR_DOMAIN_EVENT_STARTED:
        return Transition.STARTED
    if event == libvirt.VIR_DOMAIN_EVENT_RESUMED:
        return Transition.RESUMED
    if event != libvirt.VIR_DOMAIN_EVENT_SUSPENDED:
        return None  # defined, undefined, pmsuspended, crashed, shutdown-in-progress
    if detail == libvirt.VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY:
        return Transition.POSTCOPY_STARTED
    if detail == libvirt.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED and _migration_completed(dom):
        return Transition.MIGRATION_COMPLETED
    return Transition.PAUSED


def _migration_completed(dom: libvirt.virDomain) -> bool:
    # libvirt also pauses with detail MIGRATED when a migration *fails*, so only the outcome of
    # the last finished job tells the two apart. A driver without job stats: assume failure.
    try:
        stats = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    except libvirt.libvirtError:
        return False
    return stats.get("type") == libvirt.VIR_DOMAIN_JOB_COMPLETED


# --- process-wide libvirt setup ---------------------------------------------------------------
_setup_lock = threading.Lock()
_event_thread: threading.Thread | None = None


def _discard_libvirt_error(_ctx: object, _error: object) -> None:
    """libvirt's default handler prints every error to stderr, including the expected "no
    domain" of every lookup; the raised ``libvirtError`` carries the same text."""


def _run_event_loop() -> None:
    while True:
        if libvirt.virEventRunDefaultImpl() < 0:
            logger.error("libvirt event loop iteration failed")
            time.sleep(1)


def prepare_libvirt() -> None:
    """Once per process, before the first connection: quiet errors, start the event loop.

    The event implementation must be registered before a connection is opened, or that
    connection never delivers events; hence here and not in ``start_events``.
    """
    global _event_thread
    with _setup_lock:
        if _event_thread is not None:
            return
        libvirt.registerErrorHandler(_discard_libvirt_error, None)
        libvirt.virEventRegisterDefaultImpl()
        _event_thread = threading.Thread(target=_run_event_loop, name="libvirt-events", daemon=True)
        _event_thread.start()


def deregister_on_event_thread(conn: libvirt.virConnect, callback_id: int) -> None:
    """Remove the event callback from the event-loop thread while this thread waits.

    libvirt (9.0 at least) checks its event timer without a lock when it queues an
    event. If the last callback is removed while another thread queues one (as happens
    when a removal lands mid-dispatch and libvirt finishes it on the loop thread), the
    event is left in a queue whose timer is gone, and that event state never dispatches
    again. For ``test:///default`` the state is shared by the whole process. On the loop
    thread the removal cannot overlap a dispatch; on ``test://`` events are queued by the
    calling thread, which is blocked here meanwhile.
    """
    done = threading.Event()

    def deregister(timer: int, _opaque: object) -> None:
        libvirt.virEventRemoveTimeout(timer)  # one shot
        with contextlib.suppress(libvirt.libvirtError):  # a dead connection has none
            conn.domainEventDeregisterAny(callback_id)
        done.set()

    libvirt.virEventAddTimeout(0, deregister, None)
    if not done.wait(EVENT_LOOP_TIMEOUT):
        logger.warning("libvirt event loop did not remove callback %s in time", callback_id)
