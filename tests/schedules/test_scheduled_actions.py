"""Scheduled actions: run once, as the owner, through the action table, in the owner's time
zone; a refusal is recorded in Nova's words, a host in maintenance skips the run, and two
processes on PostgreSQL run each due schedule once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from compute.exceptions import Invalid, NotFound
from compute.models import Host, InstanceAction, ScheduledAction
from compute.services import host_update
from compute.services.schedule_runs import schedules_run_due
from compute.services.schedules import schedule_cancel, schedule_create

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def soon() -> str:
    return (timezone.now() - timedelta(seconds=1)).isoformat()


def test_a_due_schedule_runs_once_as_its_owner(agent, make_instance, alice_ctx):
    vm = make_instance("active", name="nightly")
    made = schedule_create(
        context=alice_ctx, instance_uuid=str(vm.uuid), action="stop", run_at=soon()
    )
    assert schedules_run_due() == {"accepted": 1, "refused": 0, "skipped": 0}
    assert schedules_run_due() == {"accepted": 0, "refused": 0, "skipped": 0}
    made.refresh_from_db()
    action = InstanceAction.objects.get(instance=vm, action="stop")
    assert made.state == "done" and made.result == f"Accepted: {action.request_id}"
    assert action.user_name == "alice"
    agent.run_pending()
    vm.refresh_from_db()
    assert vm.vm_state == "stopped"


def test_the_time_is_read_in_the_owners_time_zone(make_instance, alice_ctx):
    vm = make_instance("active")
    made = schedule_create(
        context=alice_ctx,
        instance_uuid=str(vm.uuid),
        action="reboot",
        run_at="2030-07-01T09:00",
        time_zone="Europe/Paris",
    )
    assert made.run_at == datetime(2030, 7, 1, 7, 0, tzinfo=UTC)  # CEST is UTC+2
    assert schedules_run_due() == {"accepted": 0, "refused": 0, "skipped": 0}  # not due


def test_a_refusal_is_recorded_in_novas_words(agent, make_instance, alice_ctx):
    vm = make_instance("stopped")
    made = schedule_create(
        context=alice_ctx, instance_uuid=str(vm.uuid), action="stop", run_at=soon()
    )
    assert schedules_run_due()["refused"] == 1
    made.refresh_from_db()
    assert made.state == "refused"
    assert made.result == (f"Cannot 'stop' instance {vm.uuid} while it is in vm_state stopped")


def test_a_run_on_a_host_in_maintenance_is_skipped_with_the_reason(
    agent, make_instance, alice_ctx, admin_ctx
):
    vm = make_instance("active")
    host_update(
        context=admin_ctx, host=Host.objects.get(host="node1"), status="disabled",
        disabled_reason="firmware",
    )  # fmt: skip
    made = schedule_create(
        context=alice_ctx, instance_uuid=str(vm.uuid), action="reboot", run_at=soon()
    )
    assert schedules_run_due()["skipped"] == 1
    made.refresh_from_db()
    assert made.result == "Skipped: host node1 is in maintenance (firmware)."
    assert not InstanceAction.objects.filter(instance=vm, action="reboot").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "delete"}, "cannot be scheduled"),
        ({"time_zone": "Mars/Olympus"}, "Unknown time zone"),
        ({"run_at": "tomorrow"}, "Invalid run_at"),
        ({"action": "createImage"}, "needs the image's name"),
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_is_made(make_instance, alice_ctx, kwargs, message):
    vm = make_instance("active")
    given = {"instance_uuid": str(vm.uuid), "action": "stop", "run_at": soon(), **kwargs}
    with pytest.raises(Invalid, match=message):
        schedule_create(context=alice_ctx, **given)
    assert not ScheduledAction.objects.exists()


def test_nobody_schedules_or_cancels_on_what_they_may_not_see(make_instance, alice_ctx, bob_ctx):
    vm = make_instance("active")
    with pytest.raises(NotFound):
        schedule_create(context=bob_ctx, instance_uuid=str(vm.uuid), action="stop", run_at=soon())
    made = schedule_create(
        context=alice_ctx, instance_uuid=str(vm.uuid), action="stop", run_at="2099-01-01T00:00"
    )
    with pytest.raises(NotFound):
        schedule_cancel(context=bob_ctx, schedule_id=made.pk)
    assert schedule_cancel(context=alice_ctx, schedule_id=made.pk).state == "cancelled"


def test_the_command_adds_lists_and_runs(agent, make_instance, alice):
    vm = make_instance("active", name="cli")
    out = StringIO()
    call_command(
        "schedule", "add", "--user", "alice", "--instance", str(vm.uuid), "--action", "reboot",
        "--at", soon(), "--json", stdout=out,
    )  # fmt: skip
    assert json.loads(out.getvalue())["state"] == "pending"
    out = StringIO()
    call_command("schedule", "run", "--once", "--json", stdout=out)
    assert json.loads(out.getvalue())["accepted"] == 1
    out = StringIO()
    call_command("schedule", "list", "--user", "alice", "--json", stdout=out)
    assert json.loads(out.getvalue())[0]["state"] == "done"


@pytest.mark.django_db(transaction=True)
def test_two_processes_on_postgresql_run_each_due_schedule_once(agent, make_instance, alice_ctx):
    if connection.vendor != "postgresql":
        pytest.skip("two processes sharing SKIP LOCKED need PostgreSQL (DATABASE_URL)")
    vms = [make_instance("active", name=f"s{i}") for i in range(12)]
    for vm in vms:
        schedule_create(
            context=alice_ctx, instance_uuid=str(vm.uuid), action="reboot", run_at=soon()
        )
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "schedule", "run", "--once", "--json"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(r["accepted"] for r in results) == 12
    assert ScheduledAction.objects.filter(state="done").count() == 12
    for vm in vms:
        assert InstanceAction.objects.filter(instance=vm, action="reboot").count() == 1


def test_a_refused_or_skipped_run_is_told_to_its_owner_only(
    agent, make_instance, alice_ctx, admin_ctx
):
    from compute.models import ChangeEvent, Notification
    from compute.notify.derive import cursor_start, derive_once
    from compute.notify.subscriptions import subscription_create
    from compute.outbox.audience import messages_for

    vm = make_instance("stopped", name="already-off")
    subscription_create(context=alice_ctx, scope="instance", target=str(vm.uuid))
    subscription_create(context=admin_ctx, scope="project", target=alice_ctx.project_id)
    cursor_start()
    schedule_create(context=alice_ctx, instance_uuid=str(vm.uuid), action="stop", run_at=soon())
    schedules_run_due()
    derive_once()
    (told,) = Notification.objects.all()
    assert told.user_id == alice_ctx.user_id and told.kind == "action_failed"
    assert told.title == (
        f"already-off: stop failed: Cannot 'stop' instance {vm.uuid} while it is in vm_state "
        "stopped"
    )
    assert told.event_type == "instance.power_off.error"
    row = ChangeEvent.objects.get(kind="schedule")
    assert messages_for(row) == []  # no page receives it


@pytest.mark.django_db(transaction=True)
def test_two_processes_on_postgresql_run_a_recurring_schedule_once_per_tick(
    agent, make_instance, alice_ctx, tmp_path, settings
):
    """Two runner loops polling twenty times a second race for a schedule due every second:
    every tick is run once (one history row per grid moment), never twice."""
    if connection.vendor != "postgresql":
        pytest.skip("two processes sharing SKIP LOCKED need PostgreSQL (DATABASE_URL)")
    from compute.models import ScheduleRun

    for i in range(2):
        make_instance("active", name=f"tick-{i}")
    settings.COMPUTE = {**settings.COMPUTE, "schedule_min_interval": 1.0}  # a tick a second
    made = schedule_create(
        context=alice_ctx, target_filter={"name": "^tick-"}, action="reboot", cron="* * * * * *"
    )
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "LOG_LEVEL": "WARNING",
    }
    logs = [open(tmp_path / f"run{i}.log", "w") for i in range(2)]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "schedule", "run", "--interval", "0.05"],
            cwd=ROOT, env=env, stdout=logs[i], stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ScheduleRun.objects.count() < 4:
            time.sleep(0.2)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        for log in logs:
            log.close()
    output = "".join((tmp_path / f"run{i}.log").read_text() for i in range(2))
    assert "Traceback" not in output, output
    due = list(ScheduleRun.objects.filter(schedule=made).values_list("due_at", flat=True))
    assert len(due) >= 4
    assert len(due) == len(set(due))  # no tick run twice
    for run in ScheduleRun.objects.filter(schedule=made):
        assert sorted(o["name"] for o in run.outcomes) == ["tick-0", "tick-1"]
    assert InstanceAction.objects.filter(action="reboot").count() == 2  # the first tick's
