"""Where an audit against Nova's source (nova/compute/api.py, nova/api/openstack/compute/) found
the API answering differently, each case as Nova answers it: the lock, delete of a build that
never launched, local deletes, the status filter, the order of the checks and their texts."""

from __future__ import annotations

import pytest
from django.test import override_settings

from compute.drivers.fake import FakeDriver
from compute.models import Host, Instance
from compute.services import instance_create
from tests.api.conftest import at
from tests.conftest import CIRROS, fresh

pytestmark = pytest.mark.django_db

OVERRIDE = (
    "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed."
)


def action(client, instance, body, **headers):
    return client.post(f"/v2.1/servers/{instance.uuid}/action", body, format="json", **headers)


def conflict(instance_text: str) -> dict:
    return {"conflictingRequest": {"code": 409, "message": instance_text}}


def host_goes_down(host: Host) -> None:
    Host.objects.filter(pk=host.pk).update(forced_down=True)


# --- the lock ----------------------------------------------------------------------------------


def test_an_owner_can_neither_take_over_nor_lift_an_admins_lock(
    make_instance, alice_api, admin_api
):
    instance = make_instance("active")
    assert action(admin_api, instance, {"lock": {"locked_reason": "audit"}}).status_code == 202
    assert action(alice_api, instance, {"lock": None}).status_code == 202  # Nova: a no-op
    instance.refresh_from_db()
    assert (instance.locked, instance.locked_by, instance.locked_reason) == (True, "admin", "audit")
    refused = action(alice_api, instance, {"unlock": None})
    assert refused.status_code == 403
    assert refused.json() == {"forbidden": {"code": 403, "message": OVERRIDE}}
    instance.refresh_from_db()
    assert instance.locked


def test_a_locked_instance_refuses_change_password_with_novas_invalid_state_text(
    make_instance, alice_api, admin_api
):
    instance = make_instance("active")
    action(admin_api, instance, {"lock": None})
    refused = action(alice_api, instance, {"changePassword": {"adminPass": "s3cret"}})
    assert refused.status_code == 409
    assert refused.json() == conflict(
        f"Instance {instance.uuid} is in an invalid state for 'changePassword'"
    )


@override_settings(COMPUTE={"reclaim_instance_interval": 3600})
def test_a_locked_soft_deleted_instance_refuses_restore_with_novas_invalid_state_text(
    make_instance, agent, alice_api, admin_api
):
    instance = make_instance("active")
    assert alice_api.delete(f"/v2.1/servers/{instance.uuid}").status_code == 204
    agent.run_pending()
    action(admin_api, instance, {"lock": None})
    refused = action(alice_api, instance, {"restore": None})
    assert refused.json() == conflict(
        f"Instance {instance.uuid} is in an invalid state for 'restore'"
    )


# --- delete ------------------------------------------------------------------------------------


def test_a_build_that_never_launched_can_be_deleted(alice_api, alice_ctx, agent):
    instance = instance_create(context=fresh(alice_ctx), name="b", flavor_ref="1", image_ref=CIRROS)
    assert Instance.objects.get(pk=instance.pk).launched_at is None
    assert alice_api.delete(f"/v2.1/servers/{instance.uuid}").status_code == 204
    agent.run_pending()
    gone = Instance.objects.get(pk=instance.pk)
    assert (gone.vm_state, gone.deleted_at is not None) == ("deleted", True)


def test_a_failed_build_can_be_deleted(alice_api, alice_ctx, agent):
    FakeDriver.fail_next(operation="spawn", message="Out of disk on the hypervisor.")
    instance = instance_create(context=fresh(alice_ctx), name="b", flavor_ref="1", image_ref=CIRROS)
    agent.run_pending()
    failed = Instance.objects.get(pk=instance.pk)
    assert (failed.vm_state, failed.launched_at) == ("error", None)
    assert alice_api.delete(f"/v2.1/servers/{instance.uuid}").status_code == 204
    agent.run_pending()
    assert Instance.objects.get(pk=instance.pk).deleted_at is not None


def test_a_build_no_host_took_is_deleted_at_once(alice_api, alice_ctx, agent):
    Host.objects.update(disabled=True)
    instance = instance_create(context=fresh(alice_ctx), name="b", flavor_ref="1", image_ref=CIRROS)
    assert (Instance.objects.get(pk=instance.pk).vm_state, instance.host_id) == ("error", None)
    assert alice_api.delete(f"/v2.1/servers/{instance.uuid}").status_code == 204
    assert Instance.objects.get(pk=instance.pk).deleted_at is not None


