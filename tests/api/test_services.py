"""``os-services``: the compute hosts' service records, for admins."""

from __future__ import annotations

import uuid

import pytest

from compute.models import Host, PowerSyncPass
from tests.api.conftest import EXTRAS, at

pytestmark = pytest.mark.django_db

SERVICES = "/v2.1/os-services"


def update(client, host, body, **headers):
    return client.put(f"{SERVICES}/{host.uuid}", body, format="json", **headers)


def test_services_are_for_admins_only(alice_api, host):
    response = alice_api.get(SERVICES)
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:os-services:list to be performed."
    )
    assert update(alice_api, host, {"status": "disabled"}).status_code == 403
    assert not Host.objects.get(pk=host.pk).disabled


def test_a_service_is_listed_in_novas_shape(admin_api, host):
    (service,) = admin_api.get(SERVICES, **EXTRAS).json()["services"]
    assert service["id"] == str(host.uuid)
    assert service["binary"] == "nova-compute"
    assert (service["host"], service["zone"]) == ("node1", "nova")
    assert (service["status"], service["state"]) == ("enabled", "up")
    assert service["forced_down"] is False
    assert service["disabled_reason"] is None
    assert service["vmdash:host_status"] == "UP"


def test_ids_are_integers_before_253_and_forced_down_appears_in_211(admin_api, host):
    (old,) = admin_api.get(SERVICES, **at("2.10")).json()["services"]
    assert old["id"] == host.pk
    assert "forced_down" not in old
    (newer,) = admin_api.get(SERVICES, **at("2.11")).json()["services"]
    assert newer["forced_down"] is False


def test_services_filter_on_host_and_binary(admin_api, host):
    assert len(admin_api.get(SERVICES + "?host=node1").json()["services"]) == 1
    assert admin_api.get(SERVICES + "?host=node2").json()["services"] == []
    assert admin_api.get(SERVICES + "?binary=nova-scheduler").json()["services"] == []


def test_the_last_power_sync_is_reported(admin_api, host):
    (service,) = admin_api.get(SERVICES, **EXTRAS).json()["services"]
    assert service["vmdash:last_sync"] is None
    PowerSyncPass.objects.create(host=host, checked=3, changes=[{"instance": "x"}])
    (service,) = admin_api.get(SERVICES, **EXTRAS).json()["services"]
    assert service["vmdash:last_sync"]["checked"] == 3
    assert service["vmdash:last_sync"]["changes"] == 1


def test_a_service_is_disabled_with_a_reason_and_enabled_again(admin_api, host):
    response = update(
        admin_api, host, {"status": "disabled", "disabled_reason": "kernel upgrade"}, **EXTRAS
    )
    assert response.status_code == 200
    service = response.json()["service"]
    assert (service["status"], service["disabled_reason"]) == ("disabled", "kernel upgrade")
    assert service["vmdash:host_status"] == "MAINTENANCE"
    enabled = update(admin_api, host, {"status": "enabled"}).json()["service"]
    assert (enabled["status"], enabled["disabled_reason"]) == ("enabled", None)


def test_a_service_is_forced_down_and_up(admin_api, host):
    down = update(admin_api, host, {"forced_down": True}).json()["service"]
    assert (down["forced_down"], down["state"]) == (True, "down")
    up = update(admin_api, host, {"forced_down": False}).json()["service"]
    assert (up["forced_down"], up["state"]) == (False, "up")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "No updates were requested. Fields 'status' or 'forced_down' should be specified."),
        (
            {"status": "enabled", "disabled_reason": "x"},
            "Specifying 'disabled_reason' with status 'enabled' is invalid.",
        ),
        ({"status": "asleep"}, "Invalid input for field/attribute status."),
        ({"disabled_reason": "x" * 256}, "Invalid input for field/attribute disabled_reason."),
        ({"colour": "red"}, "'colour' was unexpected"),
    ],
)
def test_novas_validation_errors_are_400s(admin_api, host, body, message):
    response = update(admin_api, host, body)
    assert response.status_code == 400
    assert message in response.json()["badRequest"]["message"]
    assert Host.objects.get(pk=host.pk).version == host.version


def test_a_path_that_is_not_a_uuid_is_a_400_and_an_unknown_uuid_a_404(admin_api, host):
    response = admin_api.put(f"{SERVICES}/node1", {"status": "disabled"}, format="json")
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Invalid uuid node1"
    other = uuid.uuid4()
    missing = admin_api.put(f"{SERVICES}/{other}", {"status": "disabled"}, format="json")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == f"Service {other} could not be found."


def test_before_253_the_switches_are_named_in_the_path(admin_api, host):
    body = {"host": "node1", "binary": "nova-compute", "disabled_reason": "maintenance"}
    response = admin_api.put(f"{SERVICES}/disable-log-reason", body, format="json", **at("2.52"))
    assert response.json() == {
        "service": {
            "host": "node1",
            "binary": "nova-compute",
            "status": "disabled",
            "disabled_reason": "maintenance",
        }
    }
    body = {"host": "node1", "binary": "nova-compute"}
    enabled = admin_api.put(f"{SERVICES}/enable", body, format="json", **at("2.52"))
    assert enabled.json()["service"]["status"] == "enabled"
    forced = {**body, "forced_down": True}
    assert (
        admin_api.put(f"{SERVICES}/force-down", forced, format="json", **at("2.10")).status_code
        == 404
    )
    down = admin_api.put(f"{SERVICES}/force-down", forced, format="json", **at("2.11"))
    assert down.json()["service"] == {**body, "forced_down": True}
    missing = {"host": "node9", "binary": "nova-compute"}
    assert (
        admin_api.put(f"{SERVICES}/disable", missing, format="json", **at("2.52")).status_code
        == 404
    )
