"""The audit trails, and that nothing but the domain writes them.

- The action log: every accepted action — which action, by whom, for which project, from which
  client (``api`` or ``dashboard``), with its outcome — whichever door it came through.
- The host maintenance log: every change to a host's switches (disable with its reason, enable,
  forced down on and off) and every request to live-migrate its instances away — who, from
  which client, when, before → after, the outcome — written in the transaction of the change,
  through the pages and the API alike, and shown on the host page.

No page or API route can add to, edit or remove either log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db.models import ProtectedError
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from compute.drivers.fake import FakeDriver
from compute.models import Host, HostAuditEntry, InstanceAction, InstanceActionEvent
from compute.models.host_audit import AppendOnly
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


# --- the host maintenance log ------------------------------------------------------------------


def host_log(host: Host) -> list[HostAuditEntry]:
    """The host's audit rows, oldest first."""
    return list(HostAuditEntry.objects.filter(host=host).order_by("id"))


#: (page op, form fields, the operation logged, the switches after it).
PAGE_SWITCHES = [
    ("disable", {"reason": "kernel upgrade, OPS-1234"}, "disable",
     {"disabled": True, "disabled_reason": "kernel upgrade, OPS-1234", "forced_down": False,
      "host_status": "MAINTENANCE"}),
    ("force_down", {}, "force_down",
     {"disabled": True, "disabled_reason": "kernel upgrade, OPS-1234", "forced_down": True,
      "host_status": "DOWN"}),
    ("force_up", {}, "force_up",
     {"disabled": True, "disabled_reason": "kernel upgrade, OPS-1234", "forced_down": False,
      "host_status": "MAINTENANCE"}),
    ("enable", {}, "enable",
     {"disabled": False, "disabled_reason": None, "forced_down": False, "host_status": "UP"}),
]  # fmt: skip


def test_every_host_switch_from_the_pages_is_logged_with_who_what_and_before_and_after(
    world, admin_user, admin_client
):
    started = timezone.now()
    before = {"disabled": False, "disabled_reason": None, "forced_down": False, "host_status": "UP"}
    for op, fields, operation, after in PAGE_SWITCHES:
        response = admin_client.post("/hosts/node1/update/", {"op": op, **fields})
        assert response.status_code == 302
        entry = host_log(world.host)[-1]
        assert (entry.operation, entry.outcome) == (operation, "changed")
        assert (entry.user_id, entry.user_name, entry.client) == (
            admin_user.pk,
            "admin",
            "dashboard",
        )
        assert (entry.before, entry.after) == (before, after)
        assert entry.reason == fields.get("reason")
        assert started <= entry.at <= timezone.now()
        assert entry.request_id.startswith("req-")
        before = after
    assert len(host_log(world.host)) == len(PAGE_SWITCHES)
    # The host page shows the log, newest first: who, from where, what changed and why.
    html = admin_client.get("/hosts/node1/").content.decode()
    log = html[html.index('id="audit-log"') :]
    assert log.index("Enable") < log.index("Clear forced down") < log.index("Force down")
    assert log.index("Force down") < log.index("Disable")
    assert "host_status UP → MAINTENANCE" in log
    assert "reason — → kernel upgrade, OPS-1234" in log
    assert log.count(">admin<") == len(PAGE_SWITCHES) and "dashboard" in log


