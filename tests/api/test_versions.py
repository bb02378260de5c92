"""Version documents and microversion negotiation."""

from __future__ import annotations

import pytest

from dashboard.api.microversions import MAX_VERSION
from tests.api.conftest import at

pytestmark = pytest.mark.django_db


def test_the_root_answers_api_clients_with_the_version_list(anonymous):
    response = anonymous.get("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    legacy, version = response.json()["versions"]
    assert (legacy["id"], legacy["status"], legacy["version"]) == ("v2.0", "SUPPORTED", "")
    assert legacy["links"][0]["href"] == "http://testserver/v2/"
    assert version["id"] == "v2.1"
    assert version["min_version"] == "2.1"
    assert version["version"] == str(MAX_VERSION)
    assert version["links"][0]["href"] == "http://testserver/v2.1/"


def test_the_root_answers_a_client_that_accepts_anything_with_json(anonymous):
    assert anonymous.get("/", HTTP_ACCEPT="*/*").status_code == 200


def test_the_root_sends_a_browser_to_the_instances_page(anonymous):
    response = anonymous.get(
        "/", HTTP_ACCEPT="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    )
    assert response.status_code == 302
    assert response["Location"].endswith("/instances/")


@pytest.mark.parametrize("path", ["/v2.1", "/v2.1/"])
def test_the_v21_document_gives_the_microversion_range_without_a_token(anonymous, path):
    version = anonymous.get(path).json()["version"]
    assert (version["id"], version["status"]) == ("v2.1", "CURRENT")
    assert (version["min_version"], version["version"]) == ("2.1", str(MAX_VERSION))


def test_the_advertised_maximum_is_at_least_253():
    assert MAX_VERSION.at_least("2.53")


def test_no_version_header_means_21_and_the_answer_says_so(alice_api):
    response = alice_api.get("/v2.1/servers", HTTP_OPENSTACK_API_VERSION="")
    assert response["OpenStack-API-Version"] == "compute 2.1"
    assert response["X-OpenStack-Nova-API-Version"] == "2.1"
    assert "OpenStack-API-Version" in response["Vary"]
    assert "X-OpenStack-Nova-API-Version" in response["Vary"]


def test_the_new_header_is_echoed_in_both_forms(alice_api):
    response = alice_api.get("/v2.1/servers", **at("2.60"))
    assert response["OpenStack-API-Version"] == "compute 2.60"
    assert response["X-OpenStack-Nova-API-Version"] == "2.60"


def test_the_legacy_header_is_understood(alice_api):
    response = alice_api.get(
        "/v2.1/servers", HTTP_OPENSTACK_API_VERSION="", HTTP_X_OPENSTACK_NOVA_API_VERSION="2.30"
    )
    assert response["X-OpenStack-Nova-API-Version"] == "2.30"


def test_the_new_header_wins_over_the_legacy_one(alice_api):
    response = alice_api.get(
        "/v2.1/servers",
        HTTP_OPENSTACK_API_VERSION="compute 2.40",
        HTTP_X_OPENSTACK_NOVA_API_VERSION="2.30",
    )
    assert response["X-OpenStack-Nova-API-Version"] == "2.40"


def test_latest_means_the_maximum(alice_api):
    response = alice_api.get("/v2.1/servers", **at("latest"))
    assert response["OpenStack-API-Version"] == f"compute {MAX_VERSION}"


@pytest.mark.parametrize("version", ["2.0", "2.999", "3.1"])
def test_a_version_outside_the_range_gets_novas_406(alice_api, version):
    response = alice_api.get("/v2.1/servers", **at(version))
    assert response.status_code == 406
    assert response.json() == {
        "computeFault": {
            "code": 406,
            "message": f"Version {version} is not supported by the API. "
            f"Minimum is 2.1 and maximum is {MAX_VERSION}.",
        }
    }


def test_a_malformed_version_is_a_400(alice_api):
    response = alice_api.get("/v2.1/servers", **at("2.x"))
    assert response.status_code == 400
    assert "is of invalid format" in response.json()["badRequest"]["message"]


def test_an_unknown_compute_path_is_novas_404(alice_api):
    response = alice_api.get("/v2.1/os-no-such-thing")
    assert response.status_code == 404
    assert response.json()["itemNotFound"]["code"] == 404


@pytest.mark.parametrize(
    ("version", "constant", "expected"),
    [
        ((2, 9), "2.10", False),
        ((2, 10), "2.9", True),
        ((2, 47), "2.47", True),
        ((2, 46), "2.47", False),
        ((3, 0), "2.99", True),
        ((2, 89), "2.90", False),
    ],
)
def test_at_least_compares_numbers_not_text(version, constant, expected):
    from dashboard.api.microversions import APIVersion

    assert APIVersion(*version).at_least(constant) is expected
    assert APIVersion(*version).at_least(APIVersion.parse(constant)) is expected


def test_a_malformed_constant_is_still_refused_every_time():
    from dashboard.api.faults import APIFault

    for _ in range(2):  # parsed once per process: a failure is never remembered as a version
        with pytest.raises(APIFault):
            MAX_VERSION.at_least("2.x")


def test_each_listed_version_link_answers_its_own_version_document(anonymous):
    for listed in anonymous.get("/", HTTP_ACCEPT="application/json").json()["versions"]:
        shown = anonymous.get(listed["links"][0]["href"]).json()["version"]
        assert shown["id"] == listed["id"]
        assert shown["links"][0] == listed["links"][0]
