"""Nova's exact bodies by default, the project's extras on request, JSON errors everywhere."""

from __future__ import annotations

import pytest

from tests.api.conftest import EXTRAS, at
from tests.conftest import CIRROS

pytestmark = pytest.mark.django_db


def test_a_server_has_no_vmdash_key_unless_the_extras_are_asked_for(alice_api, make_instance):
    instance = make_instance("active")
    plain = alice_api.get(f"/v2.1/servers/{instance.uuid}").json()["server"]
    assert not [key for key in plain if key.startswith("vmdash:")]
    listed = alice_api.get("/v2.1/servers/detail").json()["servers"]
    assert not [key for server in listed for key in server if key.startswith("vmdash:")]
    extra = alice_api.get(f"/v2.1/servers/{instance.uuid}", **EXTRAS)
    assert set(extra.json()["server"]["vmdash:actions"]) == {"allowed", "refused"}
    assert "X-Vmdash-Extras" in extra["Vary"]


def test_a_service_has_no_vmdash_key_unless_the_extras_are_asked_for(admin_api, host):
    (plain,) = admin_api.get("/v2.1/os-services").json()["services"]
    assert not [key for key in plain if key.startswith("vmdash:")]
    (extra,) = admin_api.get("/v2.1/os-services", **EXTRAS).json()["services"]
    assert extra["vmdash:host_status"] == "UP"


def test_the_create_answer_is_novas_and_has_no_name(alice_api, host):
    body = {"server": {"name": "web", "flavorRef": "1", "imageRef": CIRROS}}
    response = alice_api.post("/v2.1/servers", body, format="json", **at("2.1"))
    assert response.status_code == 202
    server = response.json()["server"]
    assert set(server) == {"id", "links", "OS-DCF:diskConfig", "security_groups", "adminPass"}


