"""Reading servers: who sees what, the fields of each microversion, host_status policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compute import preconditions
from compute.models import FakeFailure, Flavor, Host
from compute.services import instance_action, instance_create
from tests.api.conftest import EXTRAS, at
from tests.conftest import CIRROS

pytestmark = pytest.mark.django_db

DETAIL = "/v2.1/servers/detail"


def server_of(response):
    return response.json()["server"]


def test_a_member_lists_only_its_projects_servers(alice_api, make_instance, bob_ctx):
    mine = make_instance(name="mine")
    make_instance(name="theirs", context=bob_ctx)
    names = [s["name"] for s in alice_api.get(DETAIL).json()["servers"]]
    assert names == [mine.name]


def test_another_projects_server_is_not_found_rather_than_forbidden(
    alice_api, make_instance, bob_ctx
):
    theirs = make_instance(context=bob_ctx)
    response = alice_api.get(f"/v2.1/servers/{theirs.uuid}")
    assert response.status_code == 404
    assert response.json() == {
        "itemNotFound": {"code": 404, "message": f"Instance {theirs.uuid} could not be found."}
    }


def test_an_unknown_server_id_is_not_found(alice_api, db):
    assert alice_api.get("/v2.1/servers/not-a-uuid").status_code == 404


def test_an_admin_sees_other_projects_only_with_all_tenants(admin_api, make_instance, bob_ctx):
    make_instance(context=bob_ctx)
    assert admin_api.get(DETAIL).json()["servers"] == []
    assert len(admin_api.get(DETAIL + "?all_tenants=1").json()["servers"]) == 1
    assert len(admin_api.get(DETAIL + "?all_tenants").json()["servers"]) == 1


def test_an_admin_may_show_any_server_by_id(admin_api, make_instance):
    instance = make_instance()
    assert admin_api.get(f"/v2.1/servers/{instance.uuid}").status_code == 200


def test_a_member_asking_for_all_tenants_is_forbidden(alice_api, db):
    response = alice_api.get(DETAIL + "?all_tenants=true")
    assert response.status_code == 403
    assert "get_all_tenants" in response.json()["forbidden"]["message"]


def test_the_index_gives_only_id_name_and_links(alice_api, make_instance):
    instance = make_instance()
    (server,) = alice_api.get("/v2.1/servers").json()["servers"]
    assert set(server) == {"id", "name", "links"}
    assert server["links"][0] == {
        "rel": "self",
        "href": f"http://testserver/v2.1/servers/{instance.uuid}",
    }


def test_detail_shows_novas_three_states_and_the_status(alice_api, make_instance):
    make_instance("stopped")
    (server,) = alice_api.get(DETAIL).json()["servers"]
    assert server["status"] == "SHUTOFF"
    assert server["OS-EXT-STS:vm_state"] == "stopped"
    assert server["OS-EXT-STS:task_state"] is None
    assert server["OS-EXT-STS:power_state"] == 4
    assert "progress" not in server  # only ACTIVE, BUILD, REBUILD, RESIZE … carry progress
    assert server["OS-SRV-USG:launched_at"]


def test_an_active_server_carries_its_progress(alice_api, make_instance):
    make_instance()
    assert alice_api.get(DETAIL).json()["servers"][0]["progress"] == 0


#: microversion → fields it shows, fields it does not show yet
FIELDS_BY_VERSION = [
    ("2.1", {"flavor"}, {"locked", "description", "tags", "host_status", "locked_reason"}),
    ("2.9", {"locked"}, {"description"}),
    ("2.19", {"description"}, {"tags"}),
    ("2.26", {"tags"}, {"trusted_image_certificates"}),
    ("2.63", {"trusted_image_certificates"}, {"locked_reason"}),
    ("2.73", {"locked_reason"}, set()),
]


def test_fields_appear_with_their_microversion(alice_api, make_instance):
    make_instance()
    for version, present, absent in FIELDS_BY_VERSION:
        (server,) = alice_api.get(DETAIL, **at(version)).json()["servers"]
        assert present <= set(server), version
        assert not absent & set(server), version


def test_the_flavor_is_a_reference_before_247_and_embedded_from_247(alice_api, make_instance):
    make_instance()
    old = alice_api.get(DETAIL, **at("2.46")).json()["servers"][0]["flavor"]
    new = alice_api.get(DETAIL, **at("2.47")).json()["servers"][0]["flavor"]
    assert old["id"] == "1"
    assert old["links"][0]["href"] == "http://testserver/flavors/1"
    assert new == {
        "vcpus": 1,
        "ram": 512,
        "disk": 1,
        "ephemeral": 0,
        "swap": 0,
        "original_name": "m1.tiny",
        "extra_specs": {},
    }


def test_server_groups_are_on_show_from_271_but_never_in_detail(alice_api, make_instance):
    instance = make_instance()
    assert "server_groups" in server_of(alice_api.get(f"/v2.1/servers/{instance.uuid}"))
    assert "server_groups" not in alice_api.get(DETAIL).json()["servers"][0]
    old = server_of(alice_api.get(f"/v2.1/servers/{instance.uuid}", **at("2.70")))
    assert "server_groups" not in old


def test_extended_server_attributes_are_for_admins(alice_api, admin_api, make_instance):
    instance = make_instance()
    mine = server_of(alice_api.get(f"/v2.1/servers/{instance.uuid}"))
    theirs = server_of(admin_api.get(f"/v2.1/servers/{instance.uuid}"))
    assert "OS-EXT-SRV-ATTR:host" not in mine
    assert theirs["OS-EXT-SRV-ATTR:host"] == "node1"
    assert theirs["OS-EXT-SRV-ATTR:hypervisor_hostname"] == "node1"
    assert theirs["OS-EXT-SRV-ATTR:instance_name"].startswith("instance-")


def test_the_allowed_actions_key_is_the_action_tables_answer(alice_api, make_instance, alice_ctx):
    instance = make_instance("paused")
    actions = alice_api.get(DETAIL, **EXTRAS).json()["servers"][0]["vmdash:actions"]
    expected = preconditions.evaluate(instance, alice_ctx)
    assert set(actions["allowed"]) == {k for k, v in expected.items() if v is None}
    assert actions["refused"] == {k: v for k, v in expected.items() if v is not None}
    assert actions["refused"]["pause"] == (
        f"Cannot 'pause' instance {instance.uuid} while it is in vm_state paused"
    )


def test_an_error_server_shows_its_fault_with_details_for_admins_only(
    alice_api, admin_api, agent, make_instance
):
    FakeFailure.objects.create(host="node1", operation="spawn", message="disk full")
    instance = make_instance()
    assert instance.vm_state == "error"
    mine = server_of(alice_api.get(f"/v2.1/servers/{instance.uuid}"))
    admins = server_of(admin_api.get(f"/v2.1/servers/{instance.uuid}"))
    assert mine["status"] == "ERROR"
    assert mine["fault"]["code"] == 500
    assert "disk full" in mine["fault"]["message"]
    assert "details" not in mine["fault"]
    assert admins["fault"]["details"]


def test_a_healthy_server_has_no_fault_key(alice_api, make_instance):
    make_instance()
    assert "fault" not in alice_api.get(DETAIL).json()["servers"][0]


# --- host_status ------------------------------------------------------------------------------
def host_status_seen(client, instance, version="2.16"):
    return server_of(client.get(f"/v2.1/servers/{instance.uuid}", **at(version))).get(
        "host_status", "<absent>"
    )


def test_host_status_is_shown_to_admins_from_216(admin_api, make_instance):
    instance = make_instance()
    assert host_status_seen(admin_api, instance) == "UP"
    assert host_status_seen(admin_api, instance, "2.15") == "<absent>"


def test_host_status_is_hidden_from_members_by_default(alice_api, make_instance):
    assert host_status_seen(alice_api, make_instance()) == "<absent>"


def test_host_status_policy_admin_or_owner_shows_it_to_members(alice_api, make_instance, settings):
    settings.COMPUTE = {**settings.COMPUTE, "host_status_policy": "admin_or_owner"}
    assert host_status_seen(alice_api, make_instance()) == "UP"


def test_host_status_policy_unknown_only_shows_members_only_unknown(
    alice_api, make_instance, settings
):
    settings.COMPUTE = {**settings.COMPUTE, "host_status_policy": "unknown_only"}
    instance = make_instance()
    assert host_status_seen(alice_api, instance) == "<absent>"
    Host.objects.update(last_seen_up=timezone.now() - timedelta(hours=1))
    assert host_status_seen(alice_api, instance) == "UNKNOWN"


@pytest.mark.parametrize(
    ("change", "status"),
    [({"disabled": True}, "MAINTENANCE"), ({"forced_down": True}, "DOWN")],
)
def test_host_status_follows_the_service_switches(admin_api, make_instance, change, status):
    instance = make_instance()
    Host.objects.update(**change)
    assert host_status_seen(admin_api, instance) == status


def test_the_detail_list_makes_no_query_per_server(
    alice_api, make_instance, django_assert_max_num_queries
):
    make_instance(name="a")
    FakeFailure.objects.create(host="node1", operation="spawn", message="boom")
    make_instance(name="b")
    with django_assert_max_num_queries(12) as few:
        alice_api.get(DETAIL)
    for name in "cdefg":
        make_instance(name=name)
    with django_assert_max_num_queries(len(few.captured_queries)):
        servers = alice_api.get(DETAIL).json()["servers"]
    assert len(servers) == 7


# --- the list reads value rows; a server looks the same in the list and on its own ----------
SHOW_ONLY = {"server_groups"}


@pytest.mark.parametrize("version", ["2.1", "2.16", "2.47", "2.89"])
@pytest.mark.parametrize("who", ["alice", "admin"])
def test_every_server_in_the_list_is_exactly_its_show_view(
    alice_api, admin_api, agent, make_instance, alice_ctx, admin_ctx, settings, version, who
):
    settings.COMPUTE = {**settings.COMPUTE, "host_status_policy": "admin_or_owner"}
    for state in ("active", "stopped", "paused", "resized", "shelved_offloaded", "deleted"):
        make_instance(state, name=f"vm {state}")
    FakeFailure.objects.create(host="node1", operation="spawn", message="boom")
    make_instance(name="broken")
    make_instance(name="elsewhere", context=admin_ctx)
    Flavor.objects.filter(flavorid="1").update(extra_specs={"hw:cpu_policy": "dedicated"})
    rebooting = make_instance(name="rebooting")
    instance_action(context=alice_ctx, instance_uuid=str(rebooting.uuid), action="reboot")
    busy = instance_create(
        context=alice_ctx, name="busy", flavor_ref="1", image_ref=CIRROS, metadata={"k": "v"}
    )  # left building: nobody runs the agent for it
    instance_action(context=alice_ctx, instance_uuid=str(busy.uuid), action="lock", params={})
    client = {"alice": alice_api, "admin": admin_api}[who]
    query = "?changes-since=2000-01-01T00:00:00Z" + ("&all_tenants=1" if who == "admin" else "")
    listed = client.get(DETAIL + query, **at(version), **EXTRAS).json()["servers"]
    assert len(listed) == (10 if who == "admin" else 9)
    assert {s["status"] for s in listed} >= {"BUILD", "REBOOT", "ACTIVE", "ERROR", "DELETED"}
    for server in listed:
        if server["status"] == "DELETED":  # the list shows it (changes-since), show does not
            assert "vmdash:actions" not in server
            continue
        shown = server_of(client.get(f"/v2.1/servers/{server['id']}", **at(version), **EXTRAS))
        assert server == {k: v for k, v in shown.items() if k not in SHOW_ONLY}


def test_the_list_reads_no_image_and_no_project_and_no_models(
    alice_api, make_instance, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from compute.models import Instance

    make_instance()
    built = []
    real = Instance.from_db.__func__

    def counting(cls, *args, **kwargs):
        built.append(cls)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(Instance, "from_db", classmethod(counting))
    with CaptureQueriesContext(connection) as captured:
        assert len(alice_api.get(DETAIL).json()["servers"]) == 1
    page = [q["sql"] for q in captured.captured_queries if 'FROM "compute_instance"' in q["sql"]]
    assert len(page) == 1
    assert "compute_image" not in page[0] and "compute_project" not in page[0]
    assert "system_metadata" not in page[0]
    assert built == []


def test_marker_paging_over_value_rows_gives_the_next_page(alice_api, make_instance):
    names = [make_instance(name=f"vm{n}").name for n in range(5)]
    first = alice_api.get(DETAIL + "?limit=2&sort_key=display_name&sort_dir=asc").json()
    assert [s["name"] for s in first["servers"]] == names[:2]
    after = first["servers_links"][0]["href"].split("/v2.1")[1]
    second = alice_api.get("/v2.1" + after).json()
    assert [s["name"] for s in second["servers"]] == names[2:4]
    index = alice_api.get("/v2.1/servers?limit=2&sort_key=display_name&sort_dir=asc").json()
    assert [s["name"] for s in index["servers"]] == names[:2]
