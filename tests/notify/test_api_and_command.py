"""The notifications' REST endpoints, management command and page: each user's own rows only,
every bad input a clear 400 that changes nothing."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from compute.drivers.fake import set_guest_state
from compute.models import FakeGuest, Notification, Subscription
from compute.notify import runner
from compute.notify.derive import cursor_start
from compute.states import PowerState
from compute.sync.passes import sync_host
from tests.api.conftest import alice_api, bob_api, client_for  # noqa: F401
from tests.web.conftest import alice_client, bob_client  # noqa: F401

pytestmark = pytest.mark.django_db
BASE = "/api/notifications"


def test_a_user_subscribes_lists_and_deletes_only_their_own(alice_api, bob_api, alice_ctx):  # noqa: F811
    made = alice_api.post(
        f"{BASE}/subscriptions",
        {"scope": "project", "target": alice_ctx.project_id, "events": ["instance_error"]},
        format="json",
    )
    assert made.status_code == 201, made.content
    sub = made.json()["subscription"]
    assert sub["events"] == ["instance_error"] and sub["webhook_secret"] is None
    assert [s["id"] for s in alice_api.get(f"{BASE}/subscriptions").json()["subscriptions"]] == [
        sub["id"]
    ]
    assert bob_api.get(f"{BASE}/subscriptions").json() == {"subscriptions": []}
    assert bob_api.delete(f"{BASE}/subscriptions/{sub['id']}").status_code == 404
    assert bob_api.get(f"{BASE}/subscriptions/{sub['id']}/log").status_code == 404
    assert alice_api.get(f"{BASE}/subscriptions/{sub['id']}/log").json() == {"attempts": []}
    assert alice_api.delete(f"{BASE}/subscriptions/{sub['id']}").status_code == 204
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"scope": "galaxy", "target": "x"}, "Unknown scope 'galaxy'"),
        ({"scope": "project", "target": ""}, "A subscription needs a target"),
        ({"scope": "project", "target": "P", "events": ["boom"]}, "Unknown event kind 'boom'"),
        ({"scope": "project", "target": "P", "events": "instance_error"}, "'events' must be"),
        ({"scope": "project", "target": "P", "email": "yes"}, "'email' must be a boolean."),
        (
            {"scope": "project", "target": "P", "webhook_url": "http://127.0.0.1/x"},
            "private, loopback or link-local",
        ),
        ({"scope": "project", "target": "P", "webhook_url": "gopher://x"}, "http:// or https://"),
    ],
)
def test_a_bad_subscription_is_a_400_that_changes_nothing(alice_api, alice_ctx, body, message):  # noqa: F811
    if body.get("target") == "P":
        body = {**body, "target": alice_ctx.project_id}
    answer = alice_api.post(f"{BASE}/subscriptions", body, format="json")
    assert answer.status_code == 400, answer.content
    assert message in json.dumps(answer.json())
    assert not Subscription.objects.exists()


def test_a_member_cannot_subscribe_to_a_host_or_another_project(alice_api, bob_ctx, agent):  # noqa: F811
    host = alice_api.post(
        f"{BASE}/subscriptions", {"scope": "host", "target": "node1"}, format="json"
    )
    assert host.status_code == 403
    other = alice_api.post(
        f"{BASE}/subscriptions", {"scope": "project", "target": bob_ctx.project_id}, format="json"
    )
    assert other.status_code == 404


def test_notifications_are_listed_and_marked_read_through_the_api(
    alice_api,  # noqa: F811
    bob_api,  # noqa: F811
    agent,
    make_instance,
    alice_ctx,
):
    vm = make_instance("active")
    alice_api.post(
        f"{BASE}/subscriptions", {"scope": "instance", "target": str(vm.uuid)}, format="json"
    )
    cursor_start()
    set_guest_state(FakeGuest.objects.get(uuid=vm.uuid), PowerState.CRASHED)
    sync_host(host=agent.host, driver=agent.driver)
    runner.run_once()
    (listed,) = alice_api.get(f"{BASE}?unread=1").json()["notifications"]
    assert listed["kind"] == "power_corrected" and listed["read"] is False
    assert listed["payload"]["event_type"] == "instance.power_off.start"
    assert bob_api.get(BASE).json() == {"notifications": []}
    assert alice_api.get(f"{BASE}?limit=x").status_code == 400
    assert alice_api.post(f"{BASE}/read", {"ids": ["1"]}, format="json").status_code == 400
    assert bob_api.post(f"{BASE}/read", {}, format="json").json() == {"marked_read": 0}
    assert alice_api.post(f"{BASE}/read", {}, format="json").json() == {"marked_read": 1}
    assert alice_api.get(f"{BASE}?unread=1").json() == {"notifications": []}


def run(*args: str) -> str:
    out = StringIO()
    call_command("notify", *args, stdout=out)
    return out.getvalue()


def test_the_command_subscribes_by_project_name_and_prints_json(alice, agent, make_instance):
    made = json.loads(
        run("subscribe", "--user", "alice", "--scope", "project", "--target", "demo", "--json")
    )
    assert made["scope"] == "project" and made["events"]
    vm = make_instance("active")
    cursor_start()
    set_guest_state(FakeGuest.objects.get(uuid=vm.uuid), PowerState.CRASHED)
    sync_host(host=agent.host, driver=agent.driver)
    passed = json.loads(run("run", "--once", "--json"))
    assert passed["notifications"] == 1
    (listed,) = json.loads(run("list", "--user", "alice", "--json"))
    assert listed["object_id"] == str(vm.uuid)
    assert json.loads(run("read", "--user", "alice", "--json")) == {"marked_read": 1}
    assert json.loads(run("subscriptions", "--user", "alice", "--json"))[0]["id"] == made["id"]
    with pytest.raises(CommandError, match="Only admins may subscribe to a host"):
        run("subscribe", "--user", "alice", "--scope", "host", "--target", "node1")
    with pytest.raises(CommandError, match="No user 'nobody'"):
        run("list", "--user", "nobody")


def test_the_page_lists_the_users_notifications_and_the_bell_counts_them(
    alice_client,  # noqa: F811
    bob_client,  # noqa: F811
    agent,
    make_instance,
    alice_ctx,
):
    vm = make_instance("active", name="paged")
    answer = alice_client.post(
        "/notifications/subscriptions/",
        {"scope": "instance", "target": str(vm.uuid), "events": ["power_corrected"]},
    )
    assert answer.status_code == 302
    cursor_start()
    set_guest_state(FakeGuest.objects.get(uuid=vm.uuid), PowerState.CRASHED)
    sync_host(host=agent.host, driver=agent.driver)
    runner.run_once()
    page = alice_client.get("/notifications/").content.decode()
    assert 'data-unread="1"' in page and "paged: the sync corrected" in page
    other = bob_client.get("/notifications/").content.decode()
    assert 'data-unread="0"' in other and "paged" not in other
    alice_client.post("/notifications/read/")
    assert 'data-unread="0"' in alice_client.get("/instances/").content.decode()
    assert Notification.objects.get().read_at is not None
