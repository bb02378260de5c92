"""Lifecycle events: the instance an event names is synced at once, a stale event is ignored,
and a STOPPED is held back long enough for a reboot's STARTED to cancel it."""

from __future__ import annotations

import logging

import pytest

from compute.drivers.base import LifecycleEvent, Transition
from compute.states import PowerState, VmState
from compute.sync.lifecycle import EXPECTED_POWER, LifecycleListener, handle_event
from tests.sync.conftest import reloaded, set_guest_power, system_actions

P = PowerState
V = VmState
T = Transition
GUEST = "3f1c9d1e-0000-4000-8000-000000000001"
OTHER = "3f1c9d1e-0000-4000-8000-000000000002"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def event(transition: Transition, uuid: str = GUEST) -> LifecycleEvent:
    return LifecycleEvent(uuid, transition, 0.0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def delivered() -> list[LifecycleEvent]:
    return []


@pytest.fixture
def listener(clock: Clock, delivered: list[LifecycleEvent]) -> LifecycleListener:
    return LifecycleListener(delivered.append, stopped_delay=15.0, clock=clock)


# --- the hold on STOPPED (no database) ------------------------------------------------------


def test_stopped_is_held_for_the_delay_then_delivered(listener, clock, delivered):
    listener(event(T.STOPPED))

    clock.now += 14.9
    assert listener.deliver_due() == 0
    clock.now += 0.1
    assert listener.deliver_due() == 1
    assert [e.transition for e in delivered] == [T.STOPPED]
    assert listener.pending == 0


def test_stopped_followed_by_started_within_the_delay_is_dropped(listener, clock, delivered):
    listener(event(T.STOPPED))
    clock.now += 3
    listener(event(T.STARTED))  # a reboot

    listener.deliver_due()
    clock.now += 60
    listener.deliver_due()

    assert [e.transition for e in delivered] == [T.STARTED]


@pytest.mark.parametrize("follower", [t for t in T if t is not T.STOPPED])
def test_any_other_event_for_the_guest_cancels_a_held_stopped(listener, clock, delivered, follower):
    listener(event(T.STOPPED))
    listener(event(follower))
    clock.now += 60
    listener.deliver_due()

    assert [e.transition for e in delivered] == [follower]


def test_an_event_for_another_guest_does_not_cancel_a_held_stopped(listener, clock, delivered):
    listener(event(T.STOPPED, GUEST))
    listener(event(T.STARTED, OTHER))
    clock.now += 15
    listener.deliver_due()

    assert [(e.uuid, e.transition) for e in delivered] == [(OTHER, T.STARTED), (GUEST, T.STOPPED)]


def test_a_second_stopped_restarts_the_hold(listener, clock, delivered):
    listener(event(T.STOPPED))
    clock.now += 10
    listener(event(T.STOPPED))
    clock.now += 10
    assert listener.deliver_due() == 0
    clock.now += 5
    assert listener.deliver_due() == 1


@pytest.mark.parametrize("transition", [t for t in T if t is not T.STOPPED])
def test_other_events_are_delivered_at_once(listener, delivered, transition):
    listener(event(transition))
    assert listener.deliver_due() == 1
    assert delivered[0].transition is transition


def test_with_no_delay_stopped_is_delivered_at_once(clock, delivered):
    listener = LifecycleListener(delivered.append, stopped_delay=0, clock=clock)
    listener(event(T.STOPPED))
    assert listener.deliver_due() == 1


def test_a_failing_handler_does_not_block_the_next_events(clock, caplog):
    seen = []

    def handle(e: LifecycleEvent) -> None:
        seen.append(e.uuid)
        if e.uuid == GUEST:
            raise RuntimeError("boom")

    listener = LifecycleListener(handle, stopped_delay=15, clock=clock)
    listener(event(T.STARTED, GUEST))
    listener(event(T.STARTED, OTHER))
    with caplog.at_level(logging.ERROR, logger="compute.lifecycle"):
        assert listener.deliver_due() == 2
    assert seen == [GUEST, OTHER]
    assert "boom" in caplog.text


def test_every_nova_transition_promises_a_power_state():
    assert set(EXPECTED_POWER) == set(T)
    assert EXPECTED_POWER[T.STOPPED] >= {P.SHUTDOWN}
    assert EXPECTED_POWER[T.STARTED] == {P.RUNNING}
    assert EXPECTED_POWER[T.PAUSED] == {P.PAUSED}


# --- handling an event (fake hypervisor) ----------------------------------------------------


@pytest.mark.django_db
def test_a_stopped_event_stops_the_active_instance_at_once(instance_in, agent):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)

    change = handle_event(event(T.STOPPED, str(instance.uuid)), host="node1", driver=agent.driver)

    assert change is not None
    assert change["action"] == "stop"
    assert reloaded(instance).power_state == P.SHUTDOWN
    assert [a.action for a in system_actions(instance)] == ["stop"]
    agent.run_pending()
    assert reloaded(instance).vm_state == V.STOPPED


