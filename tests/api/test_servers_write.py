"""Creating, renaming and deleting servers."""

from __future__ import annotations

import pytest

from compute.models import Host, Instance
from tests.api.conftest import at
from tests.conftest import CIRROS

pytestmark = pytest.mark.django_db


def create_body(**extra):
    return {"server": {"name": "web", "flavorRef": "1", "imageRef": CIRROS, **extra}}


def test_a_created_server_is_accepted_with_202_and_starts_building(alice_api, agent):
    response = alice_api.post(
        "/v2.1/servers", create_body(networks="auto"), format="json", **at("2.37")
    )
    assert response.status_code == 202
    server = response.json()["server"]
    assert response["Location"] == server["links"][0]["href"]
    assert server["adminPass"]
    shown = alice_api.get(f"/v2.1/servers/{server['id']}").json()["server"]
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("BUILD", "scheduling")
    agent.run_pending()
    assert alice_api.get(f"/v2.1/servers/{server['id']}").json()["server"]["status"] == "ACTIVE"


def test_references_may_be_urls_and_the_stock_clients_image_mapping_is_accepted(alice_api, agent):
    body = create_body(
        flavorRef="http://testserver/v2.1/flavors/2",
        networks="none",
        block_device_mapping_v2=[
            {"uuid": CIRROS, "boot_index": 0, "source_type": "image", "destination_type": "local"}
        ],
    )
    response = alice_api.post("/v2.1/servers", body, format="json")
    assert response.status_code == 202
    assert Instance.objects.get(uuid=response.json()["server"]["id"]).flavor.flavorid == "2"


def test_networks_are_required_from_237(alice_api, agent):
    assert alice_api.post("/v2.1/servers", create_body(), format="json").status_code == 400
    legacy = alice_api.post("/v2.1/servers", create_body(), format="json", **at("2.36"))
    assert legacy.status_code == 202


def test_a_server_with_no_host_up_is_accepted_and_goes_to_error(alice_api, agent):
    Host.objects.update(disabled=True)
    response = alice_api.post("/v2.1/servers", create_body(networks="auto"), format="json")
    assert response.status_code == 202
    shown = alice_api.get(f"/v2.1/servers/{response.json()['server']['id']}").json()["server"]
    assert shown["status"] == "ERROR"
    assert shown["fault"]["message"].startswith("No valid host was found")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"flavorRef": "99"}, "Flavor 99 could not be found."),
        ({"imageRef": "3a4c5a2e-0c5e-4c1e-9a55-000000000000"}, "could not be found"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "'colour' was unexpected"),
        ({"key_name": "mykey"}, "Invalid key_name provided."),
        ({"tags": ["web"]}, "'tags' is not supported by this cloud."),
        ({"networks": [{"uuid": CIRROS}]}, f"Network {CIRROS} could not be found."),
        ({"security_groups": [{"name": "web"}]}, "Security group web not found."),
        ({"min_count": 3, "max_count": 2}, "min_count must be <= max_count"),
    ],
)
def test_a_create_body_nova_or_this_cloud_cannot_honour_is_a_400(alice_api, agent, extra, message):
    body = create_body(networks="auto")
    body["server"].update(extra)
    response = alice_api.post("/v2.1/servers", body, format="json")
    assert response.status_code == 400
    assert message in response.json()["badRequest"]["message"]
    assert not Instance.objects.exists()


def test_only_admins_may_pick_the_host(alice_api, admin_api, agent):
    body = create_body(networks="auto", host="node1")
    assert alice_api.post("/v2.1/servers", body, format="json").status_code == 403
    assert admin_api.post("/v2.1/servers", body, format="json").status_code == 202
    missing = create_body(networks="auto", host="node9")
    assert admin_api.post("/v2.1/servers", missing, format="json").status_code == 400


def test_the_host_field_arrives_in_274(admin_api, agent):
    body = create_body(networks="auto", host="node1")
    assert admin_api.post("/v2.1/servers", body, format="json", **at("2.73")).status_code == 400


def test_a_reservation_id_is_returned_on_request(alice_api, agent):
    body = create_body(networks="auto", return_reservation_id=True)
    response = alice_api.post("/v2.1/servers", body, format="json")
    assert response.json()["reservation_id"].startswith("r-")


def test_a_body_that_is_not_json_is_a_415(alice_api, db):
    response = alice_api.post("/v2.1/servers", "name=web", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["badMediaType"]["code"] == 415


def test_malformed_json_is_a_400(alice_api, db):
    response = alice_api.post("/v2.1/servers", "{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Malformed request body"


def test_a_server_is_renamed_and_described(alice_api, make_instance):
    instance = make_instance()
    response = alice_api.put(
        f"/v2.1/servers/{instance.uuid}",
        {"server": {"name": "renamed", "description": "db"}},
        format="json",
    )
    assert response.status_code == 200
    server = response.json()["server"]
    assert (server["name"], server["description"]) == ("renamed", "db")
    assert "OS-EXT-STS:vm_state" in server  # from 2.75 the answer is the full show view


def test_before_275_the_rename_answer_is_the_short_view(alice_api, make_instance):
    instance = make_instance()
    response = alice_api.put(
        f"/v2.1/servers/{instance.uuid}", {"server": {"name": "x"}}, format="json", **at("2.74")
    )
    assert "OS-EXT-STS:vm_state" not in response.json()["server"]


def test_description_arrives_in_219(alice_api, make_instance):
    instance = make_instance()
    body = {"server": {"description": "db"}}
    assert (
        alice_api.put(f"/v2.1/servers/{instance.uuid}", body, format="json", **at("2.18"))
    ).status_code == 400


def test_renaming_another_projects_server_is_not_found(alice_api, make_instance, bob_ctx):
    theirs = make_instance(context=bob_ctx)
    body = {"server": {"name": "mine"}}
    assert alice_api.put(f"/v2.1/servers/{theirs.uuid}", body, format="json").status_code == 404


def test_delete_answers_204_and_the_server_goes(alice_api, make_instance, agent):
    instance = make_instance()
    assert alice_api.delete(f"/v2.1/servers/{instance.uuid}").status_code == 204
    agent.run_pending()
    assert alice_api.get(f"/v2.1/servers/{instance.uuid}").status_code == 404


def test_deleting_a_locked_server_as_its_owner_is_a_409(alice_api, make_instance):
    instance = make_instance()
    alice_api.post(f"/v2.1/servers/{instance.uuid}/action", {"lock": None}, format="json")
    response = alice_api.delete(f"/v2.1/servers/{instance.uuid}")
    assert response.status_code == 409
    assert response.json() == {
        "conflictingRequest": {"code": 409, "message": f"Instance {instance.uuid} is locked"}
    }


def test_a_session_without_a_csrf_token_may_read_but_not_write(alice, make_instance):
    from tests.api.conftest import DocumentedClient

    instance = make_instance()
    browser = DocumentedClient(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get("/v2.1/servers", HTTP_ACCEPT="application/json").status_code == 200
    assert browser.delete(f"/v2.1/servers/{instance.uuid}").status_code == 403