@override_settings(COMPUTE={"reclaim_instance_interval": 3600})
def test_a_soft_delete_on_a_down_host_is_done_locally_at_once(
    make_instance, alice_api, host, agent
):
    instance = make_instance("active")
    host_goes_down(host)
    assert alice_api.delete(f"/v2.1/servers/{instance.uuid}").status_code == 204
    gone = Instance.objects.get(pk=instance.pk)
    assert (gone.vm_state, gone.task_state, gone.deleted_at is not None) == (
        "soft-delete",
        None,
        True,
    )
    assert not gone.dispatches.filter(state="pending").exists()


# --- the status filter -------------------------------------------------------------------------


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {s["name"] for s in response.json()["servers"]}


def test_a_status_that_names_nothing_is_ignored_beside_one_that_does(alice_api, make_instance):
    make_instance("active", name="web")
    make_instance("stopped", name="db")
    assert names(alice_api.get("/v2.1/servers?status=ACTIVE&status=BOGUS")) == {"web"}
    assert names(alice_api.get("/v2.1/servers?status=bogus&status=shutoff")) == {"db"}


def test_only_statuses_that_name_nothing_fail_from_238_and_list_nothing_before(
    alice_api, make_instance
):
    make_instance("active", name="web")
    refused = alice_api.get("/v2.1/servers?status=BOGUS&status=SLEEPING", **at("2.38"))
    assert refused.status_code == 400
    assert refused.json() == {"badRequest": {"code": 400, "message": "Invalid status value"}}
    assert names(alice_api.get("/v2.1/servers?status=BOGUS", **at("2.37"))) == set()


def test_deleted_given_twice_lists_deleted_servers_for_admins_only(
    make_instance, admin_api, alice_api, agent
):
    make_instance("deleted", name="old")
    make_instance("active", name="web")
    twice = "/v2.1/servers?all_tenants=1&status=DELETED&status=deleted"
    assert names(admin_api.get(twice)) == {"old"}
    assert names(admin_api.get("/v2.1/servers?all_tenants=1&status=DELETED&status=BOGUS")) == {
        "old"
    }
    assert alice_api.get("/v2.1/servers?status=DELETED&status=DELETED").status_code == 403


# --- the order of the checks, and their texts ----------------------------------------------------


@pytest.mark.parametrize("body", [{"os-stop": None}, {"os-start": None}])
def test_an_instance_without_a_host_is_not_ready_whatever_its_vm_state(
    make_instance, alice_api, body
):
    instance = make_instance("shelved_offloaded")
    refused = action(alice_api, instance, body)
    assert refused.status_code == 409
    assert refused.json() == conflict(f"Instance {instance.uuid} is not ready")


def test_crash_dump_of_an_instance_without_a_host_is_not_ready(make_instance, alice_api):
    instance = make_instance("shelved_offloaded")
    refused = action(alice_api, instance, {"trigger_crash_dump": None}, **at("2.17"))
    assert refused.json() == conflict(f"Instance {instance.uuid} is not ready")


@override_settings(COMPUTE={"shelved_offload_time": -1})
def test_unshelving_a_shelved_server_into_a_zone_is_novas_409(make_instance, agent, alice_api):
    instance = make_instance("active")
    assert action(alice_api, instance, {"shelve": None}).status_code == 202
    agent.run_pending()
    refused = action(alice_api, instance, {"unshelve": {"availability_zone": "nova"}}, **at("2.77"))
    assert refused.status_code == 409
    assert refused.json() == conflict(
        f'Specifying an availability zone or a host when unshelving server "{instance.uuid}" '
        'with status "shelved" is not supported. The server status must be SHELVED_OFFLOADED.'
    )


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"migrate": None}, "os_compute_api:os-migrate-server:migrate"),
        (
            {"os-migrateLive": {"host": None, "block_migration": "auto"}},
            "os_compute_api:os-migrate-server:migrate_live",
        ),
        ({"os-resetState": {"state": "error"}}, "os_compute_api:os-admin-actions:reset_state"),
    ],
)
def test_admin_actions_are_refused_to_members_in_novas_policy_words(
    make_instance, alice_api, body, rule
):
    refused = action(alice_api, make_instance("active"), body)
    assert refused.status_code == 403
    assert refused.json() == {
        "forbidden": {"code": 403, "message": f"Policy doesn't allow {rule} to be performed."}
    }
