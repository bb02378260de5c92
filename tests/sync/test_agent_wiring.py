"""``compute.agent.periodic.attach``: the agent's periodic pass and its lifecycle listener, and the whole path from
``fake_guest`` through the fake hypervisor's events to a stop, in real threads."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from compute.agent import periodic
from compute.agent.agent import ComputeAgent
from compute.agent.periodic import PeriodicSync
from compute.agent.runner import build_agent
from compute.drivers.fake import FakeDriver
from compute.models import InstanceAction, PowerSyncPass
from compute.states import PowerState, VmState
from compute.sync.lifecycle import LifecycleListener
from tests.sync.conftest import reloaded, system_actions

P = PowerState
V = VmState


class RecordingDriver(FakeDriver):
    def __init__(self, *, host: str) -> None:
        super().__init__(host=host)
        self.callbacks: list[object] = []

    def start_events(self, callback, *, poll_interval: float = 0.25) -> None:  # type: ignore[override]
        self.callbacks.append(callback)


def a_bare_agent() -> ComputeAgent:
    return ComputeAgent(host="node9", driver=RecordingDriver(host="node9"))


def jobs(agent: ComputeAgent) -> list[object]:
    return [job for _, job in agent.periodic]


def test_attach_adds_the_periodic_sync_and_registers_a_lifecycle_listener():
    agent = a_bare_agent()

    periodic.attach(agent, interval=600)

    (listener,) = agent.driver.callbacks  # type: ignore[attr-defined]
    assert isinstance(listener, LifecycleListener)
    assert listener.stopped_delay == 15.0
    syncs = [j for j in jobs(agent) if isinstance(j, PeriodicSync)]
    assert len(syncs) == 1
    assert syncs[0].spacing == 600
    assert listener.deliver_due in jobs(agent)


def test_with_lifecycle_handling_off_nothing_is_registered(settings):
    settings.COMPUTE = {**settings.COMPUTE, "handle_virt_lifecycle_events": False}
    agent = a_bare_agent()

    periodic.attach(agent, interval=600)

    assert agent.driver.callbacks == []  # type: ignore[attr-defined]
    assert [type(j) for j in jobs(agent)] == [PeriodicSync]


def test_a_negative_interval_disables_the_periodic_sync_but_not_the_events():
    agent = a_bare_agent()

    periodic.attach(agent, interval=-1)

    assert not any(isinstance(j, PeriodicSync) for j in jobs(agent))
    assert len(agent.driver.callbacks) == 1  # type: ignore[attr-defined]


def test_the_stopped_delay_comes_from_the_settings(settings):
    settings.COMPUTE = {**settings.COMPUTE, "lifecycle_stopped_delay": 0.5}
    agent = a_bare_agent()

    periodic.attach(agent, interval=600)

    assert agent.driver.callbacks[0].stopped_delay == 0.5  # type: ignore[attr-defined]


def test_an_interval_of_zero_means_novas_default_spacing():
    agent = a_bare_agent()
    periodic.attach(agent, interval=0)
    (job,) = [j for j in jobs(agent) if isinstance(j, PeriodicSync)]
    assert job.spacing == 60.0


@pytest.mark.django_db
def test_the_periodic_job_syncs_at_once_then_waits_for_its_interval(agent):
    job = PeriodicSync(agent, interval=600)

    job()
    job()

    assert PowerSyncPass.objects.filter(host=agent.host).count() == 1


def test_build_agent_wires_the_sync_in(monkeypatch):
    monkeypatch.setattr(
        "compute.agent.runner.load_driver", lambda name, host, uri: RecordingDriver(host=host)
    )

    agent = build_agent(host="node7", driver="fake")

    assert any(isinstance(j, PeriodicSync) for j in jobs(agent))
    assert len(agent.driver.callbacks) == 1  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_a_guest_shut_down_with_fake_guest_is_stopped_within_seconds_by_the_agent(
    make_instance, agent, settings
):
    """The whole path in real threads: ``fake_guest`` → the fake hypervisor's event row → the
    agent's event tail → the held STOPPED → one-instance sync → a stop, run by the agent."""
    settings.COMPUTE = {**settings.COMPUTE, "lifecycle_stopped_delay": 0.3}
    instance = make_instance("active", name="web-1")
    periodic.attach(agent, interval=-1)
    agent.start()
    try:
        call_command("fake_guest", str(instance.uuid), "shutdown", stdout=io.StringIO())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = reloaded(instance)
            if after.vm_state == V.STOPPED and after.task_state is None:
                break
            time.sleep(0.05)
    finally:
        agent.stop()
    assert (after.vm_state, after.power_state) == (V.STOPPED, P.SHUTDOWN)
    (stop,) = system_actions(instance)
    assert stop.action == "stop"
    assert InstanceAction.objects.get(pk=stop.pk).finish_time is not None
