"""Wiring the sync into a compute agent: the periodic pass and the lifecycle events.

``attach`` is what ``compute.agent.runner.build_agent`` calls; the sync itself
(``compute.sync``) knows nothing of agents. It only adds jobs to the agent's
``periodic`` list (the agent runs each in its own thread, logging and surviving failures) and,
unless ``handle_virt_lifecycle_events`` is off, registers a ``LifecycleListener`` with the driver.
With the setting off nothing is registered at all, as in Nova's ``init_virt_events``.
"""

from __future__ import annotations

import logging
import time
from functools import partial

from compute.agent.agent import ComputeAgent
from compute.conf import conf
from compute.diagnostics import sample_host
from compute.drivers.base import LifecycleEvent
from compute.models import Instance
from compute.states import VmState
from compute.sync import lifecycle
from compute.sync.passes import sync_host

log = logging.getLogger("compute.sync")

#: How often the agent looks whether a pass is due (the pass itself runs every ``interval``).
SYNC_TICK = 1.0
#: How often the agent delivers due lifecycle events; bounds the latency an event adds.
LIFECYCLE_TICK = 0.1
#: Nova: an interval of 0 means "the default periodic spacing", 60 s.
DEFAULT_SPACING = 60.0


class PeriodicSync:
    """The agent's sync job: a pass soon after the agent starts (as Nova does), then one every
    ``interval`` seconds."""

    def __init__(self, agent: ComputeAgent, *, interval: float) -> None:
        self.__name__ = "sync_power_states"
        self.agent = agent
        self.spacing = interval if interval > 0 else DEFAULT_SPACING
        self._next = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        # Scheduled before running, so a failing pass is retried one interval later.
        self._next = now + self.spacing
        sync_host(host=self.agent.host or self.agent.host_name, driver=self.agent.driver)


class MovedDiskCleanup:
    """Nova's ``_cleanup_incomplete_migrations``, for the disks a move leaves on its source:
    every ``interval`` seconds, the disks on this host without a guest whose instance now lives
    on another host, with no task in progress and no revert pending here, are removed (a
    confirmed resize or migration: confirmResize completes in the API, with no call here)."""

    def __init__(self, agent: ComputeAgent, *, interval: float) -> None:
        self.__name__ = "cleanup_moved_disks"
        self.agent = agent
        self.spacing = interval
        self._next = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.spacing
        orphans = self.agent.driver.disks_without_domain()
        if not orphans:
            return
        me = self.agent.host_name
        for instance in Instance.objects.filter(
            uuid__in=list(orphans), deleted_at__isnull=True, task_state__isnull=True
        ).select_related("host"):
            if instance.host is None or instance.host.host == me:
                continue
            if instance.vm_state == VmState.RESIZED and (
                (instance.system_metadata or {}).get("old_host") == me
            ):
                continue  # a revert would boot it here again
            log.info("removing the disks %s left on %s after moving", instance.uuid, me)
            self.agent.driver.remove_disks(str(instance.uuid))


def attach_cleanup(agent: ComputeAgent) -> None:
    """Add the cleanup of moved guests' disks (``instance_delete_interval`` > 0)."""
    spacing = conf().instance_delete_interval
    if spacing > 0:
        agent.periodic.append((min(SYNC_TICK, spacing), MovedDiskCleanup(agent, interval=spacing)))


class DiagnosticsSampler:
    """Every ``interval`` seconds, a reading of each running guest's diagnostics into the
    bounded sample table the instance page charts (``compute.diagnostics``)."""

    def __init__(self, agent: ComputeAgent, *, interval: float) -> None:
        self.__name__ = "sample_diagnostics"
        self.agent = agent
        self.spacing = interval
        self._next = 0.0
        self._previous: dict[str, object] = {}

    def __call__(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.spacing
        sample_host(host=self.agent.host_name, driver=self.agent.driver, previous=self._previous)


def attach_sampler(agent: ComputeAgent) -> None:
    """Add the diagnostics sampling (``diagnostics_interval`` > 0)."""
    spacing = conf().diagnostics_interval
    if spacing > 0:
        agent.periodic.append(
            (min(SYNC_TICK, spacing), DiagnosticsSampler(agent, interval=spacing))
        )


def attach(agent: ComputeAgent, *, interval: float) -> None:
    """Add the periodic sync (a negative interval disables it) and the lifecycle events."""
    if interval >= 0:
        tick = min(SYNC_TICK, interval) if interval > 0 else SYNC_TICK
        agent.periodic.append((tick, PeriodicSync(agent, interval=interval)))
    else:
        log.info("periodic power-state sync disabled for %s", agent.host_name)
    settings = conf()
    if not settings.handle_virt_lifecycle_events:
        log.info(
            "lifecycle events ignored on %s (handle_virt_lifecycle_events off)", agent.host_name
        )
        return
    listener = lifecycle.LifecycleListener(
        partial(_handle, agent), stopped_delay=settings.lifecycle_stopped_delay
    )
    agent.periodic.append((LIFECYCLE_TICK, listener.deliver_due))
    agent.driver.start_events(listener)


def _handle(agent: ComputeAgent, event: LifecycleEvent) -> None:
    lifecycle.handle_event(event, host=agent.host or agent.host_name, driver=agent.driver)