def test_host_switches_through_the_api_are_logged_with_the_request_id(world, admin_user, admin_api):
    response = admin_api.put(
        f"/v2.1/os-services/{world.host.uuid}",
        {"status": "disabled", "disabled_reason": "firmware", "forced_down": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    (entry,) = host_log(world.host)
    assert entry.request_id == response["X-Compute-Request-Id"]
    assert (entry.user_id, entry.user_name, entry.client) == (admin_user.pk, "admin", "api")
    assert (entry.operation, entry.reason, entry.outcome) == ("update", "firmware", "changed")
    assert entry.before["host_status"] == "UP" and entry.after["host_status"] == "DOWN"
    assert (entry.after["disabled"], entry.after["forced_down"]) == (True, True)
    # The pre-2.53 spelling goes through the same door, and a request that changes nothing is
    # logged as such.
    legacy = admin_api.put(
        "/v2.1/os-services/force-down",
        {"host": "node1", "binary": "nova-compute", "forced_down": True},
        format="json",
        HTTP_OPENSTACK_API_VERSION="compute 2.11",
    )
    assert legacy.status_code == 200, legacy.content
    entry = host_log(world.host)[-1]
    assert (entry.operation, entry.outcome, entry.client) == ("force_down", "unchanged", "api")
    assert entry.request_id == legacy["X-Compute-Request-Id"]


def test_a_live_migrate_away_request_is_logged_with_each_instances_verdict(
    world, agent_factory, make_instance, admin_user, admin_client
):
    stopped = make_instance("stopped", name="sleeper")
    agent_factory("node2")
    admin_client.post("/hosts/node1/update/", {"op": "disable", "reason": "maintenance"})
    response = admin_client.post(
        "/hosts/node1/migrate-away/",
        {"instance": [str(world.mine.uuid), str(stopped.uuid), str(world.foreign.uuid)]},
    )
    assert response.status_code == 302
    entry = host_log(world.host)[-1]
    assert (entry.operation, entry.outcome) == ("migrate_away", "partly_accepted")
    assert (entry.user_name, entry.client) == ("admin", "dashboard")
    verdicts = {d["name"]: (d["accepted"], d["message"]) for d in entry.details}
    assert verdicts["alice-web"] == (True, "Live migration accepted.")
    assert verdicts["bob-db"] == (True, "Live migration accepted.")
    assert verdicts["sleeper"][0] is False and "os-migrateLive" in verdicts["sleeper"][1]
    # Each accepted migration is also in its instance's action log, under the same request.
    assert (
        InstanceAction.objects.filter(request_id=entry.request_id, action="live-migration").count()
        == 2
    )
    html = admin_client.get("/hosts/node1/").content.decode()
    assert "Live-migrate away" in html and "sleeper: refused" in html


@pytest.mark.parametrize(
    ("who", "body"),
    [("alice", {"status": "disabled", "disabled_reason": "mine now"}),
     ("admin", {"status": "enabled", "disabled_reason": "contradiction"}),
     ("admin", {"forced_down": "maybe"})],
)  # fmt: skip
def test_a_refused_host_change_changes_nothing_and_logs_nothing(
    world, alice_api, admin_api, who, body
):
    before = snapshot()
    client = alice_api if who == "alice" else admin_api
    response = client.put(f"/v2.1/os-services/{world.host.uuid}", body, format="json")
    assert response.status_code in (400, 403)
    assert snapshot() == before


def test_a_host_change_whose_audit_row_cannot_be_written_does_not_happen(
    world, admin_client, monkeypatch
):
    """The row is written in the change's transaction: no committed change without its row."""

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the audit table is unavailable")

    monkeypatch.setattr(HostAuditEntry.objects, "create", broken)
    before = snapshot()
    with pytest.raises(RuntimeError):
        admin_client.post("/hosts/node1/update/", {"op": "disable", "reason": "patching"})
    assert snapshot() == before
    assert Host.objects.get(pk=world.host.pk).disabled is False


def test_host_audit_rows_cannot_be_changed_or_deleted(world, admin_client):
    admin_client.post("/hosts/node1/update/", {"op": "force_down"})
    (entry,) = host_log(world.host)
    entry.outcome = "refused"
    for attempt in (
        entry.save,
        entry.delete,
        HostAuditEntry.objects.all().delete,
        lambda: HostAuditEntry.objects.filter(pk=entry.pk).update(user_name="nobody"),
    ):
        with pytest.raises(AppendOnly):
            attempt()
    assert host_log(world.host)[0].outcome == "changed"
    # A host with a history cannot be hard-deleted with it.
    with pytest.raises(ProtectedError):
        Host.objects.filter(pk=world.host.pk).delete()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_host_page_and_its_log_cannot_be_written_to(world, admin_client, method):
    admin_client.post("/hosts/node1/update/", {"op": "force_down"})
    before = snapshot()
    for path in ("/hosts/node1/", "/hosts/node1/?fragment=summary", "/hosts/"):
        assert getattr(admin_client, method)(path).status_code == 405
    assert snapshot() == before


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
        if cls is not None and ("instance_action" in cls.__module__ or "audit" in cls.__module__):
            writable += [(route, m) for m in ("post", "put", "patch", "delete") if hasattr(cls, m)]
    assert writable == []


#: A write to the log tables: ``InstanceAction(Event)|HostAuditEntry.objects…update/create…``.
LOG_WRITE = re.compile(
    r"(?:InstanceAction(?:Event)?|HostAuditEntry)\.objects[\w().,=\s\"']*?\.(?:update|delete|"
    r"create|bulk_create|bulk_update|get_or_create|update_or_create)\b"
)


def test_no_edge_code_writes_the_log_tables():
    """Only the domain writes the logs (``compute.records`` the action log, the host services
    the maintenance log); the pages, the API and the socket only read them."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "dashboard").rglob("*.py")
        if LOG_WRITE.search(path.read_text())
        or re.search(r"\.events\.[\w().]*delete\(", path.read_text())
    ]
    assert offenders == []
    assert LOG_WRITE.search((ROOT / "compute" / "records.py").read_text())  # the guard bites
    assert LOG_WRITE.search((ROOT / "compute" / "services" / "hosts.py").read_text())


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
