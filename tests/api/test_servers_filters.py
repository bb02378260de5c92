"""``GET /servers`` filters, sorting and pagination, as Nova reads its query string."""

from __future__ import annotations

import pytest
from django.utils import timezone

from compute.services import instance_action
from tests.api.conftest import at
from tests.conftest import DEBIAN, fresh

pytestmark = pytest.mark.django_db

DETAIL = "/v2.1/servers/detail"


def names(response):
    assert response.status_code == 200, response.content
    return sorted(s["name"] for s in response.json()["servers"])


@pytest.fixture
def three(make_instance):
    """An active, a stopped and a paused server of alice's."""
    return {
        "up": make_instance("active", name="up"),
        "off": make_instance("stopped", name="off"),
        "frozen": make_instance("paused", name="frozen"),
    }


#: query string → the servers of ``three`` it selects
MEMBER_FILTERS: list[tuple[str, list[str]]] = [
    ("status=ACTIVE", ["up"]),
    ("status=shutoff", ["off"]),
    ("status=ACTIVE&status=PAUSED", ["frozen", "up"]),
    ("name=fro", ["frozen"]),
    ("image=3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0001", ["frozen", "off", "up"]),
    (f"image={DEBIAN}", []),
    ("flavor=1", ["frozen", "off", "up"]),
    ("flavor=2", []),
    ("ip=10%5C.0%5C.", ["frozen", "off", "up"]),
    ("ip=192", []),
    ("reservation_id=r-zzzzzzzz", []),
    ("host=elsewhere", ["frozen", "off", "up"]),  # admins only: dropped for members
    ("colour=red", ["frozen", "off", "up"]),  # unknown before 2.75: ignored
]


def test_member_filters_select_the_servers_nova_would(alice_api, three):
    for query, expected in MEMBER_FILTERS:
        assert names(alice_api.get(f"{DETAIL}?{query}", **at("2.74"))) == expected, query
    up = three["up"]
    mine = alice_api.get(f"{DETAIL}?reservation_id=r-{up.uuid.hex[:8]}")
    assert names(mine) == ["up"]


def test_status_active_also_matches_an_active_server_that_is_rebooting(alice_api, three, alice_ctx):
    instance_action(context=fresh(alice_ctx), instance_uuid=str(three["up"].uuid), action="reboot")
    assert names(alice_api.get(f"{DETAIL}?status=ACTIVE")) == ["up"]
    assert names(alice_api.get(f"{DETAIL}?status=REBOOT")) == ["up"]
    assert names(alice_api.get(f"{DETAIL}?status=HARD_REBOOT")) == []


def test_an_unknown_status_is_a_400_from_238_and_an_empty_list_before(alice_api, make_instance):
    make_instance()
    response = alice_api.get(f"{DETAIL}?status=SLEEPY", **at("2.38"))
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Invalid status value"
    assert names(alice_api.get(f"{DETAIL}?status=SLEEPY", **at("2.37"))) == []


def test_a_member_cannot_list_deleted_servers_by_status(alice_api, db):
    response = alice_api.get(f"{DETAIL}?status=DELETED")
    assert response.status_code == 403
    assert (
        response.json()["forbidden"]["message"] == "Only administrators may list deleted instances"
    )


def test_an_admin_lists_deleted_servers(admin_api, three, agent, alice_ctx):
    instance_action(context=fresh(alice_ctx), instance_uuid=str(three["off"].uuid), action="delete")
    agent.run_pending()
    deleted = admin_api.get(f"{DETAIL}?all_tenants=1&deleted=true").json()["servers"]
    assert [(s["name"], s["status"]) for s in deleted] == [("off", "DELETED")]
    assert names(admin_api.get(f"{DETAIL}?all_tenants=1&status=DELETED")) == ["off"]


def test_changes_since_includes_servers_deleted_since(alice_api, three, agent, alice_ctx):
    before = timezone.now().isoformat()
    instance_action(context=fresh(alice_ctx), instance_uuid=str(three["off"].uuid), action="delete")
    agent.run_pending()
    response = alice_api.get(DETAIL, {"changes-since": before})
    assert [(s["name"], s["status"]) for s in response.json()["servers"]] == [("off", "DELETED")]


def test_changes_since_after_changes_before_is_a_400(alice_api, db):
    response = alice_api.get(
        DETAIL, {"changes-since": "2030-01-01T00:00:00Z", "changes-before": "2020-01-01T00:00:00Z"}
    )
    assert response.status_code == 400


