"""Every action through the agent on the fake hypervisor: its happy path and its failure path."""

from __future__ import annotations

import pytest
from django.test import override_settings

from compute import actions
from compute.drivers.fake import FakeDriver
from compute.models import ActionDispatch, FakeGuest, Image, InstanceAction, InstanceFault
from compute.services import instance_action
from compute.states import PowerState, VmState
from tests.conftest import DEBIAN, fresh

pytestmark = pytest.mark.django_db

P = PowerState

#: action, starting vm_state, params, admin?, resulting vm_state, resulting power_state
HAPPY = [
    ("start", "stopped", {}, False, "active", P.RUNNING),
    ("stop", "active", {}, False, "stopped", P.SHUTDOWN),
    ("reboot", "active", {}, False, "active", P.RUNNING),
    ("reboot_hard", "paused", {}, False, "active", P.RUNNING),
    ("pause", "active", {}, False, "paused", P.PAUSED),
    ("unpause", "paused", {}, False, "active", P.RUNNING),
    ("suspend", "active", {}, False, "suspended", P.SUSPENDED),
    ("resume", "suspended", {}, False, "active", P.RUNNING),
    ("rescue", "active", {}, False, "rescued", P.RUNNING),
    ("unrescue", "rescued", {}, False, "active", P.RUNNING),
    ("resize", "active", {"flavorRef": "2"}, False, "resized", P.RUNNING),
    ("migrate", "stopped", {}, True, "resized", P.SHUTDOWN),
    ("revertResize", "resized", {}, False, "active", P.RUNNING),
    ("os-migrateLive", "active", {}, True, "active", P.RUNNING),
    ("rebuild", "stopped", {"imageRef": DEBIAN}, False, "stopped", P.SHUTDOWN),
    ("rebuild", "active", {"imageRef": DEBIAN}, False, "active", P.RUNNING),
    ("createImage", "active", {"name": "snap"}, False, "active", P.RUNNING),
    ("createBackup", "stopped", {"name": "b", "backup_type": "daily", "rotation": 1}, False, "stopped", P.SHUTDOWN),
    ("changePassword", "active", {"adminPass": "s3cret"}, False, "active", P.RUNNING),
    ("shelve", "active", {}, False, "shelved_offloaded", P.NOSTATE),
    ("unshelve", "shelved_offloaded", {}, False, "active", P.RUNNING),
    ("delete", "active", {}, False, "deleted", P.NOSTATE),
    ("forceDelete", "paused", {}, False, "deleted", P.NOSTATE),
]  # fmt: skip


@pytest.mark.parametrize(("action", "start", "params", "as_admin", "vm_state", "power"), HAPPY)
def test_action_walks_its_task_states_and_ends_in_the_tables_result(
    action,
    start,
    params,
    as_admin,
    vm_state,
    power,
    make_instance,
    agent,
    agent_factory,
    alice_ctx,
    admin_ctx,
):
    agents = [agent, agent_factory("node2")]
    instance = make_instance(start)
    context = admin_ctx if as_admin else alice_ctx
    spec = actions.get(action)

    record = instance_action(
        context=fresh(context), instance_uuid=str(instance.uuid), action=action, params=params
    )
    instance.refresh_from_db()
    assert instance.task_state == spec.start_task
    for runner in agents:
        runner.run_pending()

    instance.refresh_from_db()
    assert (instance.vm_state, instance.task_state, instance.power_state) == (vm_state, None, power)
    record.refresh_from_db()
    assert record.message is None and record.finish_time is not None
    assert [e.result for e in record.events.all()] == ["Success"]


def test_resize_applies_the_new_flavor_and_revert_restores_the_old(make_instance, agent, alice_ctx):
    instance = make_instance("active")
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="resize",
        params={"flavorRef": "3"},
    )
    agent.run_pending()
    instance.refresh_from_db()
    assert instance.flavor.name == "m1.medium"
    instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="revertResize"
    )
    agent.run_pending()
    instance.refresh_from_db()
    assert instance.flavor.name == "m1.tiny"
    assert instance.vm_state == VmState.ACTIVE


def test_confirm_resize_of_a_shut_down_guest_ends_stopped(make_instance, agent, alice_ctx):
    instance = make_instance("stopped")
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="resize",
        params={"flavorRef": "2"},
    )
    agent.run_pending()
    instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="confirmResize"
    )
    instance.refresh_from_db()
    assert (instance.vm_state, instance.task_state) == ("stopped", None)


def test_a_snapshot_becomes_an_active_image(make_instance, agent, alice_ctx):
    instance = make_instance("active")
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="createImage",
        params={"name": "before-upgrade"},
    )
    assert Image.objects.get(name="before-upgrade").status == Image.Status.QUEUED
    agent.run_pending()
    assert Image.objects.get(name="before-upgrade").status == Image.Status.ACTIVE


