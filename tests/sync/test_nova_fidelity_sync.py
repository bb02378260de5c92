"""Where the sync followed its own rule rather than Nova's (``_sync_instance_power_state``,
``_stop_unexpected_shutdown_instance``, ``handle_lifecycle_event``), each case as Nova does it."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from compute.drivers.base import LifecycleEvent, Transition
from compute.models import Host, Instance
from compute.services import instance_action
from compute.states import PowerState, VmState
from compute.sync.lifecycle import handle_event
from tests.conftest import fresh
from tests.sync.conftest import reloaded, set_guest_power, sync_pass, system_actions

pytestmark = pytest.mark.django_db

P = PowerState
V = VmState


def reads_back(agent, monkeypatch, instance, power: int) -> list[str]:
    """From now on the driver's fresh read of ``instance`` says ``power``; the uuids it was
    asked about are returned (the pass's own listing is not a fresh read)."""
    asked: list[str] = []
    real_read = agent.driver.get_power_state

    def fresh_read(uuid: str) -> int:
        asked.append(uuid)
        if uuid == str(instance.uuid):
            set_guest_power(instance, power)
        return real_read(uuid)

    monkeypatch.setattr(agent.driver, "get_power_state", fresh_read)
    return asked


def test_an_active_instance_whose_guest_is_off_is_stopped_only_if_the_fresh_read_still_says_off(
    instance_in, agent, monkeypatch
):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SHUTDOWN)
    asked = reads_back(agent, monkeypatch, instance, P.SUSPENDED)

    record = sync_pass(agent)

    # Nova re-reads SUSPENDED: not SHUTDOWN or CRASHED any more, so it does nothing.
    assert asked == [str(instance.uuid)]
    assert system_actions(instance) == []
    assert "not corrected: the guest is suspended now" in record.changes[0]["note"]


def test_an_active_instance_whose_guest_is_suspended_is_stopped_without_a_fresh_read(
    instance_in, agent, monkeypatch
):
    instance = instance_in(V.ACTIVE)
    set_guest_power(instance, P.SUSPENDED)
    asked = reads_back(agent, monkeypatch, instance, P.RUNNING)

    sync_pass(agent)

    # Nova calls stop at once for ACTIVE + SUSPENDED, whatever the guest does meanwhile.
    assert asked == []
    assert [a.action for a in system_actions(instance)] == ["stop"]


def test_a_stopped_instance_whose_guest_runs_is_force_stopped_without_a_fresh_read(
    instance_in, agent, monkeypatch
):
    instance = instance_in(V.STOPPED)
    set_guest_power(instance, P.RUNNING)
    asked = reads_back(agent, monkeypatch, instance, P.SHUTDOWN)

    sync_pass(agent)

    assert asked == []
    assert [a.action for a in system_actions(instance)] == ["stop"]


@override_settings(COMPUTE={"reclaim_instance_interval": 3600})
def test_shutdown_terminate_deletes_for_good_even_when_deletes_are_soft(instance_in, agent):
    instance = instance_in(V.ACTIVE)
    Instance.objects.filter(pk=instance.pk).update(shutdown_terminate=True)
    set_guest_power(instance, P.SHUTDOWN)

    sync_pass(agent)

    assert reloaded(instance).task_state == "deleting"  # not soft-deleting
    agent.run_pending()
    gone = reloaded(instance)
    assert (gone.vm_state, gone.deleted_at is not None) == (V.DELETED, True)


def test_a_lifecycle_event_for_a_deleted_row_is_synced_and_warned_about(
    instance_in, agent, alice_ctx, caplog
):
    instance = instance_in(V.ACTIVE)
    # Deleted locally while its host was down: the guest is still running on the hypervisor.
    Host.objects.filter(pk=agent.host.pk).update(forced_down=True)
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="delete")
    Host.objects.filter(pk=agent.host.pk).update(forced_down=False)
    deleted = reloaded(instance)
    assert (deleted.vm_state, deleted.power_state, deleted.deleted_at is not None) == (
        V.DELETED,
        P.NOSTATE,
        True,
    )

    with caplog.at_level(logging.WARNING, logger="compute.sync"):
        change = handle_event(
            LifecycleEvent(str(instance.uuid), Transition.STARTED, 0.0),
            host="node1",
            driver=agent.driver,
        )

    assert change is not None
    assert change["power_state"] == [P.NOSTATE, P.RUNNING]
    after = reloaded(instance)
    assert (after.vm_state, after.power_state) == (V.DELETED, P.RUNNING)
    assert after.version == deleted.version + 1
    assert any("still on the hypervisor" in r.getMessage() for r in caplog.records)
    assert system_actions(instance) == []  # a warning only: Nova leaves it to its cleanup task
