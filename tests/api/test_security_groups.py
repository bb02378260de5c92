"""Nova's security group proxy (before 2.36): groups and ingress rules kept per project,
servers naming them, Nova's answers to Neutron's refusals."""

from __future__ import annotations

import pytest

from compute.models import SecurityGroup
from tests.api.conftest import at
from tests.conftest import CIRROS

pytestmark = pytest.mark.django_db

V = at("2.35")
GROUPS = "/v2.1/os-security-groups"
RULES = "/v2.1/os-security-group-rules"
MISSING = "9f1b3f0e-0000-4000-8000-000000000000"


def create(client, name="web", description="web servers"):
    response = client.post(
        GROUPS, {"security_group": {"name": name, "description": description}}, format="json", **V
    )
    assert response.status_code == 200, response.content
    return response.json()["security_group"]


def rule(client, **fields):
    return client.post(RULES, {"security_group_rule": fields}, format="json", **V)


def test_a_project_starts_with_its_default_group(alice_api):
    (group,) = alice_api.get(GROUPS, **V).json()["security_groups"]
    assert group["name"] == "default"
    assert group["rules"] == []
    assert set(group) == {"id", "name", "description", "tenant_id", "rules"}


def test_a_group_is_created_shown_updated_and_deleted(alice_api):
    group = create(alice_api)
    assert (group["name"], group["description"], group["rules"]) == ("web", "web servers", [])
    path = f"{GROUPS}/{group['id']}"
    assert alice_api.get(path, **V).json() == {"security_group": group}
    names = [g["name"] for g in alice_api.get(GROUPS, **V).json()["security_groups"]]
    assert names == ["default", "web"]
    updated = alice_api.put(
        path, {"security_group": {"name": "www", "description": "d"}}, format="json", **V
    )
    assert updated.json()["security_group"]["name"] == "www"
    assert alice_api.delete(path, **V).status_code == 202
    assert alice_api.get(path, **V).status_code == 404


def test_the_default_group_cannot_be_deleted(alice_api):
    (default,) = alice_api.get(GROUPS, **V).json()["security_groups"]
    response = alice_api.delete(f"{GROUPS}/{default['id']}", **V)
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == (
        "Insufficient rights for removing default security group."
    )


def test_a_group_a_server_uses_cannot_be_deleted_until_the_server_is(
    alice_api, make_instance, agent
):
    group = create(alice_api)
    server = make_instance()
    action = f"/v2.1/servers/{server.uuid}/action"
    assert alice_api.post(action, {"addSecurityGroup": {"name": "web"}}, format="json").status_code == 202  # fmt: skip
    listed = alice_api.get(f"/v2.1/servers/{server.uuid}/os-security-groups").json()
    assert [g["name"] for g in listed["security_groups"]] == ["default", "web"]
    refused = alice_api.delete(f"{GROUPS}/{group['id']}", **V)
    assert refused.status_code == 400
    assert refused.json()["badRequest"]["message"] == f"Security Group {group['id']} in use."
    ports = alice_api.get(f"/network/v2.0/ports?device_id={server.uuid}").json()["ports"]
    assert group["id"] in ports[0]["security_groups"]
    alice_api.delete(f"/v2.1/servers/{server.uuid}")
    agent.run_pending()
    assert alice_api.delete(f"{GROUPS}/{group['id']}", **V).status_code == 202


def test_adding_a_group_the_project_does_not_have_is_a_404(alice_api, bob_api, make_instance):
    create(bob_api, name="bobs")
    server = make_instance()
    response = alice_api.post(
        f"/v2.1/servers/{server.uuid}/action", {"addSecurityGroup": {"name": "bobs"}}, format="json"
    )
    assert response.status_code == 404


def test_a_server_is_created_in_a_named_group(alice_api, agent, catalog):
    create(alice_api)
    body = {"server": {"name": "s", "flavorRef": "1", "imageRef": CIRROS, "networks": "auto",
                       "security_groups": [{"name": "web"}]}}  # fmt: skip
    created = alice_api.post("/v2.1/servers", body, format="json").json()["server"]
    agent.run_pending()
    shown = alice_api.get(f"/v2.1/servers/{created['id']}").json()["server"]
    assert shown["security_groups"] == [{"name": "web"}]
    body["server"]["security_groups"] = [{"name": "nope"}]
    refused = alice_api.post("/v2.1/servers", body, format="json")
    assert refused.status_code == 400
    assert refused.json()["badRequest"]["message"] == "Security group nope not found."


def test_a_member_sees_only_its_projects_groups(alice_api, bob_api):
    theirs = create(bob_api, name="theirs")
    assert "theirs" not in [g["name"] for g in alice_api.get(GROUPS, **V).json()["security_groups"]]
    assert alice_api.get(f"{GROUPS}/{theirs['id']}", **V).status_code == 404
    assert alice_api.delete(f"{GROUPS}/{theirs['id']}", **V).status_code == 404