@pytest.mark.django_db
def test_a_crash_is_noticed_through_its_stopped_event(instance_in, agent):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.CRASHED)

    handle_event(event(T.STOPPED, str(instance.uuid)), host="node1", driver=agent.driver)

    assert [a.action for a in system_actions(instance)] == ["stop"]


@pytest.mark.django_db
def test_a_stale_stopped_event_is_ignored(instance_in, agent):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)
    set_guest_power(instance, P.RUNNING)  # back before the event was handled

    change = handle_event(event(T.STOPPED, str(instance.uuid)), host="node1", driver=agent.driver)

    assert change is None
    assert system_actions(instance) == []
    assert reloaded(instance).version == instance.version


@pytest.mark.django_db
def test_a_stale_started_event_does_not_write_power_state(instance_in, agent):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)  # the STARTED below is older than this

    handle_event(event(T.STARTED, str(instance.uuid)), host="node1", driver=agent.driver)

    assert reloaded(instance).power_state == P.RUNNING  # untouched: the next pass will see
    assert system_actions(instance) == []


@pytest.mark.django_db
def test_an_event_for_a_guest_with_no_instance_here_is_dropped(agent):
    assert handle_event(event(T.STARTED), host="node1", driver=agent.driver) is None


@pytest.mark.django_db
def test_an_event_for_an_instance_with_a_task_in_progress_changes_nothing(
    instance_in, agent, alice_ctx
):
    from compute.services import instance_action
    from tests.conftest import fresh

    instance = instance_in(V.ACTIVE)
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="stop")
    set_guest_power(instance, P.SHUTDOWN)

    handle_event(event(T.STOPPED, str(instance.uuid)), host="node1", driver=agent.driver)

    assert reloaded(instance).task_state == "powering-off"
    assert reloaded(instance).power_state == P.RUNNING
    assert system_actions(instance) == []


@pytest.mark.django_db
def test_a_reboot_seen_as_stopped_then_started_does_not_stop_the_instance(
    instance_in, agent, clock
):
    instance = instance_in(V.ACTIVE)
    listener = LifecycleListener(
        lambda e: handle_event(e, host="node1", driver=agent.driver),
        stopped_delay=15.0,
        clock=clock,
    )
    set_guest_power(instance, P.SHUTDOWN)
    listener(event(T.STOPPED, str(instance.uuid)))
    clock.now += 2
    set_guest_power(instance, P.RUNNING)
    listener(event(T.STARTED, str(instance.uuid)))

    listener.deliver_due()
    clock.now += 30
    listener.deliver_due()

    after = reloaded(instance)
    assert (after.vm_state, after.power_state) == (V.ACTIVE, P.RUNNING)
    assert system_actions(instance) == []


@pytest.mark.django_db
def test_a_real_shutdown_is_acted_on_once_the_delay_has_passed(instance_in, agent, clock):
    instance = instance_in(V.ACTIVE)
    listener = LifecycleListener(
        lambda e: handle_event(e, host="node1", driver=agent.driver),
        stopped_delay=15.0,
        clock=clock,
    )
    set_guest_power(instance, P.SHUTDOWN)
    listener(event(T.STOPPED, str(instance.uuid)))

    listener.deliver_due()
    assert system_actions(instance) == []  # held
    clock.now += 15
    listener.deliver_due()
    assert [a.action for a in system_actions(instance)] == ["stop"]
