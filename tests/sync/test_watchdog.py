"""The watchdog's changes that come from time: a heartbeat expiring, a task that never ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compute import state_machine, watchdog
from compute.agent.executor import execute
from compute.models import ActionDispatch, ChangeEvent, Host, Instance
from compute.services import instance_action
from compute.states import TaskState, VmState
from compute.status import HostStatus
from tests.conftest import fresh
from tests.sync.conftest import create_without_task, reloaded

pytestmark = pytest.mark.django_db

V = VmState


def host_events(host: Host) -> list[ChangeEvent]:
    return list(ChangeEvent.objects.filter(kind=ChangeEvent.Kind.HOST, object_id=str(host.uuid)))


def silence(host: Host, seconds: float) -> None:
    """The agent stopped heart-beating ``seconds`` ago."""
    Host.objects.filter(pk=host.pk).update(last_seen_up=timezone.now() - timedelta(seconds=seconds))


# --- heartbeats -----------------------------------------------------------------------------


def test_a_host_whose_heartbeat_stops_turns_unknown_and_is_published_exactly_once(agent):
    host = agent.host
    assert Host.objects.get(pk=host.pk).published_status == HostStatus.UP
    before = len(host_events(host))
    silence(host, 61)  # service_down_time is 60 s

    assert watchdog.check_hosts() == 1
    assert watchdog.check_hosts() == 0  # nothing new on the next pass

    after = host_events(host)
    assert len(after) == before + 1
    assert after[-1].payload["host_status"] == HostStatus.UNKNOWN
    assert Host.objects.get(pk=host.pk).published_status == HostStatus.UNKNOWN


def test_a_fresh_heartbeat_is_not_published_again(agent):
    before = len(host_events(agent.host))
    silence(agent.host, 30)

    assert watchdog.check_hosts() == 0
    assert len(host_events(agent.host)) == before


def test_a_heartbeat_that_resumes_publishes_up_again(agent):
    silence(agent.host, 61)
    watchdog.check_hosts()

    agent.heartbeat()

    assert host_events(agent.host)[-1].payload["host_status"] == HostStatus.UP


def test_a_host_that_never_sent_a_heartbeat_expires_too(db):
    from compute.services.hosts import host_register, publish_status_if_changed

    host = host_register(host="node-silent")
    publish_status_if_changed(host)  # UP: judged by created_at, as Nova does
    assert Host.objects.get(pk=host.pk).published_status == HostStatus.UP
    Host.objects.filter(pk=host.pk).update(created_at=timezone.now() - timedelta(seconds=61))

    assert watchdog.check_hosts() == 1
    assert Host.objects.get(pk=host.pk).published_status == HostStatus.UNKNOWN


def test_a_disabled_host_stays_in_maintenance_when_its_heartbeat_stops(agent, admin_ctx):
    from compute.services.hosts import host_update

    host_update(context=admin_ctx, host=agent.host, status="disabled", disabled_reason="disk")
    before = len(host_events(agent.host))
    silence(agent.host, 61)

    assert watchdog.check_hosts() == 0
    assert len(host_events(agent.host)) == before


# --- stuck tasks ----------------------------------------------------------------------------


def started_ago(instance: Instance, seconds: float) -> None:
    """Move the task's clock back (not a state column)."""
    Instance.objects.filter(pk=instance.pk).update(
        task_started_at=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.fixture
def stuck_stop(make_instance, alice_ctx):
    """An active instance whose stop was accepted but never finished."""
    instance = make_instance("active")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="stop")
    assert reloaded(instance).task_state == TaskState.POWERING_OFF
    return instance


def test_a_task_past_its_timeout_is_reaped_like_an_admins_reset(stuck_stop):
    started_ago(stuck_stop, 601)  # stop's timeout is the default, 600 s
    version = reloaded(stuck_stop).version

    assert watchdog.reap_stuck_tasks() == 1

    after = reloaded(stuck_stop)
    assert (after.vm_state, after.task_state) == (V.ERROR, None)
    assert after.task_started_at is None
    assert after.version == version + 1
    fault = after.faults.get()
    assert "powering-off of stop ran longer than 600 s" in fault.message
    action = after.actions.get(action="stop")
    assert action.message == "Error"  # shows in the action log as a failed stop
    (event,) = action.events.all()
    assert event.result == "Error"
    assert "ran longer than 600 s" in event.details
    assert ActionDispatch.objects.get(action=action).state == ActionDispatch.State.FAILED
    # Published like any change.
    assert ChangeEvent.objects.filter(
        object_id=str(after.uuid), version=after.version, payload__vm_state=V.ERROR
    ).exists()


def test_a_task_within_its_timeout_is_left_alone(stuck_stop):
    started_ago(stuck_stop, 599)

    assert watchdog.reap_stuck_tasks() == 0
    assert reloaded(stuck_stop).task_state == TaskState.POWERING_OFF


def test_each_task_kind_has_its_own_timeout(stuck_stop, settings):
    settings.COMPUTE = {**settings.COMPUTE, "task_timeouts": {"stop": 30.0, "default": 9000.0}}
    started_ago(stuck_stop, 31)

    assert watchdog.reap_stuck_tasks() == 1
    assert "longer than 30 s" in reloaded(stuck_stop).faults.get().message


def test_a_reaped_task_the_agent_was_still_running_cannot_come_back(stuck_stop, agent):
    (dispatch,) = agent.claim(1)  # the agent took it, then hung in the driver
    started_ago(stuck_stop, 601)
    watchdog.reap_stuck_tasks()

    execute(agent.driver, ActionDispatch.objects.select_related("action").get(pk=dispatch.pk))

    after = reloaded(stuck_stop)
    assert (after.vm_state, after.task_state) == (V.ERROR, None)
    assert after.actions.get(action="stop").message == "Error"


def test_a_stuck_task_with_no_action_record_still_shows_in_the_action_log(agent, alice_ctx):
    instance = create_without_task(
        name="orphan", project_id=alice_ctx.project_id, host_id=agent.host.pk
    )
    state_machine.transition(
        instance, expected_task_state=None, task_state=TaskState.SPAWNING, new_task=True
    )
    started_ago(instance, 601)

    assert watchdog.reap_stuck_tasks() == 1

    after = reloaded(instance)
    assert (after.vm_state, after.task_state) == (V.ERROR, None)
    (action,) = after.actions.all()
    assert action.user_name == "system"
    assert action.client == "watchdog"
    assert action.message == "Error"
    assert "ran longer than" in action.events.get().details


def test_the_reaper_loses_gracefully_to_a_task_that_moves_on(stuck_stop, monkeypatch):
    started_ago(stuck_stop, 601)
    real = state_machine.transition

    def agent_moves_first(instance, **kwargs):
        agent_done = Instance.objects.get(pk=stuck_stop.pk)
        real(
            agent_done,
            expected_task_state=TaskState.POWERING_OFF,
            task_state=None,
            vm_state=V.STOPPED,
        )
        monkeypatch.setattr(state_machine, "transition", real)
        return real(instance, **kwargs)

    monkeypatch.setattr(state_machine, "transition", agent_moves_first)

    assert watchdog.reap_stuck_tasks() == 0
    after = reloaded(stuck_stop)
    assert (after.vm_state, after.task_state) == (V.STOPPED, None)
    assert not after.faults.exists()
