"""Lifecycle events: the hypervisor says a guest started, stopped, paused …; the agent syncs
that one instance at once instead of waiting for the next pass (Nova's ``handle_lifecycle_event``).

Two halves, both driver-independent:

- ``LifecycleListener`` is the callback a driver calls, from whatever thread the driver's event
  source runs on (libvirt's event loop, the fake hypervisor's tail). It only queues, so it
  returns at once. It holds a STOPPED event for ``lifecycle_stopped_delay`` seconds (Nova's
  hard-coded 15) and drops it if any other event for the same guest arrives meanwhile: a
  reboot is STOPPED then STARTED and must not turn into a stop. Nova does this inside its
  libvirt host code; here it is done once for every driver. The agent delivers what is due from
  its own thread (``deliver_due``), where the database work happens.
- ``handle_event`` is Nova's ``handle_lifecycle_event``: map the event to the power state it
  promises, ask the driver for the guest's *current* state, and sync the instance only if they
  agree. An event that no longer describes the guest is stale and ignored; the next event or
  pass will catch up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from compute.drivers.base import ComputeDriver, LifecycleEvent, Transition
from compute.models import Host
from compute.states import PowerState
from compute.sync.passes import PowerChange, sync_instance

log = logging.getLogger("compute.lifecycle")

P = PowerState

#: The power state each event promises (Nova's mapping). STOPPED also accepts CRASHED: Nova's
#: libvirt guests are destroyed on a crash, so a crash reaches Nova as STOPPED + SHUTDOWN; the
#: fake hypervisor keeps CRASHED, and a crash must still be noticed at once.
EXPECTED_POWER: dict[Transition, frozenset[int]] = {
    Transition.STARTED: frozenset({P.RUNNING}),
    Transition.STOPPED: frozenset({P.SHUTDOWN, P.CRASHED}),
    Transition.PAUSED: frozenset({P.PAUSED}),
    Transition.POSTCOPY_STARTED: frozenset({P.PAUSED}),
    Transition.MIGRATION_COMPLETED: frozenset({P.PAUSED}),
    Transition.RESUMED: frozenset({P.RUNNING}),
    Transition.SUSPENDED: frozenset({P.SUSPENDED}),
}


def handle_event(
    event: LifecycleEvent, *, host: Host | str, driver: ComputeDriver
) -> PowerChange | None:
    """Sync the instance ``event`` names if the driver still agrees with the event."""
    expected = EXPECTED_POWER.get(event.transition)
    if expected is None:
        log.warning("unexpected lifecycle event %s for %s", event.transition, event.uuid)
        return None
    current = driver.get_power_state(event.uuid)
    if current not in expected:
        # Routine: a guest changed again before its event was handled (a reboot, a seeding run).
        log.debug(
            "ignoring stale lifecycle event %s for %s: the guest's power state is %s now",
            event.transition.name,
            event.uuid,
            current,
        )
        return None
    return sync_instance(host=host, driver=driver, instance_uuid=event.uuid, power=current)


class LifecycleListener:
    """The driver's event callback: queue each event, holding STOPPED back for a while.

    ``handle`` runs in the thread that calls ``deliver_due``, never in the driver's.
    ``clock`` is injectable so tests need not sleep.
    """

    def __init__(
        self,
        handle: Callable[[LifecycleEvent], object],
        *,
        stopped_delay: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._handle = handle
        self.stopped_delay = stopped_delay
        self._clock = clock
        self._lock = threading.Lock()
        self._ready: deque[LifecycleEvent] = deque()
        #: uuid → (when it is due, the held STOPPED event)
        self._held: dict[str, tuple[float, LifecycleEvent]] = {}

    def __call__(self, event: LifecycleEvent) -> None:
        with self._lock:
            # Any event for the guest cancels a STOPPED held for it (Nova: a reboot).
            if self._held.pop(event.uuid, None) is not None:
                log.debug(
                    "dropped a held STOPPED for %s: %s followed", event.uuid, event.transition
                )
            if event.transition is Transition.STOPPED and self.stopped_delay > 0:
                self._held[event.uuid] = (self._clock() + self.stopped_delay, event)
            else:
                self._ready.append(event)

    @property
    def pending(self) -> int:
        """Events waiting: ready to deliver or held."""
        with self._lock:
            return len(self._ready) + len(self._held)

    def due(self) -> list[LifecycleEvent]:
        """Take the events to deliver now: those ready, then the held STOPPEDs whose time came."""
        now = self._clock()
        with self._lock:
            taken = list(self._ready)
            self._ready.clear()
            for uuid, (when, event) in list(self._held.items()):
                if when <= now:
                    del self._held[uuid]
                    taken.append(event)
        return taken

    def deliver_due(self) -> int:
        """Handle every due event in this thread; one failing event never blocks the others."""
        delivered = 0
        for event in self.due():
            try:
                self._handle(event)
            except Exception:
                log.exception(
                    "handling lifecycle event %s of %s failed", event.transition, event.uuid
                )
            delivered += 1
        return delivered
