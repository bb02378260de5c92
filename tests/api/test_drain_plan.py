"""The drain plan (``GET /v2.1/vmdash/hosts/{host}/drain-plan``): per instance, each choice's
verdict from the action table's guard with Nova's texts, and a default per state."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from compute.agent.agent import ComputeAgent
from compute.services import instance_action
from tests.conftest import fresh

pytestmark = pytest.mark.django_db

PLAN = "/v2.1/vmdash/hosts/node1/drain-plan"


def plan_rows(admin_api) -> dict[str, dict]:
    response = admin_api.get(PLAN)
    assert response.status_code == 200, response.content
    return {row["name"]: row for row in response.json()["drain_plan"]["instances"]}


@pytest.fixture
def second_host(agent_factory: Callable[[str], ComputeAgent]) -> Callable[[], ComputeAgent]:
    return lambda: agent_factory("node2")


def test_a_locked_and_a_busy_instance_are_refused_with_novas_words(
    make_instance, second_host, alice_ctx, admin_api
):
    locked = make_instance("active", name="locked")
    busy = make_instance("active", name="busy")
    make_instance("active", name="free")
    second_host()
    instance_action(context=fresh(alice_ctx), instance_uuid=str(locked.uuid), action="lock")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(busy.uuid), action="stop")

    rows = plan_rows(admin_api)
    assert rows["locked"]["verdict"] == "cannot-move"
    assert rows["locked"]["reason"] == f"Instance {locked.uuid} is locked"
    assert rows["locked"]["choices"]["shelve"] == f"Instance {locked.uuid} is locked"
    assert rows["locked"]["default"] == "leave" and rows["locked"]["choices"]["leave"] is None
    assert rows["busy"]["verdict"] == "cannot-move"
    assert rows["busy"]["reason"] == (
        f"Cannot 'os-migrateLive' instance {busy.uuid} while it is in task_state powering-off"
    )
    assert rows["free"]["verdict"] == "live-migrate" and rows["free"]["default"] == "live-migrate"
    assert rows["free"]["destination"] == "node2"
    assert set(rows["free"]["choices"]) == {
        "live-migrate",
        "cold-migrate",
        "stop",
        "shelve",
        "evacuate",
        "leave",
    }
    assert rows["free"]["choices"]["evacuate"] == "Compute service of node1 is still in use."


def test_defaults_follow_the_state_stopped_cold_suspended_shelve(
    make_instance, second_host, admin_api
):
    stopped = make_instance("stopped", name="stopped")
    make_instance("suspended", name="suspended")
    second_host()
    rows = plan_rows(admin_api)
    assert rows["stopped"]["verdict"] == "cold-migrate"
    assert rows["stopped"]["choices"]["live-migrate"] == (
        f"Cannot 'os-migrateLive' instance {stopped.uuid} while it is in vm_state stopped"
    )
    assert rows["suspended"]["verdict"] == "cannot-move"
    assert rows["suspended"]["default"] == "shelve"


def test_with_no_other_host_up_and_enabled_nothing_can_move(make_instance, admin_api):
    make_instance("active", name="alone")
    body = admin_api.get(PLAN).json()["drain_plan"]
    assert body["destinations"] == []
    (row,) = body["instances"]
    assert row["verdict"] == "cannot-move"
    assert row["reason"] == "No valid host was found. There are not enough hosts available."
    assert row["choices"]["stop"] is None


def test_the_plan_is_for_admins_and_names_an_unknown_host(alice_api, admin_api, host):
    refused = alice_api.get(PLAN)
    assert refused.status_code == 403
    assert refused.json()["forbidden"]["message"] == (
        "Policy doesn't allow vmdash:hosts:drain to be performed."
    )
    missing = admin_api.get("/v2.1/vmdash/hosts/nope/drain-plan")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == "Compute host nope could not be found."


# --- drains over the API -----------------------------------------------------------------------


def test_a_drain_started_over_the_api_runs_and_shows_its_steps(
    make_instance, agent, second_host, admin_api
):
    from compute.services import drains

    stay = make_instance("active", name="stay")
    make_instance("active", name="mover")
    node2 = second_host()
    response = admin_api.post(
        "/v2.1/vmdash/hosts/node1/drains",
        {"drain": {"choices": {str(stay.uuid): "leave"}}},
        format="json",
    )
    assert response.status_code == 202, response.content
    drain = response.json()["drain"]
    assert drain["state"] == "running" and drain["host"] == "node1"
    for _ in range(3):
        agent.run_pending()
        node2.run_pending()
        drains.advance_all()
    shown = admin_api.get(f"/v2.1/vmdash/drains/{drain['id']}").json()["drain"]
    steps = {s["name"]: s for s in shown["steps"]}
    assert shown["state"] == "done"
    assert steps["mover"]["state"] == "done"
    assert steps["mover"]["migration"]["status"] == "completed"
    assert steps["stay"]["state"] == "skipped" and steps["stay"]["message"] == "Left by choice."
    again = admin_api.post(f"/v2.1/vmdash/drains/{drain['id']}/cancel")
    assert again.status_code == 202 and again.json()["drain"]["state"] == "done"


@pytest.mark.parametrize(
    "body",
    [
        {"drain": {"choices": []}},
        {"drain": {"choices": {"x": 1}}},
        {"other": {}},
        [],
    ],
)
def test_a_malformed_drain_body_is_a_400_and_changes_nothing(make_instance, admin_api, body):
    from compute.models import DrainJob, Host

    make_instance("active")
    response = admin_api.post("/v2.1/vmdash/hosts/node1/drains", body, format="json")
    assert response.status_code == 400
    assert not DrainJob.objects.exists()
    assert not Host.objects.get(host="node1").disabled


def test_a_drain_of_an_unknown_host_or_drain_is_a_404(admin_api, alice_api, host):
    missing = admin_api.post("/v2.1/vmdash/hosts/nope/drains", {"drain": {}}, format="json")
    assert missing.status_code == 404
    assert admin_api.get("/v2.1/vmdash/drains/999").json()["itemNotFound"]["message"] == (
        "Drain 999 could not be found."
    )
    assert alice_api.get("/v2.1/vmdash/drains/1").status_code == 403
