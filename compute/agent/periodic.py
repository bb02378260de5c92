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
from compute.drivers.base import LifecycleEvent
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
