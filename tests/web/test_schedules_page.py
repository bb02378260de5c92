"""The schedules page: made from an instance's page or the instances list's filter or saved
view, listed with the next run on the owner's wall clock, the last result and the history with
each instance's outcome; pause, resume, delete; one user never sees another's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compute.models import ScheduledAction
from compute.services.schedule_runs import schedules_run_due
from dashboard.models import SavedView

pytestmark = pytest.mark.django_db


def test_an_instances_page_links_to_a_schedule_form_for_it(make_instance, alice_client):
    vm = make_instance("active", name="nightly")
    page = alice_client.get(f"/instances/{vm.uuid}/").content.decode()
    assert f'href="/schedules/?instance={vm.uuid}#new"' in page
    form = alice_client.get(f"/schedules/?instance={vm.uuid}").content.decode()
    assert f'name="instance" value="{vm.uuid}"' in form and ">nightly</a>" in form


def test_a_recurring_schedule_made_in_the_page_shows_its_next_run_in_the_owners_zone(
    make_instance, alice_client
):
    vm = make_instance("active", name="nightly")
    done = alice_client.post(
        "/schedules/new/",
        {"instance": str(vm.uuid), "action": "stop", "when": "cron", "cron": "0 22 * * *",
         "time_zone": "Asia/Shanghai"},
    )  # fmt: skip
    assert done.status_code == 302
    made = ScheduledAction.objects.get()
    assert made.cron == "0 22 * * *" and made.run_at.astimezone(UTC).hour == 14
    table = alice_client.get("/schedules/?fragment=table").content.decode()
    assert f'data-schedule-id="{made.pk}"' in table
    assert made.run_at.astimezone(UTC).strftime("%Y-%m-%d") in table  # 22:00 Shanghai's day
    assert ' 22:00</time> <span class="muted">Asia/Shanghai</span>' in table


def test_a_bad_cron_is_refused_in_novas_manner_and_the_form_keeps_its_target(
    make_instance, alice_client
):
    vm = make_instance("active")
    done = alice_client.post(
        "/schedules/new/",
        {"instance": str(vm.uuid), "action": "stop", "when": "cron", "cron": "nope"},
        follow=True,
    )
    page = done.content.decode()
    assert "Invalid cron expression" in page
    assert f'name="instance" value="{vm.uuid}"' in page
    assert not ScheduledAction.objects.exists()


def test_the_list_filter_and_a_saved_view_are_offered_and_kept_as_the_filter(
    agent, make_instance, alice, alice_ctx, alice_client
):
    make_instance("active", name="web-1")
    listing = alice_client.get("/instances/?name=web&status=ACTIVE").content.decode()
    assert 'href="/schedules/?name=web&amp;status=ACTIVE#new"' in listing
    view = SavedView.objects.create(user=alice, project_id=None, name="webs", query="name=web")
    assert (
        f"/schedules/?saved_view={view.pk}#new" in alice_client.get("/instances/").content.decode()
    )
    form = alice_client.get(f"/schedules/?saved_view={view.pk}").content.decode()
    assert "saved view “webs”" in form and 'name="name" value="web"' in form
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    alice_client.post(
        "/schedules/new/",
        {"name": "web", "project_id": alice_ctx.project_id, "action": "reboot", "when": "once",
         "run_at": at, "time_zone": "UTC"},
    )  # fmt: skip
    made = ScheduledAction.objects.get()
    assert made.target_filter == {"name": "web", "project_id": alice_ctx.project_id}
    schedules_run_due()
    table = alice_client.get("/schedules/?fragment=table").content.decode()
    assert 'web-1: Accepted <code class="request-id">req-' in table
    assert "Accepted on 1 of 1 instances." in table


def test_pause_resume_and_delete_are_the_owners_alone(make_instance, alice_client, bob_client):
    vm = make_instance("active")
    alice_client.post(
        "/schedules/new/",
        {"instance": str(vm.uuid), "action": "reboot", "when": "cron", "cron": "0 * * * *"},
    )
    made = ScheduledAction.objects.get()
    assert f'data-schedule-id="{made.pk}"' not in bob_client.get("/schedules/").content.decode()
    bob_client.post(f"/schedules/{made.pk}/pause/")
    made.refresh_from_db()
    assert made.state == "pending"
    for verb, state in (("pause", "paused"), ("resume", "pending"), ("delete", "cancelled")):
        alice_client.post(f"/schedules/{made.pk}/{verb}/")
        made.refresh_from_db()
        assert made.state == state


def test_a_form_for_an_instance_the_user_may_not_see_is_not_offered(make_instance, bob_client):
    vm = make_instance("active")
    page = bob_client.get(f"/schedules/?instance={vm.uuid}", follow=True).content.decode()
    assert f"Instance {vm.uuid} could not be found." in page
    assert f'value="{vm.uuid}"' not in page


def test_the_schedules_page_and_the_task_centre_read_in_simplified_chinese(
    make_instance, alice_client
):
    vm = make_instance("active")
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
    page = alice_client.get(f"/schedules/?instance={vm.uuid}", **zh).content.decode()
    assert "<h1>计划任务</h1>" in page and "按 cron 表达式重复运行" in page
    assert "<h1>任务</h1>" in alice_client.get("/tasks/", **zh).content.decode()


def test_a_schedules_state_and_outcome_are_words_in_the_page_language(
    agent, make_instance, alice_client
):
    vm = make_instance("active", name="worded")
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    alice_client.post(
        "/schedules/new/",
        {"instance": str(vm.uuid), "action": "reboot", "when": "once", "run_at": at,
         "time_zone": "UTC"},
    )  # fmt: skip
    alice_client.post(
        "/schedules/new/",
        {"instance": str(vm.uuid), "action": "stop", "when": "cron", "cron": "0 3 * * *"},
    )
    schedules_run_due()
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
    table = alice_client.get("/schedules/?fragment=table", **zh).content.decode()
    assert 'data-state="done"' in table and ">已完成</span>" in table
    assert 'data-outcome="accepted">已接受</span>' in table
    assert 'data-state="pending"' in table and ">等待中</span>" in table
    english = alice_client.get("/schedules/?fragment=table").content.decode()
    assert ">Done</span>" in english and ">Pending</span>" in english