def test_a_backup_keeps_the_newest_rotation_backups_of_its_type_and_deletes_the_older(
    make_instance, agent, alice_ctx
):
    """Nova's ``_rotate_backups``: per server and backup_type, once the new backup is up."""
    instance, other = make_instance("active"), make_instance("active")

    def backup(server, name: str, backup_type: str, rotation: int) -> None:
        instance_action(
            context=fresh(alice_ctx),
            instance_uuid=str(server.uuid),
            action="createBackup",
            params={"name": name, "backup_type": backup_type, "rotation": rotation},
        )
        dispatch = ActionDispatch.objects.filter(kind="createBackup").latest("pk")
        assert (dispatch.params["backup_type"], dispatch.params["rotation"]) == (
            backup_type,
            rotation,
        )
        agent.run_pending()

    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="createImage",
        params={"name": "a-snapshot"},
    )
    agent.run_pending()
    backup(other, "other-daily", "daily", 1)
    for name in ("daily-1", "daily-2", "daily-3"):
        backup(instance, name, "daily", 2)
    backup(instance, "weekly-1", "weekly", 2)
    names = set(Image.objects.filter(server__isnull=False).values_list("name", flat=True))
    assert names == {"a-snapshot", "other-daily", "daily-2", "daily-3", "weekly-1"}
    assert Image.objects.get(name="daily-3").metadata["image_type"] == "backup"
    backup(instance, "daily-4", "daily", 0)  # rotation 0: every daily backup goes, the new one too
    names = set(Image.objects.filter(server__isnull=False).values_list("name", flat=True))
    assert names == {"a-snapshot", "other-daily", "weekly-1"}


def test_the_admin_password_is_not_kept_after_the_guest_has_it(make_instance, agent, alice_ctx):
    instance = make_instance("active")
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="changePassword",
        params={"adminPass": "hunter2"},
    )
    agent.run_pending()
    assert ActionDispatch.objects.get(kind="changePassword").params == {}


@override_settings(COMPUTE={"shelved_offload_time": -1})
def test_shelve_without_offload_stays_shelved_and_shelve_offload_releases_the_host(
    make_instance, agent, alice_ctx
):
    instance = make_instance("active")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="shelve")
    agent.run_pending()
    instance.refresh_from_db()
    assert (instance.vm_state, instance.host_id is not None) == ("shelved", True)
    instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="shelveOffload"
    )
    agent.run_pending()
    instance.refresh_from_db()
    assert (instance.vm_state, instance.host_id) == ("shelved_offloaded", None)


@override_settings(COMPUTE={"reclaim_instance_interval": 3600})
def test_with_reclaim_set_delete_is_soft_and_restore_brings_it_back(
    make_instance, agent, alice_ctx
):
    instance = make_instance("active")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="delete")
    assert instance.__class__.objects.get(pk=instance.pk).task_state == "soft-deleting"
    agent.run_pending()
    instance.refresh_from_db()
    assert (instance.vm_state, instance.power_state) == ("soft-delete", P.SHUTDOWN)
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="restore")
    agent.run_pending()
    instance.refresh_from_db()
    assert (instance.vm_state, instance.power_state) == ("active", P.RUNNING)


def test_lock_and_unlock_set_the_lock_without_a_task(make_instance, alice_ctx):
    instance = make_instance("active")
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="lock",
        params={"locked_reason": "prod"},
    )
    instance.refresh_from_db()
    assert (instance.locked, instance.locked_by, instance.locked_reason) == (True, "owner", "prod")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="unlock")
    instance.refresh_from_db()
    assert not instance.locked


def test_reset_state_puts_a_stuck_instance_in_error_and_clears_its_task(
    make_instance, alice_ctx, admin_ctx
):
    instance = make_instance("active")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="stop")
    instance_action(
        context=fresh(admin_ctx),
        instance_uuid=str(instance.uuid),
        action="os-resetState",
        params={"state": "error"},
    )
    instance.refresh_from_db()
    assert (instance.vm_state, instance.task_state) == ("error", None)


DISPATCHED = [row for row in HAPPY if actions.get(row[0]).steps]


@pytest.mark.parametrize(("action", "start", "params", "as_admin", "vm_state", "power"), DISPATCHED)
def test_a_driver_failure_records_a_fault_and_clears_the_task(
    action,
    start,
    params,
    as_admin,
    vm_state,
    power,
    make_instance,
    agent,
    agent_factory,
    alice_ctx,
    admin_ctx,
):
    agents = [agent, agent_factory("node2")]
    instance = make_instance(start)
    before = instance.vm_state
    FakeDriver.fail_next(host="", message="The hypervisor said no.")
    record = instance_action(
        context=fresh(admin_ctx if as_admin else alice_ctx),
        instance_uuid=str(instance.uuid),
        action=action,
        params=params,
    )
    for runner in agents:
        runner.run_pending()

    instance.refresh_from_db()
    spec = actions.get(action)
    assert instance.task_state is None
    assert instance.vm_state == (VmState.ERROR if spec.error_on_failure else before)
    fault = InstanceFault.objects.filter(instance=instance).latest()
    assert fault.message == "The hypervisor said no."
    record.refresh_from_db()
    assert record.message == "Error"
    assert [e.result for e in record.events.all()] == ["Error"]


def test_a_failed_build_ends_in_error_with_the_fault(agent, alice_ctx):
    from compute.services import instance_create
    from tests.conftest import CIRROS

    FakeDriver.fail_next(operation="spawn", message="Out of disk on the hypervisor.")
    instance = instance_create(
        context=fresh(alice_ctx), name="doomed", flavor_ref="1", image_ref=CIRROS
    )
    agent.run_pending()
    instance.refresh_from_db()
    assert (instance.status, instance.task_state) == ("ERROR", None)
    assert instance.faults.latest().message == "Out of disk on the hypervisor."
    assert InstanceAction.objects.get(instance=instance).message == "Error"
    assert not FakeGuest.objects.filter(uuid=str(instance.uuid)).exists()
