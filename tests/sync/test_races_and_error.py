"""Invariant 3: the sync never changes an instance with a task in progress — even one that starts
while the pass runs — and never sets or clears ERROR."""

from __future__ import annotations

import pytest

from compute import actions, state_machine
from compute.services import instance_action
from compute.states import PowerState, TaskState, VmState
from compute.sync import Correction
from tests.conftest import fresh
from tests.sync.conftest import reloaded, set_guest_power, sync_pass, system_actions

pytestmark = pytest.mark.django_db

P = PowerState
V = VmState


def test_an_action_that_starts_between_the_read_and_the_power_write_wins(
    instance_in, agent, alice_ctx, monkeypatch
):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)  # the pass will want power SHUTDOWN and a stop
    real_write = state_machine.set_power_states

    def user_acts_first(*, host_id, changes):
        # The pass has read the instance (no task) and decided; now alice hard-reboots it.
        instance_action(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="reboot_hard"
        )
        return real_write(host_id=host_id, changes=changes)

    monkeypatch.setattr(state_machine, "set_power_states", user_acts_first)
    record = sync_pass(agent)

    during = reloaded(instance)
    assert during.task_state == TaskState.REBOOTING_HARD
    assert during.power_state == P.RUNNING  # not overwritten by the pass
    assert system_actions(instance) == []  # and no stop trampling the reboot
    assert record.changes == []

    agent.run_pending()
    after = reloaded(instance)
    assert (after.vm_state, after.task_state, after.power_state) == (V.ACTIVE, None, P.RUNNING)


def test_an_action_that_starts_between_the_power_write_and_the_correction_wins(
    instance_in, agent, alice_ctx, monkeypatch
):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)
    real_read = agent.driver.get_power_state

    def user_acts_first(uuid: str) -> int:
        # The correction re-reads the driver just before it acts; alice is quicker.
        instance_action(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="reboot_hard"
        )
        return real_read(uuid)

    monkeypatch.setattr(agent.driver, "get_power_state", user_acts_first)
    record = sync_pass(agent)
    monkeypatch.undo()

    assert system_actions(instance) == []
    assert reloaded(instance).task_state == TaskState.REBOOTING_HARD
    assert record.changes[0]["action"] is None
    assert "changed meanwhile" in record.changes[0]["note"]
    agent.run_pending()
    assert reloaded(instance).vm_state == V.ACTIVE


def test_a_guest_that_came_back_before_the_correction_is_not_stopped(
    instance_in, agent, monkeypatch
):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)
    real_read = agent.driver.get_power_state

    def back_already(uuid: str) -> int:
        set_guest_power(instance, P.RUNNING)  # e.g. the guest rebooted
        return real_read(uuid)

    monkeypatch.setattr(agent.driver, "get_power_state", back_already)
    record = sync_pass(agent)

    assert system_actions(instance) == []
    assert "not corrected" in record.changes[0]["note"]


def test_a_user_action_after_the_sync_started_its_correction_is_refused_not_lost(
    instance_in, agent, alice_ctx
):
    from compute.exceptions import InstanceInvalidState

    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)
    sync_pass(agent)

    with pytest.raises(InstanceInvalidState, match="task_state powering-off"):
        instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause")


@pytest.mark.parametrize("power", [int(p) for p in P])
def test_error_is_never_overwritten_only_power_state_changes(instance_in, agent, power):
    instance = instance_in(V.ERROR)
    set_guest_power(instance, power)

    sync_pass(agent)
    agent.run_pending()

    after = reloaded(instance)
    assert after.vm_state == V.ERROR
    assert after.task_state is None
    assert after.power_state == power
    assert system_actions(instance) == []


@pytest.mark.parametrize("correction", [c for c in Correction if c.action])
def test_no_correction_can_end_in_error_even_when_it_fails(correction):
    # What the sync asks for ends stopped or deleted; a failure leaves vm_state as it was.
    spec = actions.get(correction.action)
    assert spec.result in (V.STOPPED, V.DELETED)
    assert not spec.error_on_failure
    assert spec.task_states == frozenset({None}) or spec.result == V.DELETED