def test_a_malformed_changes_since_is_a_400(alice_api, db):
    assert alice_api.get(DETAIL, {"changes-since": "yesterday"}).status_code == 400


def test_admin_filters_on_host_and_on_attributes_nobody_has(admin_api, three):
    assert names(admin_api.get(f"{DETAIL}?all_tenants=1&host=elsewhere")) == []
    assert names(admin_api.get(f"{DETAIL}?all_tenants=1&host=node1")) == ["frozen", "off", "up"]
    assert names(admin_api.get(f"{DETAIL}?all_tenants=1&key_name=mykey")) == []
    assert names(admin_api.get(f"{DETAIL}?all_tenants=1&kernel_id=")) == ["frozen", "off", "up"]


def test_filters_arrive_with_their_microversion(alice_api, three, alice_ctx):
    instance_action(context=fresh(alice_ctx), instance_uuid=str(three["up"].uuid), action="lock")
    everyone = ["frozen", "off", "up"]
    # vm_state and power_state reach members in 2.83; before they are dropped silently
    assert names(alice_api.get(f"{DETAIL}?vm_state=paused", **at("2.82"))) == everyone
    assert names(alice_api.get(f"{DETAIL}?vm_state=paused", **at("2.83"))) == ["frozen"]
    assert names(alice_api.get(f"{DETAIL}?power_state=4", **at("2.83"))) == ["off"]
    # locked arrives in 2.73
    assert names(alice_api.get(f"{DETAIL}?locked=true", **at("2.73"))) == ["up"]
    assert names(alice_api.get(f"{DETAIL}?locked=false", **at("2.73"))) == ["frozen", "off"]
    assert alice_api.get(f"{DETAIL}?locked=maybe", **at("2.73")).status_code == 400
    # tags (2.26): no server has tags, so tags= matches nothing and not-tags= everything
    assert names(alice_api.get(f"{DETAIL}?tags=web", **at("2.26"))) == []
    assert names(alice_api.get(f"{DETAIL}?not-tags=web", **at("2.26"))) == everyone


def test_unknown_parameters_are_refused_from_275(alice_api, db):
    response = alice_api.get(f"{DETAIL}?colour=red", **at("2.75"))
    assert response.status_code == 400
    assert "'colour' was unexpected" in response.json()["badRequest"]["message"]


def test_an_admin_filtering_on_a_joined_table_is_refused(admin_api, db):
    assert admin_api.get(f"{DETAIL}?security_groups=x").status_code == 400


# --- sorting and pages --------------------------------------------------------------------------
def test_servers_sort_by_name_either_way(alice_api, three):
    def order(query):
        return [s["name"] for s in alice_api.get(f"{DETAIL}?{query}").json()["servers"]]

    assert order("sort_key=display_name&sort_dir=asc") == ["frozen", "off", "up"]
    assert order("sort_key=display_name&sort_dir=desc") == ["up", "off", "frozen"]
    assert order("") == ["frozen", "off", "up"]  # newest first


def test_a_bad_sort_direction_is_a_400(alice_api, db):
    assert alice_api.get(f"{DETAIL}?sort_key=display_name&sort_dir=up").status_code == 400


def test_sort_keys_nova_ignores_are_ignored_until_275(alice_api, db):
    assert alice_api.get(f"{DETAIL}?sort_key=host").status_code == 200  # admins only: dropped
    assert alice_api.get(f"{DETAIL}?sort_key=vcpus", **at("2.74")).status_code == 200
    assert alice_api.get(f"{DETAIL}?sort_key=vcpus", **at("2.75")).status_code == 400


def test_limit_and_marker_page_through_servers_with_a_next_link(alice_api, three):
    first = alice_api.get(f"{DETAIL}?limit=2").json()
    assert [s["name"] for s in first["servers"]] == ["frozen", "off"]
    (link,) = first["servers_links"]
    assert link["rel"] == "next"
    assert f"marker={three['off'].uuid}" in link["href"]
    assert "limit=2" in link["href"]
    second = alice_api.get(link["href"].removeprefix("http://testserver")).json()
    assert [s["name"] for s in second["servers"]] == ["up"]
    assert "servers_links" not in second


@pytest.mark.parametrize("query", ["limit=-1", "limit=lots", "marker=nonsense"])
def test_bad_paging_parameters_are_400s(alice_api, db, query):
    assert alice_api.get(f"{DETAIL}?{query}").status_code == 400
