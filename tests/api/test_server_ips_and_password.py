"""A server's addresses (``/ips``), its password (``os-server-password``), the deprecated
``os-tenant-networks`` proxy, and the disk config a resize sets — as Nova answers them."""

from __future__ import annotations

import pytest

from compute.models import Instance
from compute.networks import PRIVATE
from tests.api.conftest import at

pytestmark = pytest.mark.django_db


def test_ips_lists_a_servers_addresses_by_network_with_version_and_address(
    alice_api, make_instance
):
    server = make_instance()
    address = server.addresses["private"][0]["addr"]
    response = alice_api.get(f"/v2.1/servers/{server.uuid}/ips")
    assert response.status_code == 200
    assert response.json() == {"addresses": {"private": [{"version": 4, "addr": address}]}}
    by_network = alice_api.get(f"/v2.1/servers/{server.uuid}/ips/private")
    assert by_network.json() == {"private": [{"version": 4, "addr": address}]}


def test_ips_of_a_network_the_server_is_not_on_is_novas_404(alice_api, make_instance):
    server = make_instance()
    response = alice_api.get(f"/v2.1/servers/{server.uuid}/ips/public")
    assert response.status_code == 404
    assert response.json() == {
        "itemNotFound": {"code": 404, "message": "Instance is not a member of specified network"}
    }


def test_ips_of_another_projects_server_is_not_found(alice_api, make_instance, bob_ctx):
    theirs = make_instance(context=bob_ctx)
    assert alice_api.get(f"/v2.1/servers/{theirs.uuid}/ips").status_code == 404


def test_a_server_without_a_posted_password_reads_empty(alice_api, make_instance):
    server = make_instance()
    response = alice_api.get(f"/v2.1/servers/{server.uuid}/os-server-password")
    assert response.status_code == 200
    assert response.json() == {"password": ""}


def test_a_stored_password_reads_joined_and_clears(alice_api, make_instance):
    server = make_instance()
    Instance.objects.filter(pk=server.pk).update(
        system_metadata={**server.system_metadata, "password_0": "abc", "password_1": "def"}
    )
    path = f"/v2.1/servers/{server.uuid}/os-server-password"
    assert alice_api.get(path).json() == {"password": "abcdef"}
    assert alice_api.delete(path).status_code == 204
    assert alice_api.get(path).json() == {"password": ""}
    server.refresh_from_db()
    assert server.system_metadata["password_0"] == ""


def test_password_of_a_missing_server_is_a_404(alice_api):
    missing = "9f1b3f0e-0000-4000-8000-000000000000"
    assert alice_api.get(f"/v2.1/servers/{missing}/os-server-password").status_code == 404
    assert alice_api.delete(f"/v2.1/servers/{missing}/os-server-password").status_code == 404


def test_tenant_networks_proxy_the_private_network_before_2_36(alice_api):
    listed = alice_api.get("/v2.1/os-tenant-networks", **at("2.35"))
    assert listed.json() == {"networks": [{"id": PRIVATE.id, "cidr": "None", "label": "private"}]}
    shown = alice_api.get(f"/v2.1/os-tenant-networks/{PRIVATE.id}", **at("2.35"))
    assert shown.json() == {"network": {"id": PRIVATE.id, "cidr": "None", "label": "private"}}
    missing = alice_api.get("/v2.1/os-tenant-networks/nope", **at("2.35"))
    assert missing.json() == {"itemNotFound": {"code": 404, "message": "Network not found"}}
    gone = alice_api.get("/v2.1/os-tenant-networks", **at("2.36"))
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("created", "asked", "shown"),
    [("MANUAL", "AUTO", "AUTO"), ("AUTO", "MANUAL", "MANUAL"), ("AUTO", None, "MANUAL")],
)
def test_a_resize_sets_the_disk_config_as_novas_does(
    alice_api, agent, catalog, created, asked, shown
):
    """Nova saves ``auto_disk_config = asked or False`` with the resize: no value is MANUAL."""
    from tests.conftest import CIRROS

    body = {"server": {"name": "d", "flavorRef": "1", "imageRef": CIRROS, "networks": "auto",
                       "OS-DCF:diskConfig": created}}  # fmt: skip
    server_id = alice_api.post("/v2.1/servers", body, format="json").json()["server"]["id"]
    agent.run_pending()
    resize: dict = {"flavorRef": "2"}
    if asked is not None:
        resize["OS-DCF:diskConfig"] = asked
    response = alice_api.post(
        f"/v2.1/servers/{server_id}/action", {"resize": resize}, format="json"
    )
    assert response.status_code == 202
    agent.run_pending()
    shown_now = alice_api.get(f"/v2.1/servers/{server_id}").json()["server"]
    assert shown_now["OS-DCF:diskConfig"] == shown


def test_inject_network_info_is_accepted_for_an_admin_and_refused_a_member(
    admin_api, alice_api, make_instance
):
    server = make_instance()
    path = f"/v2.1/servers/{server.uuid}/action"
    assert admin_api.post(path, {"injectNetworkInfo": None}, format="json").status_code == 202
    refused = alice_api.post(path, {"injectNetworkInfo": None}, format="json")
    assert refused.status_code == 403
    assert refused.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:os-admin-actions:inject_network_info to be performed."
    )
    missing = "9f1b3f0e-0000-4000-8000-000000000000"
    gone = admin_api.post(
        f"/v2.1/servers/{missing}/action", {"injectNetworkInfo": None}, format="json"
    )
    assert gone.status_code == 404