@pytest.mark.parametrize("method", ["post", "put", "delete", "get"])
@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v2.1/os-no-such-thing", "itemNotFound"),
        ("/v2.1/servers/x/os-no-such-thing", "itemNotFound"),
        ("/image/v2/no-such-thing", "itemNotFound"),
        ("/identity/v3/no-such-thing", "error"),
    ],
)
def test_an_unknown_api_path_is_a_json_404_for_every_method(alice_api, method, path, key):
    response = getattr(alice_api, method)(path, {}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()[key]["code"] == 404


def test_an_unserved_method_is_a_json_405_with_allow(alice_api):
    response = alice_api.patch("/v2.1/flavors", {}, format="json")
    assert response.status_code == 405
    assert response.json()["badMethod"]["code"] == 405
    assert "GET" in response["Allow"]


def test_a_flavor_is_created_with_an_integer_id(admin_api):
    body = {"flavor": {"name": "numbered", "id": 633771595, "ram": 64, "vcpus": 1, "disk": 1}}
    response = admin_api.post("/v2.1/flavors", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["flavor"]["id"] == "633771595"
    assert admin_api.get("/v2.1/flavors/633771595").status_code == 200


def test_create_keeps_access_ips_disk_config_key_name_and_user_data(alice_api, host):
    alice_api.post("/v2.1/os-keypairs", {"keypair": {"name": "mine"}}, format="json")
    body = {
        "server": {
            "name": "web",
            "flavorRef": "1",
            "imageRef": CIRROS,
            "accessIPv4": "192.0.2.7",
            "accessIPv6": "2001:db8::7",
            "OS-DCF:diskConfig": "AUTO",
            "key_name": "mine",
            "user_data": "aGk=",
            "networks": "none",
        }
    }
    created = alice_api.post("/v2.1/servers", body, format="json")
    assert created.status_code == 202, created.content
    assert created.json()["server"]["OS-DCF:diskConfig"] == "AUTO"
    ident = created.json()["server"]["id"]
    for server in (
        alice_api.get(f"/v2.1/servers/{ident}").json()["server"],
        alice_api.get("/v2.1/servers/detail").json()["servers"][0],
    ):
        assert (server["accessIPv4"], server["accessIPv6"]) == ("192.0.2.7", "2001:db8::7")
        assert (server["OS-DCF:diskConfig"], server["key_name"]) == ("AUTO", "mine")


def test_create_refuses_an_access_ip_of_the_wrong_family(alice_api, host):
    body = {"server": {"name": "w", "flavorRef": "1", "imageRef": CIRROS, "accessIPv4": "::1"}}
    response = alice_api.post("/v2.1/servers", body, format="json")
    assert response.status_code == 400
    assert "accessIPv4" in response.json()["badRequest"]["message"]


def test_a_create_past_the_instance_quota_is_novas_403(alice_api, admin_api, host):
    from compute.models import Project

    project = Project.objects.get(name="demo").pk
    admin_api.put(f"/v2.1/os-quota-sets/{project}", {"quota_set": {"instances": 0}}, format="json")
    body = {"server": {"name": "web", "flavorRef": "1", "imageRef": CIRROS, "networks": "none"}}
    response = alice_api.post("/v2.1/servers", body, format="json")
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == (
        "Quota exceeded for instances: Requested 1, but already used 0 of 0 instances"
    )


def test_a_private_flavor_is_usable_only_by_the_projects_given_access(alice_api, admin_api, host):
    from compute.models import Project

    body = {"flavor": {"name": "secret", "id": "77", "ram": 64, "vcpus": 1, "disk": 1,
                       "os-flavor-access:is_public": False}}  # fmt: skip
    assert admin_api.post("/v2.1/flavors", body, format="json").status_code == 200
    create = {"server": {"name": "s", "flavorRef": "77", "imageRef": CIRROS, "networks": "none"}}
    refused = alice_api.post("/v2.1/servers", create, format="json")
    assert refused.status_code == 400
    assert alice_api.get("/v2.1/flavors/77").status_code == 404
    project = Project.objects.get(name="demo").pk
    grant = {"addTenantAccess": {"tenant": project}}
    granted = admin_api.post("/v2.1/flavors/77/action", grant, format="json")
    assert granted.json() == {"flavor_access": [{"flavor_id": "77", "tenant_id": project}]}
    assert "77" in [f["id"] for f in alice_api.get("/v2.1/flavors").json()["flavors"]]
    assert alice_api.post("/v2.1/servers", create, format="json").status_code == 202


def test_a_different_host_hint_is_honoured_by_the_scheduler(alice_api, agent):
    body = {"server": {"name": "one", "flavorRef": "1", "imageRef": CIRROS, "networks": "none"}}
    first = alice_api.post("/v2.1/servers", body, format="json").json()["server"]["id"]
    hinted = {**body, "os:scheduler_hints": {"different_host": [first]}}
    hinted["server"] = {**body["server"], "name": "two"}
    second = alice_api.post("/v2.1/servers", hinted, format="json")
    assert second.status_code == 202
    shown = alice_api.get(f"/v2.1/servers/{second.json()['server']['id']}").json()["server"]
    # One host only, and the hint forbids it: Nova's answer is an ERROR server, no valid host.
    assert shown["status"] == "ERROR"
    assert shown["fault"]["message"].startswith("No valid host was found")


def test_max_count_builds_that_many_servers_named_as_nova_names_them(alice_api, agent):
    body = {"server": {"name": "web", "flavorRef": "1", "imageRef": CIRROS, "networks": "none",
                       "min_count": 1, "max_count": 3}}  # fmt: skip
    assert alice_api.post("/v2.1/servers", body, format="json").status_code == 202
    names = sorted(s["name"] for s in alice_api.get("/v2.1/servers").json()["servers"])
    assert names == ["web-1", "web-2", "web-3"]


def test_a_multi_server_create_shares_one_reservation_id(alice_api, agent):
    body = {"server": {"name": "web", "flavorRef": "1", "imageRef": CIRROS, "networks": "none",
                       "min_count": 2, "return_reservation_id": True}}  # fmt: skip
    reservation = alice_api.post("/v2.1/servers", body, format="json").json()["reservation_id"]
    listed = alice_api.get(f"/v2.1/servers?reservation_id={reservation}").json()["servers"]
    assert sorted(s["name"] for s in listed) == ["web-1", "web-2"]


def test_removing_the_default_security_group_leaves_none_as_nova_shows_it(alice_api, make_instance):
    instance = make_instance("active")
    url = f"/v2.1/servers/{instance.uuid}/action"
    removed = alice_api.post(url, {"removeSecurityGroup": {"name": "default"}}, format="json")
    assert removed.status_code == 202
    assert "security_groups" not in alice_api.get(f"/v2.1/servers/{instance.uuid}").json()["server"]
    again = alice_api.post(url, {"removeSecurityGroup": {"name": "default"}}, format="json")
    assert again.status_code == 400
    unknown = alice_api.post(url, {"addSecurityGroup": {"name": "web"}}, format="json")
    assert unknown.status_code == 404
    assert (
        alice_api.post(url, {"addSecurityGroup": {"name": "default"}}, format="json").status_code
        == 202
    )
    shown = alice_api.get(f"/v2.1/servers/{instance.uuid}").json()["server"]
    assert shown["security_groups"] == [{"name": "default"}]


@pytest.mark.parametrize(
    ("path", "key"), [("/identity/v3/auth/tokens", "error"), ("/image/v2/images", "badMethod")]
)
def test_an_unserved_method_on_identity_and_image_is_a_json_405_with_allow(alice_api, path, key):
    response = alice_api.patch(path, {}, format="json")
    assert response.status_code == 405
    assert response.json()[key]["code"] == 405
    assert response["Allow"]


def test_a_server_shows_the_group_it_was_created_into_from_271(alice_api, agent):
    made = alice_api.post(
        "/v2.1/os-server-groups",
        {"server_group": {"name": "g", "policies": ["anti-affinity"]}},
        format="json",
        **at("2.1"),
    )
    assert made.status_code == 200, made.content
    group = made.json()["server_group"]["id"]
    body = {"server": {"name": "in", "flavorRef": "1", "imageRef": CIRROS, "networks": "none"}}
    hinted = {**body, "os:scheduler_hints": {"group": group}}
    inside = alice_api.post("/v2.1/servers", hinted, format="json").json()["server"]["id"]
    body["server"] = {**body["server"], "name": "out"}
    outside = alice_api.post("/v2.1/servers", body, format="json").json()["server"]["id"]
    shown = alice_api.get(f"/v2.1/servers/{inside}", **at("2.71")).json()["server"]
    assert shown["server_groups"] == [group]
    assert (
        alice_api.get(f"/v2.1/servers/{outside}", **at("2.71")).json()["server"]["server_groups"]
        == []
    )
    assert (
        "server_groups"
        not in alice_api.get(f"/v2.1/servers/{inside}", **at("2.70")).json()["server"]
    )
