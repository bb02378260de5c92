"""The Neutron v2.0 slice under /network: the one network, its subnet, the ports of the
caller's servers, the extensions; Neutron's bodies, filters and errors; writes refused."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from compute.models import Project
from compute.networks import PRIVATE, PRIVATE_SUBNET, mac_address, port_id, security_group_id
from tests.api.conftest import at, password_body

pytestmark = pytest.mark.django_db

NET = "/network/v2.0"
_V235 = at("2.35")


def neutron_error(type_: str, message: str) -> dict:
    return {"NeutronError": {"type": type_, "message": message, "detail": ""}}


# --- discovery ------------------------------------------------------------------------------
def test_the_token_catalog_lists_the_network_service_at_network(anonymous, alice):
    body = anonymous.post(
        "/identity/v3/auth/tokens", password_body("alice", "alice-pass", "demo"), format="json"
    ).json()
    (entry,) = [e for e in body["token"]["catalog"] if e["type"] == "network"]
    assert entry["name"] == "neutron"
    assert {e["url"] for e in entry["endpoints"]} == {"http://testserver/network"}
    assert {e["interface"] for e in entry["endpoints"]} == {"public", "internal", "admin"}


@pytest.mark.parametrize("path", ["/network", "/network/"])
def test_the_version_list_names_v2_0_without_a_token(anonymous, path):
    response = anonymous.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "versions": [
            {
                "id": "v2.0",
                "status": "CURRENT",
                "links": [{"rel": "self", "href": "http://testserver/network/v2.0/"}],
            }
        ]
    }


def test_the_v2_0_root_lists_networks_subnets_and_ports(alice_api):
    resources = alice_api.get(f"{NET}/").json()["resources"]
    assert [(r["name"], r["collection"]) for r in resources][:3] == [
        ("network", "networks"), ("subnet", "subnets"), ("port", "ports")
    ]  # fmt: skip
    assert resources[0]["links"][0]["href"] == "http://testserver/network/v2.0/networks"


def test_without_a_token_the_api_answers_keystones_401(anonymous):
    response = anonymous.get(f"{NET}/networks")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401


# --- networks -------------------------------------------------------------------------------
def test_every_caller_sees_the_shared_private_network_with_neutrons_body(alice_api, admin_user):
    (network,) = alice_api.get(f"{NET}/networks").json()["networks"]
    admin_project = Project.objects.get(name="admin").id
    assert network == {
        "id": PRIVATE.id,
        "name": "private",
        "tenant_id": admin_project,
        "project_id": admin_project,
        "admin_state_up": True,
        "status": "ACTIVE",
        "subnets": [PRIVATE_SUBNET.id],
        "shared": True,
        "mtu": 1500,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "router:external": False,
        "port_security_enabled": True,
        "l2_adjacency": True,
        "description": "",
        "tags": [],
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "revision_number": 1,
    }


def test_a_network_is_shown_by_id_and_filtered_by_name(alice_api):
    assert alice_api.get(f"{NET}/networks/{PRIVATE.id}").json()["network"]["name"] == "private"
    assert [n["id"] for n in alice_api.get(f"{NET}/networks?name=private").json()["networks"]] == [
        PRIVATE.id
    ]
    assert alice_api.get(f"{NET}/networks?name=public").json() == {"networks": []}
    assert alice_api.get(f"{NET}/networks?shared=true").json()["networks"]
    assert alice_api.get(f"{NET}/networks?shared=False").json() == {"networks": []}


def test_a_network_by_name_in_the_path_is_not_found_as_in_neutron(alice_api):
    """openstack server create --network NAME asks for /networks/NAME first, then filters."""
    response = alice_api.get(f"{NET}/networks/private")
    assert response.status_code == 404
    assert response.json() == neutron_error(
        "NetworkNotFound", "Network private could not be found."
    )


def test_fields_picks_the_attributes_shown(alice_api):
    body = alice_api.get(f"{NET}/networks?fields=id&fields=name").json()
    assert body == {"networks": [{"id": PRIVATE.id, "name": "private"}]}
    shown = alice_api.get(f"{NET}/networks/{PRIVATE.id}?fields=status").json()
    assert shown == {"network": {"status": "ACTIVE"}}


def test_a_filter_on_an_unknown_attribute_is_neutrons_400(alice_api):
    response = alice_api.get(f"{NET}/networks?colour=red")
    assert response.status_code == 400
    assert response.json() == neutron_error(
        "HTTPBadRequest", "['colour'] is invalid attribute for filtering"
    )


def test_a_bad_boolean_filter_limit_or_sort_is_a_400(alice_api):
    for query in ("shared=perhaps", "limit=x", "limit=-1", "sort_key=colour",
                  "sort_key=name&sort_dir=up"):  # fmt: skip
        response = alice_api.get(f"{NET}/networks?{query}")
        assert response.status_code == 400, query
        assert response.json()["NeutronError"]["type"] == "HTTPBadRequest"


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("post", "/networks", "create_network"),
        ("put", f"/networks/{PRIVATE.id}", "update_network"),
        ("delete", f"/networks/{PRIVATE.id}", "delete_network"),
        ("post", "/subnets", "create_subnet"),
        ("put", f"/subnets/{PRIVATE_SUBNET.id}", "update_subnet"),
        ("delete", f"/subnets/{PRIVATE_SUBNET.id}", "delete_subnet"),
        ("post", "/ports", "create_port"),
    ],
)
def test_writes_are_refused_by_policy_and_change_nothing(alice_api, method, path, action):
    response = getattr(alice_api, method)(f"{NET}{path}", {"network": {"name": "x"}}, format="json")
    assert response.status_code == 403
    assert response.json() == neutron_error(
        "PolicyNotAuthorized", f"{action} is disallowed by policy"
    )
    assert [n["name"] for n in alice_api.get(f"{NET}/networks").json()["networks"]] == ["private"]


def test_a_write_to_a_missing_network_is_a_404_first(alice_api):
    missing = "9f1b3f0e-0000-4000-8000-000000000000"
    response = alice_api.delete(f"{NET}/networks/{missing}")
    assert response.status_code == 404
    assert response.json() == neutron_error(
        "NetworkNotFound", f"Network {missing} could not be found."
    )


# --- subnets --------------------------------------------------------------------------------
def test_the_private_subnet_holds_the_addresses_servers_get(alice_api):
    (subnet,) = alice_api.get(f"{NET}/subnets?network_id={PRIVATE.id}").json()["subnets"]
    assert subnet["id"] == PRIVATE_SUBNET.id
    assert subnet["cidr"] == "10.0.0.0/16"
    assert subnet["ip_version"] == 4
    assert subnet["gateway_ip"] == "10.0.0.1"
    assert subnet["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.15.254"}]
    assert subnet["enable_dhcp"] is True
    shown = alice_api.get(f"{NET}/subnets/{PRIVATE_SUBNET.id}").json()["subnet"]
    assert shown == subnet


def test_a_missing_subnet_is_neutrons_404(alice_api):
    response = alice_api.get(f"{NET}/subnets/nope")
    assert response.status_code == 404
    assert response.json() == neutron_error("SubnetNotFound", "Subnet nope could not be found.")


# --- ports ----------------------------------------------------------------------------------
def test_a_servers_port_carries_its_address_on_the_private_network(alice_api, make_instance):
    server = make_instance()
    address = server.addresses["private"][0]["addr"]
    (port,) = alice_api.get(f"{NET}/ports?device_id={server.uuid}").json()["ports"]
    expected_id = port_id(str(server.uuid), PRIVATE)
    assert port["id"] == expected_id
    assert port["network_id"] == PRIVATE.id
    assert port["device_id"] == str(server.uuid)
    assert port["device_owner"] == "compute:nova"
    assert port["project_id"] == port["tenant_id"] == server.project_id
    assert port["fixed_ips"] == [{"subnet_id": PRIVATE_SUBNET.id, "ip_address": address}]
    assert port["mac_address"] == mac_address(expected_id)
    assert port["mac_address"].startswith("fa:16:3e:")
    assert port["status"] == "ACTIVE"
    assert port["security_groups"] == [security_group_id(server.project_id, "default")]
    assert "binding:host_id" not in port  # the admin's to see
    assert alice_api.get(f"{NET}/ports/{expected_id}").json() == {"port": port}


def test_a_stopped_servers_port_is_down(alice_api, make_instance):
    server = make_instance("stopped")
    (port,) = alice_api.get(f"{NET}/ports?device_id={server.uuid}").json()["ports"]
    assert port["status"] == "DOWN"


def test_ports_filter_by_network_address_and_status(alice_api, make_instance):
    one, two = make_instance(name="one"), make_instance("stopped", name="two")
    ports = alice_api.get(f"{NET}/ports?network_id={PRIVATE.id}").json()["ports"]
    assert {p["device_id"] for p in ports} == {str(one.uuid), str(two.uuid)}
    address = one.addresses["private"][0]["addr"]
    by_ip = alice_api.get(f"{NET}/ports?fixed_ips=ip_address%3D{address}").json()["ports"]
    assert [p["device_id"] for p in by_ip] == [str(one.uuid)]
    down = alice_api.get(f"{NET}/ports?status=DOWN").json()["ports"]
    assert [p["device_id"] for p in down] == [str(two.uuid)]
    both = alice_api.get(f"{NET}/ports?device_id={one.uuid}&device_id={two.uuid}").json()
    assert len(both["ports"]) == 2
    assert alice_api.get(f"{NET}/ports?device_id=not-a-uuid").json() == {"ports": []}


def test_ports_page_with_limit_and_marker(alice_api, make_instance):
    make_instance(name="one"), make_instance(name="two"), make_instance(name="three")
    first = alice_api.get(f"{NET}/ports?limit=2").json()
    assert len(first["ports"]) == 2
    (link,) = first["ports_links"]
    assert link["rel"] == "next"
    assert f"marker={first['ports'][1]['id']}" in link["href"]
    rest = alice_api.get(f"{NET}/ports?limit=2&marker={first['ports'][1]['id']}").json()
    assert len(rest["ports"]) == 1
    assert "ports_links" not in rest


def test_a_member_sees_only_its_projects_ports(alice_api, bob_api, make_instance, bob_ctx):
    mine = make_instance(name="mine")
    theirs = make_instance(name="theirs", context=bob_ctx)
    assert [p["device_id"] for p in alice_api.get(f"{NET}/ports").json()["ports"]] == [
        str(mine.uuid)
    ]
    hidden = port_id(str(theirs.uuid), PRIVATE)
    response = alice_api.get(f"{NET}/ports/{hidden}")
    assert response.status_code == 404
    assert response.json() == neutron_error("PortNotFound", f"Port {hidden} could not be found.")
    assert bob_api.get(f"{NET}/ports/{hidden}").status_code == 200


def test_an_admin_sees_every_port_with_its_binding(admin_api, make_instance, bob_ctx, host):
    make_instance(name="mine"), make_instance(name="theirs", context=bob_ctx)
    ports = admin_api.get(f"{NET}/ports").json()["ports"]
    assert len(ports) == 2
    assert {p["binding:host_id"] for p in ports} == {host.host}
    assert ports[0]["binding:vnic_type"] == "normal"


def test_a_deleted_server_has_no_port(alice_api, make_instance):
    server = make_instance("deleted")
    assert alice_api.get(f"{NET}/ports?device_id={server.uuid}").json() == {"ports": []}


def test_a_port_cannot_be_changed_or_deleted(alice_api, make_instance):
    server = make_instance()
    port = port_id(str(server.uuid), PRIVATE)
    for method in ("put", "delete"):
        response = getattr(alice_api, method)(f"{NET}/ports/{port}", {"port": {}}, format="json")
        assert response.status_code == 403
        action = "update_port" if method == "put" else "delete_port"
        assert response.json() == neutron_error(
            "PolicyNotAuthorized", f"{action} is disallowed by policy"
        )
    assert alice_api.get(f"{NET}/ports/{port}").status_code == 200


# --- extensions and unknown paths -----------------------------------------------------------
def test_extensions_list_the_attributes_served(alice_api):
    extensions = alice_api.get(f"{NET}/extensions").json()["extensions"]
    aliases = {e["alias"] for e in extensions}
    assert {"binding", "port-security", "net-mtu", "filter-validation"} <= aliases
    assert "security-group" in aliases and "router" not in aliases
    assert set(extensions[0]) == {"alias", "name", "description", "updated", "links"}
    shown = alice_api.get(f"{NET}/extensions/net-mtu").json()["extension"]
    assert shown["name"] == "Network MTU"


def test_an_unknown_extension_is_neutrons_404(alice_api):
    response = alice_api.get(f"{NET}/extensions/router")
    assert response.status_code == 404
    assert response.json() == neutron_error(
        "HTTPNotFound", "Extension with alias router does not exist"
    )


def test_an_unknown_path_under_network_is_a_json_404(alice_api):
    for path in (f"{NET}/routers", f"{NET}/floatingips", "/network/v3"):
        response = alice_api.get(path)
        assert response.status_code == 404
        assert response.json() == neutron_error("HTTPNotFound", "The resource could not be found.")


def test_an_unserved_method_is_a_json_405_with_allow(alice):
    from dashboard.api.identity import tokens

    issued = tokens.token_issue(
        user=alice, project=Project.objects.get(name="demo"), methods=["password"]
    )
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=issued.token)
    response = client.patch(f"{NET}/networks", {}, format="json")
    assert response.status_code == 405
    assert response.json()["NeutronError"]["type"] == "HTTPMethodNotAllowed"
    assert "GET" in response["Allow"]


# --- security groups (kept through Nova's proxy, read here) -----------------------------------
def test_security_groups_are_listed_as_neutron_shows_them(alice_api):
    body = {"security_group": {"name": "web", "description": "d"}}
    made = alice_api.post("/v2.1/os-security-groups", body, format="json", **_V235).json()
    group_id = made["security_group"]["id"]
    rule = {"security_group_rule": {"parent_group_id": group_id, "ip_protocol": "tcp",
                                    "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/24"}}  # fmt: skip
    alice_api.post("/v2.1/os-security-group-rules", rule, format="json", **_V235)
    groups = alice_api.get(f"{NET}/security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default", "web"]
    (web,) = alice_api.get(f"{NET}/security-groups?name=web").json()["security_groups"]
    (kept,) = web["security_group_rules"]
    assert (kept["direction"], kept["ethertype"], kept["protocol"]) == ("ingress", "IPv4", "tcp")
    assert (kept["port_range_min"], kept["port_range_max"]) == (22, 22)
    assert kept["remote_ip_prefix"] == "10.0.0.0/24"
    assert kept["security_group_id"] == group_id
    assert alice_api.get(f"{NET}/security-groups/{group_id}").json()["security_group"] == web
    rules = alice_api.get(f"{NET}/security-group-rules").json()["security_group_rules"]
    assert [r["id"] for r in rules] == [kept["id"]]
    shown = alice_api.get(f"{NET}/security-group-rules/{kept['id']}").json()
    assert shown == {"security_group_rule": kept}


def test_a_missing_security_group_or_rule_is_neutrons_404(alice_api):
    for path, type_, message in (
        (f"{NET}/security-groups/nope", "SecurityGroupNotFound",
         "Security group nope does not exist"),
        (f"{NET}/security-group-rules/nope", "SecurityGroupRuleNotFound",
         "Security group rule nope does not exist"),
    ):  # fmt: skip
        response = alice_api.get(path)
        assert response.status_code == 404
        assert response.json() == neutron_error(type_, message)


def test_security_groups_are_written_through_novas_proxy_only(alice_api):
    (default,) = alice_api.get(f"{NET}/security-groups").json()["security_groups"]
    for method, path, action in (
        ("post", "/security-groups", "create_security_group"),
        ("put", f"/security-groups/{default['id']}", "update_security_group"),
        ("delete", f"/security-groups/{default['id']}", "delete_security_group"),
        ("post", "/security-group-rules", "create_security_group_rule"),
    ):
        response = getattr(alice_api, method)(f"{NET}{path}", {}, format="json")
        assert response.status_code == 403
        assert response.json() == neutron_error(
            "PolicyNotAuthorized", f"{action} is disallowed by policy"
        )


def test_a_projects_network_quotas_are_neutrons_defaults_read_only(alice_api, bob_api, alice):
    from compute.models import Project

    demo = Project.objects.get(name="demo").pk
    shown = alice_api.get(f"/network/v2.0/quotas/{demo}")
    assert shown.status_code == 200
    assert shown.json()["quota"]["port"] == 500 and shown.json()["quota"]["network"] == 100
    assert bob_api.get(f"/network/v2.0/quotas/{demo}").status_code == 403
    refused = alice_api.put(f"/network/v2.0/quotas/{demo}", {"quota": {"port": 1}}, format="json")
    assert refused.status_code == 403
    assert refused.json()["NeutronError"]["type"] == "PolicyNotAuthorized"


def test_a_servers_addresses_carry_the_mac_of_its_port(alice_api, make_instance):
    """Nova shows each address with ``OS-EXT-IPS-MAC:mac_addr``: the port's MAC."""
    server = make_instance("active")
    (address,) = alice_api.get(f"/v2.1/servers/{server.uuid}").json()["server"]["addresses"][
        "private"
    ]
    (port,) = alice_api.get(f"/network/v2.0/ports?device_id={server.uuid}").json()["ports"]
    assert address["OS-EXT-IPS-MAC:mac_addr"] == port["mac_address"]
    assert address["OS-EXT-IPS:type"] == "fixed"
    assert address["addr"] == port["fixed_ips"][0]["ip_address"]
