"""One sync pass over the fake hypervisor, Nova's decision table row by row: the guest is changed
behind the dashboard's back, one pass runs, then the agent runs whatever the sync asked for."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from compute.context import system_context
from compute.drivers.fake import FakeDriver
from compute.exceptions import DriverError
from compute.models import ActionDispatch, FakeGuest, Host, Instance, PowerSyncPass
from compute.selectors import hosts_last_sync
from compute.services import instance_action
from compute.services.hosts import host_update
from compute.states import PowerState, VmState
from tests.conftest import fresh
from tests.sync.conftest import reloaded, set_guest_power, sync_pass, system_actions

pytestmark = pytest.mark.django_db

P = PowerState
V = VmState

#: (vm_state, the guest's power now, the correction's action key, vm_state once the agent ran it)
ROWS = [
    pytest.param(V.ACTIVE, P.SHUTDOWN, "stop", V.STOPPED, id="active+shutdown→stop"),
    pytest.param(V.ACTIVE, P.CRASHED, "stop", V.STOPPED, id="active+crashed→stop"),
    pytest.param(V.ACTIVE, P.SUSPENDED, "stop", V.STOPPED, id="active+suspended→stop"),
    pytest.param(V.ACTIVE, P.PAUSED, None, V.ACTIVE, id="active+paused→ignored"),
    pytest.param(V.ACTIVE, P.NOSTATE, None, V.ACTIVE, id="active+vanished→logged"),
    pytest.param(V.STOPPED, P.RUNNING, "forceStop", V.STOPPED, id="stopped+running→force-stop"),
    pytest.param(V.STOPPED, P.PAUSED, "forceStop", V.STOPPED, id="stopped+paused→force-stop"),
    pytest.param(V.STOPPED, P.SUSPENDED, "forceStop", V.STOPPED, id="stopped+suspended→force-stop"),
    pytest.param(V.STOPPED, P.CRASHED, None, V.STOPPED, id="stopped+crashed→power-only"),
    pytest.param(V.STOPPED, P.NOSTATE, None, V.STOPPED, id="stopped+vanished→power-only"),
    pytest.param(V.PAUSED, P.SHUTDOWN, "forceStop", V.STOPPED, id="paused+shutdown→force-stop"),
    pytest.param(V.PAUSED, P.CRASHED, "forceStop", V.STOPPED, id="paused+crashed→force-stop"),
    pytest.param(V.PAUSED, P.RUNNING, None, V.PAUSED, id="paused+running→power-only"),
    pytest.param(V.BUILDING, P.RUNNING, None, V.BUILDING, id="building→power-only"),
    pytest.param(V.RESCUED, P.SHUTDOWN, None, V.RESCUED, id="rescued→power-only"),
    pytest.param(V.RESIZED, P.SHUTDOWN, None, V.RESIZED, id="resized→power-only"),
    pytest.param(V.SUSPENDED, P.RUNNING, None, V.SUSPENDED, id="suspended→power-only"),
    pytest.param(V.ERROR, P.SHUTDOWN, None, V.ERROR, id="error+shutdown→power-only"),
    pytest.param(V.SHELVED, P.RUNNING, None, V.SHELVED, id="shelved→power-only"),
    pytest.param(V.SOFT_DELETED, P.RUNNING, None, V.SOFT_DELETED, id="soft-deleted+running→logged"),
]


@pytest.mark.parametrize(("vm_state", "power", "correction", "final"), ROWS)
def test_one_pass_applies_novas_decision_table(
    instance_in, agent, vm_state, power, correction, final
):
    instance = instance_in(vm_state)
    assert instance.vm_state == vm_state
    assert instance.task_state is None
    set_guest_power(instance, power)

    record = sync_pass(agent)

    synced = reloaded(instance)
    assert synced.power_state == power  # always copied from the driver first
    actions = system_actions(instance)
    if correction is None:
        assert actions == []
        assert synced.vm_state == vm_state
        assert synced.task_state is None
    else:
        # The correction went through the normal action path, as the system user.
        assert [a.action for a in actions] == ["stop"]
        assert actions[0].user_id is None
        assert actions[0].client == "sync"
        assert ActionDispatch.objects.get(action=actions[0]).kind == correction
        assert synced.task_state == "powering-off"
    assert [c["action"] for c in record.changes] == [correction]
    assert record.checked == 1

    agent.run_pending()
    done = reloaded(instance)
    assert done.vm_state == final
    assert done.task_state is None
    if correction is not None:
        assert done.power_state == P.SHUTDOWN
        assert actions[0].events.get().result == "Success"


@pytest.mark.parametrize("power", [P.SHUTDOWN, P.CRASHED])
def test_active_instance_with_shutdown_terminate_is_deleted_when_its_guest_goes_off(
    instance_in, agent, power
):
    instance = instance_in(V.ACTIVE)
    Instance.objects.filter(pk=instance.pk).update(shutdown_terminate=True)
    set_guest_power(instance, power)

    sync_pass(agent)

    assert [a.action for a in system_actions(instance)] == ["delete"]
    agent.run_pending()
    gone = reloaded(instance)
    assert gone.vm_state == V.DELETED
    assert gone.deleted_at is not None
    assert not FakeGuest.objects.filter(uuid=str(instance.uuid)).exists()


def test_an_instance_in_step_with_its_guest_is_left_untouched(instance_in, agent):
    instance = instance_in(V.ACTIVE)
    version = instance.version

    record = sync_pass(agent)

    assert reloaded(instance).version == version
    assert record.changes == []
    assert record.checked == 1
    assert record.error == ""


def test_an_instance_with_a_task_in_progress_is_skipped(instance_in, agent, alice_ctx):
    instance = instance_in(V.ACTIVE)
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause")
    set_guest_power(instance, P.SHUTDOWN)

    record = sync_pass(agent)

    skipped = reloaded(instance)
    assert skipped.task_state == "pausing"
    assert skipped.power_state == P.RUNNING
    assert system_actions(instance) == []
    assert record.changes == []


def test_a_locked_instance_is_corrected_all_the_same(instance_in, agent, alice_ctx):
    instance = instance_in(V.ACTIVE)
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="lock")
    set_guest_power(instance, P.SHUTDOWN)

    sync_pass(agent)

    assert [a.action for a in system_actions(instance)] == ["stop"]


def test_the_sync_never_starts_a_guest(instance_in, agent):
    instance = instance_in(V.STOPPED)

    sync_pass(agent)
    agent.run_pending()

    assert FakeGuest.objects.get(uuid=str(instance.uuid)).state == P.SHUTDOWN
    assert system_actions(instance) == []


def test_a_failed_correction_leaves_vm_state_as_it_was_and_never_sets_error(instance_in, agent):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)
    FakeDriver.fail_next(host="node1", operation="power_off", message="the power button is stuck")

    sync_pass(agent)
    agent.run_pending()

    after = reloaded(instance)
    assert after.vm_state == V.ACTIVE
    assert after.task_state is None
    assert after.power_state == P.SHUTDOWN
    (action,) = system_actions(instance)
    assert action.message == "Error"
    assert after.faults.get().message == "the power button is stuck"


def test_warnings_are_logged_for_the_rows_nova_only_logs(instance_in, agent, caplog):
    paused_outside = instance_in(V.ACTIVE, name="paused-outside")
    set_guest_power(paused_outside, P.PAUSED)

    with caplog.at_level(logging.WARNING, logger="compute.sync"):
        record = sync_pass(agent)

    assert "paused by something else" in caplog.text
    (change,) = record.changes
    assert change["instance"] == str(paused_outside.uuid)
    assert change["power_state"] == [P.RUNNING, P.PAUSED]
    assert change["action"] is None


def test_guests_the_database_does_not_know_are_reported(instance_in, agent, caplog):
    stranger = "0d2c7c2e-0000-4000-8000-00000000beef"
    FakeGuest.objects.create(uuid=stranger, host="node1", name="stranger", state=P.RUNNING)
    deleted = instance_in(V.ACTIVE, name="deleted-but-running")
    # The host goes down, the instance is deleted locally, its guest stays (Nova's local delete).
    admin = fresh(system_context("test"))
    assert agent.host is not None
    host_update(context=admin, host=agent.host, forced_down=True)
    instance_action(context=admin, instance_uuid=str(deleted.uuid), action="delete")
    host_update(context=admin, host=agent.host, forced_down=False)

    with caplog.at_level(logging.WARNING, logger="compute.sync"):
        record = sync_pass(agent)

    expected = [
        {"uuid": stranger, "power_state": P.RUNNING, "note": ""},
        {"uuid": str(deleted.uuid), "power_state": P.RUNNING, "note": "instance deleted"},
    ]
    assert record.unknown_guests == sorted(expected, key=lambda g: g["uuid"])
    assert "deleted but its guest is still there" in caplog.text
    assert record.checked == 0


def test_an_offloaded_instance_has_no_host_and_is_never_read(instance_in, agent):
    instance = instance_in(V.SHELVED_OFFLOADED)
    assert instance.host_id is None

    record = sync_pass(agent)

    assert record.checked == 0
    assert reloaded(instance).version == instance.version


def test_corrections_wait_while_the_host_is_not_up(instance_in, agent):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)
    long_ago = timezone.now() - timedelta(hours=1)
    Host.objects.filter(pk=instance.host_id).update(last_seen_up=long_ago)

    record = sync_pass(agent)

    assert reloaded(instance).power_state == P.SHUTDOWN
    assert system_actions(instance) == []
    assert "deferred" in record.changes[0]["note"]


def test_each_pass_is_recorded_and_shown_by_the_host_selector(instance_in, agent):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)

    first = sync_pass(agent)
    second = sync_pass(agent)

    assert agent.host is not None
    assert hosts_last_sync([agent.host])[agent.host.pk] == second
    assert first.duration_ms >= 0
    assert first.started_at <= second.started_at
    assert first.changes == [
        {
            "instance": str(instance.uuid),
            "name": instance.name,
            "vm_state": V.ACTIVE,
            "power_state": [P.RUNNING, P.SHUTDOWN],
            "action": "stop",
            "note": "the guest shut down or crashed behind the dashboard's back",
        }
    ]
    assert second.changes == []  # the stop is in progress: the instance is skipped
    assert PowerSyncPass.objects.filter(host=agent.host).count() == 2


def test_a_driver_that_cannot_list_its_guests_records_the_error_and_changes_nothing(
    instance_in, agent, monkeypatch
):
    instance = instance_in(V.ACTIVE)

    def broken() -> dict[str, int]:
        raise DriverError("hypervisor not ready")

    monkeypatch.setattr(agent.driver, "list_power_states", broken)
    record = sync_pass(agent)

    assert record.error == "hypervisor not ready"
    assert record.checked == 0
    assert reloaded(instance).version == instance.version
