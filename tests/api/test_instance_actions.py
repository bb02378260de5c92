"""``os-instance-actions``: the action log and its events, with Nova's visibility rules."""

from __future__ import annotations

import pytest

from compute.models import FakeFailure, InstanceActionEvent
from tests.api.conftest import at

pytestmark = pytest.mark.django_db


def log_of(client, instance, **headers):
    response = client.get(f"/v2.1/servers/{instance.uuid}/os-instance-actions", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def action_of(client, instance, request_id, **headers):
    url = f"/v2.1/servers/{instance.uuid}/os-instance-actions/{request_id}"
    return client.get(url, **headers)


def test_the_log_lists_actions_newest_first(alice_api, make_instance):
    instance = make_instance("stopped")
    actions = log_of(alice_api, instance)["instanceActions"]
    assert [a["action"] for a in actions] == ["stop", "create"]
    assert set(actions[0]) == {
        "action", "instance_uuid", "message", "project_id", "request_id", "start_time",
        "user_id", "updated_at",
    }  # fmt: skip
    assert "updated_at" not in log_of(alice_api, instance, **at("2.57"))["instanceActions"][0]


def test_an_action_shows_its_events_to_members_from_251_without_traceback(alice_api, make_instance):
    instance = make_instance("stopped")
    request_id = log_of(alice_api, instance)["instanceActions"][0]["request_id"]
    shown = action_of(alice_api, instance, request_id).json()["instanceAction"]
    (event,) = shown["events"]
    assert (event["event"], event["result"]) == ("compute_stop_instance", "Success")
    assert "traceback" not in event
    assert "host" not in event
    assert event["hostId"]
    older = action_of(alice_api, instance, request_id, **at("2.50")).json()["instanceAction"]
    assert "events" not in older


def test_admins_see_traceback_host_and_details_of_a_failed_event(
    admin_api, alice_api, make_instance
):
    FakeFailure.objects.create(host="node1", operation="power_off", message="stuck")
    instance = make_instance("stopped")
    actions = log_of(alice_api, instance)["instanceActions"]
    assert actions[0]["message"] == "Error"
    request_id = actions[0]["request_id"]
    (event,) = action_of(admin_api, instance, request_id).json()["instanceAction"]["events"]
    assert event["result"] == "Error"
    assert event["traceback"]
    assert event["host"] == "node1"
    assert "stuck" in event["details"]
    before = action_of(admin_api, instance, request_id, **at("2.83")).json()["instanceAction"]
    assert "details" not in before["events"][0]
    assert (
        "host"
        not in action_of(admin_api, instance, request_id, **at("2.61")).json()["instanceAction"][
            "events"
        ][0]
    )


def test_an_unknown_request_id_is_not_found(alice_api, make_instance):
    instance = make_instance()
    response = action_of(alice_api, instance, "req-nope")
    assert response.status_code == 404
    assert response.json()["itemNotFound"]["message"] == (
        f"Action for request_id req-nope on instance {instance.uuid} not found"
    )


def test_another_projects_log_is_not_found(alice_api, make_instance, bob_ctx):
    theirs = make_instance(context=bob_ctx)
    url = f"/v2.1/servers/{theirs.uuid}/os-instance-actions"
    assert alice_api.get(url).status_code == 404


def test_a_deleted_servers_log_is_readable_from_221(alice_api, make_instance):
    instance = make_instance("deleted")
    assert [a["action"] for a in log_of(alice_api, instance)["instanceActions"]] == [
        "delete", "create"
    ]  # fmt: skip
    url = f"/v2.1/servers/{instance.uuid}/os-instance-actions"
    assert alice_api.get(url, **at("2.20")).status_code == 404


def test_the_log_pages_from_258(alice_api, make_instance):
    instance = make_instance("paused")  # create, pause
    first = log_of(alice_api, instance, **at("2.58"))
    everything = [a["request_id"] for a in first["instanceActions"]]
    page = log_of(alice_api, instance, QUERY_STRING="limit=1")
    assert [a["request_id"] for a in page["instanceActions"]] == everything[:1]
    (link,) = page["links"]
    assert link["rel"] == "next"
    rest = log_of(alice_api, instance, QUERY_STRING=f"marker={everything[0]}")
    assert [a["request_id"] for a in rest["instanceActions"]] == everything[1:]
    url = f"/v2.1/servers/{instance.uuid}/os-instance-actions?marker=req-nope"
    assert alice_api.get(url).status_code == 400


def test_changes_since_and_before_select_by_last_update(alice_api, make_instance):
    instance = make_instance("paused")
    last = InstanceActionEvent.objects.order_by("-finish_time").first().action.updated_at
    since = log_of(
        alice_api, instance, QUERY_STRING=f"changes-since={last.isoformat()}".replace("+", "%2B")
    )
    assert [a["action"] for a in since["instanceActions"]] == ["pause"]
    before = log_of(
        alice_api, instance, QUERY_STRING="changes-before=2000-01-01T00:00:00Z", **at("2.66")
    )
    assert before["instanceActions"] == []
