"""Building a fully wired agent: driver, periodic power-state sync, lifecycle events, the
cleanup of disks moved guests left."""

from __future__ import annotations

from compute.agent import periodic
from compute.agent.agent import ComputeAgent
from compute.conf import conf
from compute.drivers import load_driver


def build_agent(
    *, host: str, driver: str = "fake", uri: str = "", workers: int = 4
) -> ComputeAgent:
    hypervisor = load_driver(driver, host=host, uri=uri)
    agent = ComputeAgent(
        host=host, driver=hypervisor, workers=workers, poll_interval=conf().agent_poll_interval
    )
    periodic.attach(agent, interval=conf().sync_power_state_interval)
    periodic.attach_cleanup(agent)
    periodic.attach_sampler(agent)
    return agent