def test_an_admin_lists_every_project_with_all_tenants(admin_api, alice_api, bob_api):
    create(alice_api, name="a"), create(bob_api, name="b")
    mine = [g["name"] for g in admin_api.get(GROUPS, **V).json()["security_groups"]]
    assert "a" not in mine and "b" not in mine
    every = [g["name"] for g in admin_api.get(f"{GROUPS}?all_tenants=1", **V).json()["security_groups"]]  # fmt: skip
    assert {"a", "b"} <= set(every)


def test_rules_from_a_cidr_and_from_a_group(alice_api):
    web, peers = create(alice_api), create(alice_api, name="peers")
    by_cidr = rule(alice_api, parent_group_id=web["id"], ip_protocol="tcp", from_port=22,
                   to_port=22, cidr="10.0.0.0/24")  # fmt: skip
    assert by_cidr.status_code == 200
    assert by_cidr.json()["security_group_rule"] == {
        "id": by_cidr.json()["security_group_rule"]["id"],
        "parent_group_id": web["id"],
        "ip_protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "group": {},
        "ip_range": {"cidr": "10.0.0.0/24"},
    }
    by_group = rule(alice_api, parent_group_id=web["id"], ip_protocol="tcp", group_id=peers["id"])
    body = by_group.json()["security_group_rule"]
    assert (body["from_port"], body["to_port"], body["ip_range"]) == (1, 65535, {})
    assert body["group"] == {"name": "peers", "tenant_id": web["tenant_id"]}
    shown = alice_api.get(f"{GROUPS}/{web['id']}", **V).json()["security_group"]
    assert len(shown["rules"]) == 2
    # Deleting the peer group deletes the rules that name it, as in Neutron.
    alice_api.delete(f"{GROUPS}/{peers['id']}", **V)
    shown = alice_api.get(f"{GROUPS}/{web['id']}", **V).json()["security_group"]
    assert [r["ip_range"] for r in shown["rules"]] == [{"cidr": "10.0.0.0/24"}]
    assert alice_api.delete(f"{RULES}/{shown['rules'][0]['id']}", **V).status_code == 202
    assert alice_api.get(f"{GROUPS}/{web['id']}", **V).json()["security_group"]["rules"] == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ip_protocol": "tcp", "from_port": 22, "to_port": 22},
         "This rule already exists in group {id}"),
        ({"ip_protocol": "sctp", "from_port": 1, "to_port": 2}, "Invalid IP protocol sctp."),
        ({"ip_protocol": "tcp", "from_port": 0, "to_port": 22},
         "Invalid port range 0:22. Valid TCP ports should be between 1-65535"),
        ({"ip_protocol": "tcp", "from_port": 30, "to_port": 22},
         "Invalid port range 30:22. Former value cannot be greater than the later"),
        ({"ip_protocol": "icmp", "from_port": 1, "to_port": 256},
         "Invalid port range 1:256. For ICMP, the type:code must be valid"),
        ({"ip_protocol": "tcp", "from_port": "a", "to_port": 22},
         "Invalid input received: To and From ports must be integers"),
        ({"ip_protocol": "tcp"}, "Not enough parameters to build a valid rule."),
        ({"ip_protocol": "tcp", "from_port": 1, "to_port": 2, "cidr": "nonsense"},
         "nonsense is not a valid IP network."),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_with_novas_words_and_change_nothing(alice_api, fields, message):
    web = create(alice_api)
    rule(alice_api, parent_group_id=web["id"], ip_protocol="tcp", from_port=22, to_port=22)
    response = rule(alice_api, parent_group_id=web["id"], **fields)
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == message.format(id=web["id"])
    assert len(alice_api.get(f"{GROUPS}/{web['id']}", **V).json()["security_group"]["rules"]) == 1


def test_a_rule_of_a_missing_group_or_a_missing_rule_is_a_404(alice_api):
    response = rule(alice_api, parent_group_id=MISSING, ip_protocol="tcp", from_port=1, to_port=2)
    assert response.status_code == 404
    assert response.json()["itemNotFound"]["message"] == f"Security group {MISSING} does not exist"
    assert alice_api.delete(f"{RULES}/{MISSING}", **V).status_code == 404
    assert rule(alice_api, parent_group_id="not-a-uuid").status_code == 400


def test_a_malformed_group_id_is_a_400(alice_api):
    response = alice_api.get(f"{GROUPS}/not-a-uuid", **V)
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Security group id should be uuid"


def test_the_default_name_cannot_be_taken_again(alice_api):
    response = alice_api.post(
        GROUPS, {"security_group": {"name": "default", "description": ""}}, format="json", **V
    )
    assert response.status_code == 403
    assert SecurityGroup.objects.filter(name="default").count() == 1


def test_the_proxy_is_gone_from_2_36(alice_api):
    assert alice_api.get(GROUPS, **at("2.36")).status_code == 404
    response = alice_api.post(RULES, {"security_group_rule": {}}, format="json", **at("2.36"))
    assert response.status_code == 404


def test_a_delete_without_a_group_id_is_a_404_as_in_nova(alice_api):
    response = alice_api.delete(f"{GROUPS}/", **V)
    assert response.status_code == 404
