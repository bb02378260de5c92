"""A schedule on a filter of instances: resolved at each run through the instances list's own
selector with the owner's visibility then, one outcome per instance; the API takes a filter or
one of the caller's saved views; the command does the same with --json."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from compute.exceptions import Invalid, NotFound
from compute.models import Host, InstanceAction, ScheduledAction, ScheduleRun
from compute.services import host_update
from compute.services.schedule_runs import schedules_run_due
from compute.services.schedules import schedule_create
from dashboard.models import SavedView
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def soon() -> str:
    return (datetime.now(UTC) - timedelta(seconds=1)).isoformat()


def test_a_filter_run_acts_on_the_owners_matching_instances_only(
    agent, make_instance, alice_ctx, bob_ctx
):
    web1, web2 = make_instance("active", name="web-1"), make_instance("stopped", name="web-2")
    make_instance("active", name="db-1")
    theirs = make_instance("active", name="web-bob", context=fresh(bob_ctx))
    made = schedule_create(
        context=alice_ctx, target_filter={"name": "^web"}, action="stop", run_at=soon()
    )
    assert schedules_run_due() == {"accepted": 1, "refused": 1, "skipped": 0}
    run = ScheduleRun.objects.get(schedule=made)
    assert run.outcome == "partial"
    assert [(o["name"], o["outcome"]) for o in run.outcomes] == [
        ("web-1", "accepted"), ("web-2", "refused")
    ]  # fmt: skip
    assert run.outcomes[1]["result"] == (
        f"Cannot 'stop' instance {web2.uuid} while it is in vm_state stopped"
    )
    assert run.result.startswith("Accepted on 1 of 2 instances. web-2: Cannot 'stop'")
    assert InstanceAction.objects.filter(instance=web1, action="stop").exists()
    assert not InstanceAction.objects.filter(instance=theirs, action="stop").exists()
    made.refresh_from_db()
    assert made.state == "done" and made.last_outcome == "partial"


def test_a_filter_is_resolved_again_at_each_run(agent, make_instance, alice_ctx):
    make_instance("active", name="batch-1")
    made = schedule_create(
        context=alice_ctx, target_filter={"name": "^batch", "status": "ACTIVE"},
        action="reboot", cron="0 * * * *", now=datetime(2030, 1, 1, 10, 10, tzinfo=UTC),
    )  # fmt: skip
    schedules_run_due(now=datetime(2030, 1, 1, 11, 0, 1, tzinfo=UTC))
    agent.run_pending()
    make_instance("active", name="batch-2")
    schedules_run_due(now=datetime(2030, 1, 1, 12, 0, 1, tzinfo=UTC))
    first, second = ScheduleRun.objects.filter(schedule=made).order_by("ran_at")
    assert [o["name"] for o in first.outcomes] == ["batch-1"]
    assert [o["name"] for o in second.outcomes] == ["batch-1", "batch-2"]


def test_an_instance_on_a_host_in_maintenance_is_skipped_with_the_reason(
    agent, make_instance, alice_ctx, admin_ctx
):
    make_instance("active", name="app-1")
    host_update(
        context=admin_ctx, host=Host.objects.get(host="node1"), status="disabled",
        disabled_reason="kernel update",
    )  # fmt: skip
    made = schedule_create(
        context=alice_ctx, target_filter={"name": "^app"}, action="reboot", run_at=soon()
    )
    assert schedules_run_due()["skipped"] == 1
    run = ScheduleRun.objects.get(schedule=made)
    assert run.outcome == "skipped"
    assert run.outcomes[0]["result"] == "Skipped: host node1 is in maintenance (kernel update)."


def test_a_filter_that_selects_nothing_is_recorded_as_such(agent, alice_ctx):
    made = schedule_create(
        context=alice_ctx, target_filter={"name": "^none"}, action="start", run_at=soon()
    )
    assert schedules_run_due() == {"accepted": 0, "refused": 0, "skipped": 0}
    made.refresh_from_db()
    assert made.last_outcome == "empty" and made.result == "No instance matched the filter."


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ({"flavor": "m1"}, Invalid, "Unknown filter parameter"),
        ({"status": "SLEEPY"}, Invalid, "Invalid status value"),
        ({"name": 3}, Invalid, "must be a string"),
        ({"project_id": "BOBS"}, NotFound, "could not be found"),
    ],
)
def test_a_bad_or_foreign_filter_is_refused(agent, alice_ctx, bob_ctx, target, error, message):
    if target.get("project_id") == "BOBS":
        target = {"project_id": bob_ctx.project_id}
    with pytest.raises(error, match=message):
        schedule_create(context=alice_ctx, target_filter=target, action="stop", run_at=soon())
    assert not ScheduledAction.objects.exists()


def test_the_api_schedules_a_saved_view_and_shows_its_runs(
    agent, make_instance, alice, alice_ctx, bob
):
    from tests.api.conftest import DocumentedClient

    make_instance("active", name="web-1")
    view = SavedView.objects.create(
        user=alice,
        project_id=alice_ctx.project_id,
        name="web",
        query="name=%5Eweb&sort=name&limit=50",
    )
    api = DocumentedClient()
    api.force_authenticate(alice)
    made = api.post(
        "/api/schedules",
        {"saved_view": view.pk, "action": "reboot", "cron": "*/10 * * * *",
         "time_zone": "Asia/Shanghai"},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    body = made.json()["schedule"]
    assert body["filter"] == {"name": "^web", "project_id": alice_ctx.project_id}
    assert body["cron"] == "*/10 * * * *" and body["instance_uuid"] is None
    pk = body["id"]
    assert api.post(f"/api/schedules/{pk}/pause").json()["schedule"]["state"] == "paused"
    assert api.post(f"/api/schedules/{pk}/resume").json()["schedule"]["state"] == "pending"
    ScheduledAction.objects.filter(pk=pk).update(run_at=datetime.now(UTC) - timedelta(seconds=1))
    schedules_run_due()
    detail = api.get(f"/api/schedules/{pk}").json()
    assert detail["schedule"]["last_outcome"] == "accepted"
    (run,) = detail["runs"]
    assert run["instances"][0]["name"] == "web-1" and run["request_id"].startswith("req-")
    assert api.get(f"/api/schedules/{pk}/runs").json()["runs"] == detail["runs"]
    other = DocumentedClient()
    other.force_authenticate(bob)
    assert other.get(f"/api/schedules/{pk}").status_code == 404
    assert other.post(f"/api/schedules/{pk}/pause").status_code == 404
    refused = other.post(
        "/api/schedules", {"saved_view": view.pk, "action": "reboot", "cron": "0 * * * *"},
        format="json",
    )  # fmt: skip
    assert refused.status_code == 404  # alice's view, not bob's
    both = api.post(
        "/api/schedules", {"saved_view": view.pk, "filter": {}, "action": "stop", "cron": "0 * * * *"},
        format="json",
    )  # fmt: skip
    assert both.status_code == 400
    assert api.delete(f"/api/schedules/{pk}").status_code == 204


def test_the_command_adds_a_recurring_filter_schedule_and_shows_its_runs(
    agent, make_instance, alice
):
    make_instance("active", name="cli-1")
    out = StringIO()
    call_command(
        "schedule", "add", "--user", "alice", "--action", "reboot", "--filter-name", "^cli",
        "--cron", "0 3 * * *", "--tz", "Europe/Paris", "--json", stdout=out,
    )  # fmt: skip
    made = json.loads(out.getvalue())
    assert made["filter"] == {"name": "^cli"} and made["cron"] == "0 3 * * *"
    for verb, state in (("pause", "paused"), ("resume", "pending")):
        out = StringIO()
        call_command("schedule", verb, "--user", "alice", "--id", str(made["id"]), "--json",
                     stdout=out)  # fmt: skip
        assert json.loads(out.getvalue())["state"] == state
    ScheduledAction.objects.filter(pk=made["id"]).update(
        run_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    call_command("schedule", "run", "--once", stdout=StringIO())
    out = StringIO()
    call_command("schedule", "show", "--user", "alice", "--id", str(made["id"]), "--json",
                 stdout=out)  # fmt: skip
    shown = json.loads(out.getvalue())
    assert [r["outcome"] for r in shown["runs"]] == ["accepted"]


def test_each_refused_instance_of_a_filter_run_is_told_to_the_owner_once(
    agent, make_instance, alice_ctx, admin_ctx
):
    from compute.models import Notification
    from compute.notify.derive import cursor_start, derive_once
    from compute.notify.subscriptions import subscription_create

    make_instance("active", name="f-on")
    off = make_instance("stopped", name="f-off")
    subscription_create(context=alice_ctx, scope="project", target=alice_ctx.project_id)
    subscription_create(context=admin_ctx, scope="project", target=alice_ctx.project_id)
    cursor_start()
    schedule_create(context=alice_ctx, target_filter={"name": "^f-"}, action="stop", run_at=soon())
    schedules_run_due()
    derive_once()
    (told,) = Notification.objects.filter(kind="action_failed")
    assert told.user_id == alice_ctx.user_id and told.object_id == str(off.uuid)
    assert told.title == (
        f"f-off: stop failed: Cannot 'stop' instance {off.uuid} while it is in vm_state stopped"
    )
