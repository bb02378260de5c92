"""The audit trail: every accepted action is in the action log — which action, by whom, for which
project, from which client (``api`` or ``dashboard``), with its outcome — whichever door it came
through, and no page or API route can add to, edit or remove the log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from compute.drivers.fake import FakeDriver
from compute.models import InstanceAction, InstanceActionEvent
from tests.security.conftest import World, snapshot

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

#: (door, the action-table key, the API body) — a walk through the states, alternating doors.
WALK = [
    ("api", "stop", {"os-stop": None}),
    ("page", "start", None),
    ("api", "reboot", {"reboot": {"type": "SOFT"}}),
    ("page", "pause", None),
    ("api", "unpause", {"unpause": None}),
    ("page", "suspend", None),
    ("api", "resume", {"resume": None}),
    ("page", "lock", None),
    ("api", "unlock", {"unlock": None}),
    ("api", "createImage", {"createImage": {"name": "audit-snapshot"}}),
    ("page", "shelve", None),
    ("api", "unshelve", {"unshelve": None}),
    ("page", "delete", None),
]


def act(world: World, door: str, key: str, body: Any, alice_api: Any, alice_client: Any) -> str:
    """Run one action through its door; the request id its record must carry, if known."""
    if door == "api":
        response = alice_api.post(f"/v2.1/servers/{world.mine.uuid}/action", body, format="json")
        assert response.status_code in (200, 202, 204), response.content
        return response["X-Compute-Request-Id"]
    response = alice_client.post(
        f"/instances/{world.mine.uuid}/action/", {"action": key, "confirmed": "yes"}
    )
    assert response.status_code == 302
    return ""


def test_every_accepted_action_records_who_where_from_and_how_it_ended(
    world, agent, alice, alice_api, alice_client
):
    before = set(InstanceAction.objects.values_list("id", flat=True))
    expected = []
    for door, key, body in WALK:
        request_id = act(world, door, key, body, alice_api, alice_client)
        agent.run_pending()
        record = InstanceAction.objects.exclude(id__in=before).order_by("-id").first()
        assert record is not None, key
        before.add(record.id)
        expected.append((record.action, "api" if door == "api" else "dashboard"))
        if request_id:
            assert record.request_id == request_id
    records = list(InstanceAction.objects.filter(instance=world.mine).exclude(action="create"))
    assert sorted((r.action, r.client) for r in records) == sorted(expected)
    for record in records:
        assert record.user_id == alice.pk and record.user_name == "alice"
        assert record.project_id == world.mine.project_id
        assert record.finish_time is not None and record.message is None
        events = list(record.events.all())
        assert events and all(e.result == "Success" and e.finish_time for e in events)


def test_an_admins_action_on_a_members_server_names_the_admin(world, agent, admin_user, admin_api):
    response = admin_api.post(
        f"/v2.1/servers/{world.mine.uuid}/action", {"os-stop": None}, format="json"
    )
    record = InstanceAction.objects.get(request_id=response["X-Compute-Request-Id"])
    assert (record.user_id, record.user_name, record.client) == (admin_user.pk, "admin", "api")
    assert record.project_id == world.mine.project_id  # the instance's project, not the admin's


def test_a_failed_action_is_in_the_log_with_its_error(world, agent, alice_api):
    FakeDriver.fail_next(operation="power_off", message="The hypervisor said no.")
    response = alice_api.post(
        f"/v2.1/servers/{world.mine.uuid}/action", {"os-stop": None}, format="json"
    )
    agent.run_pending()
    record = InstanceAction.objects.get(request_id=response["X-Compute-Request-Id"])
    assert record.message == "Error"
    assert record.events.filter(result="Error").exists()
    shown = alice_api.get(
        f"/v2.1/servers/{world.mine.uuid}/os-instance-actions/{record.request_id}"
    ).json()["instanceAction"]
    assert shown["message"] == "Error"
    assert shown["user_id"] == str(record.user_id)
    assert shown["project_id"] == world.mine.project_id
    assert [e["result"] for e in shown["events"]][-1] == "Error"


def test_a_refused_action_changes_nothing_and_logs_nothing(world, alice_api):
    before = snapshot()
    response = alice_api.post(
        f"/v2.1/servers/{world.mine.uuid}/action", {"os-start": None}, format="json"
    )
    assert response.status_code == 409
    assert snapshot() == before


def test_a_client_cannot_choose_its_request_id(world, alice_api):
    response = alice_api.post(
        f"/v2.1/servers/{world.mine.uuid}/action",
        {"os-stop": None},
        format="json",
        HTTP_X_OPENSTACK_REQUEST_ID="req-forged",
        HTTP_X_COMPUTE_REQUEST_ID="req-forged",
    )
    assert response.status_code == 202
    assert not InstanceAction.objects.filter(request_id="req-forged").exists()
    assert InstanceAction.objects.filter(request_id=response["X-Compute-Request-Id"]).exists()


def test_the_log_of_a_deleted_server_stays_readable(world, agent, alice_api):
    assert alice_api.delete(f"/v2.1/servers/{world.mine.uuid}").status_code == 204
    agent.run_pending()
    log = alice_api.get(f"/v2.1/servers/{world.mine.uuid}/os-instance-actions")
    assert log.status_code == 200
    assert {a["action"] for a in log.json()["instanceActions"]} >= {"create", "delete"}


# --- nothing edits the log ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_action_log_endpoints_refuse_every_method_but_get(world, alice_api, admin_api, method):
    request_id = world.mine.actions.first().request_id
    base = f"/v2.1/servers/{world.mine.uuid}/os-instance-actions"
    before = snapshot()
    for documented in (alice_api, admin_api):
        # A plain client: the OpenAPI document lists no such operation, so no 405 either.
        client = APIClient()
        client.credentials(**documented._credentials)
        for path in (base, f"{base}/{request_id}"):
            response = client.generic(
                method, path, b'{"message": null}', content_type="application/json"
            )
            assert response.status_code == 405, (method, path)
            assert list(response.json()) == ["badMethod"]
    assert snapshot() == before


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_pages_action_log_cannot_be_written_to(world, alice_client, admin_client, method):
    before = snapshot()
    for client in (alice_client, admin_client):
        for part in ("log", "facts", "actions"):
            path = f"/instances/{world.mine.uuid}/fragments/{part}/"
            assert getattr(client, method)(path).status_code == 405
        assert getattr(client, method)(f"/instances/{world.mine.uuid}/").status_code == 405
    assert snapshot() == before


def test_there_is_no_admin_site_or_other_route_to_the_log_tables():
    assert "django.contrib.admin" not in settings.INSTALLED_APPS
    routes = list(_routes(get_resolver()))
    assert not [r for r in routes if r.startswith("admin")]
    writable = []
    for route, view in _views(get_resolver()):
        cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
        if cls is not None and "instance_action" in cls.__module__:
            writable += [(route, m) for m in ("post", "put", "patch", "delete") if hasattr(cls, m)]
    assert writable == []


#: A write to the log tables: ``InstanceAction(Event).objects…update/delete/create…``.
LOG_WRITE = re.compile(
    r"InstanceAction(?:Event)?\.objects[\w().,=\s\"']*?\.(?:update|delete|create|bulk_create|"
    r"bulk_update|get_or_create|update_or_create)\b"
)


def test_no_edge_code_writes_the_log_tables():
    """Only the domain's ``compute.records`` (and the agent behind it) writes the log; the
    pages, the API and the socket only read it."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "dashboard").rglob("*.py")
        if LOG_WRITE.search(path.read_text())
        or re.search(r"\.events\.[\w().]*delete\(", path.read_text())
    ]
    assert offenders == []
    assert LOG_WRITE.search((ROOT / "compute" / "records.py").read_text())  # the guard bites


def test_log_rows_reference_their_instance_and_cannot_outlive_it_silently():
    """Rows go only with a hard delete of their instance (which no door offers: deletion is
    ``deleted_at``), never on their own."""
    fk = InstanceAction._meta.get_field("instance")
    assert fk.remote_field.on_delete.__name__ == "CASCADE"
    assert InstanceActionEvent._meta.get_field("action").remote_field.model is InstanceAction


def _routes(resolver: URLResolver, prefix: str = "") -> Any:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        else:
            yield route


def _views(resolver: URLResolver, prefix: str = "") -> Any:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _views(entry, route)
        elif isinstance(entry, URLPattern):
            yield route, entry.callback
