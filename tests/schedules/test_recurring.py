"""Recurring schedules: a cron expression read on the owner's wall clock (DST days as croniter
reads them), the next run stored in UTC, one history row per run, a missed run caught up once
and the grid resumed, pause and resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from compute.exceptions import Invalid, NotFound
from compute.models import InstanceAction, ScheduledAction, ScheduleRun
from compute.selectors.schedules import next_run
from compute.services.schedule_runs import schedules_run_due
from compute.services.schedules import (
    schedule_cancel,
    schedule_create,
    schedule_pause,
    schedule_resume,
)

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_next_run_is_read_on_the_owners_wall_clock_and_stored_in_utc(make_instance, alice_ctx):
    vm = make_instance("active")
    made = schedule_create(
        context=alice_ctx,
        instance_uuid=str(vm.uuid),
        action="reboot",
        cron="0 9 * * 1-5",
        time_zone="Europe/Paris",
        now=at("2030-07-05T12:00"),  # a Friday
    )
    assert made.run_at == at("2030-07-08T07:00")  # Monday 09:00 CEST
    assert made.recurring and made.state == "pending"


def test_a_time_skipped_by_spring_forward_runs_just_after_the_gap():
    first = next_run("30 2 * * *", PARIS, at("2026-03-28T12:00"))
    assert first == at("2026-03-29T01:00")  # 02:30 does not exist that night: 03:00 CEST
    assert next_run("30 2 * * *", PARIS, first) == at("2026-03-30T00:30")  # 02:30 CEST


def test_a_time_repeated_by_fall_back_runs_in_both_offsets_as_croniter_reads_it():
    first = next_run("30 2 * * *", PARIS, at("2026-10-24T12:00"))
    second = next_run("30 2 * * *", PARIS, first)
    assert (first, second) == (at("2026-10-25T00:30"), at("2026-10-25T01:30"))
    assert next_run("30 2 * * *", PARIS, second) == at("2026-10-26T01:30")


def test_an_hourly_schedule_keeps_the_hour_across_the_dst_change():
    moments = [at("2026-03-28T22:30")]
    for _ in range(4):
        moments.append(next_run("0 * * * *", PARIS, moments[-1]))
    assert moments[1:] == [at("2026-03-28T23:00"), at("2026-03-29T00:00"),
                           at("2026-03-29T01:00"), at("2026-03-29T02:00")]  # fmt: skip


def test_each_run_is_kept_in_the_history_and_the_next_moves_on_the_grid(
    agent, make_instance, alice_ctx
):
    vm = make_instance("active", name="hourly")
    made = schedule_create(
        context=alice_ctx, instance_uuid=str(vm.uuid), action="reboot", cron="0 * * * *",
        now=at("2030-01-01T10:10"),
    )  # fmt: skip
    assert made.run_at == at("2030-01-01T11:00")
    assert schedules_run_due(now=at("2030-01-01T10:59")) == {
        "accepted": 0, "refused": 0, "skipped": 0
    }  # fmt: skip
    assert schedules_run_due(now=at("2030-01-01T11:00:02"))["accepted"] == 1
    agent.run_pending()
    made.refresh_from_db()
    assert made.run_at == at("2030-01-01T12:00") and made.state == "pending"
    assert made.last_outcome == "accepted"
    (run,) = ScheduleRun.objects.filter(schedule=made)
    action = InstanceAction.objects.get(instance=vm, action="reboot")
    assert run.due_at == at("2030-01-01T11:00") and run.ran_at == at("2030-01-01T11:00:02")
    assert run.outcome == "accepted" and run.request_id == action.request_id
    assert run.outcomes == [
        {"uuid": str(vm.uuid), "name": "hourly", "outcome": "accepted",
         "request_id": action.request_id, "result": f"Accepted: {action.request_id}"}
    ]  # fmt: skip


def test_after_a_three_hour_outage_an_hourly_schedule_runs_once_then_resumes_on_the_grid(
    agent, make_instance, alice_ctx
):
    vm = make_instance("active")
    made = schedule_create(
        context=alice_ctx, instance_uuid=str(vm.uuid), action="reboot", cron="0 * * * *",
        now=at("2030-01-01T10:10"),
    )  # fmt: skip
    # Nothing ran at 11:00, 12:00, 13:00; a runner is back at 14:20.
    assert schedules_run_due(now=at("2030-01-01T14:20"))["accepted"] == 1
    assert schedules_run_due(now=at("2030-01-01T14:21"))["accepted"] == 0
    made.refresh_from_db()
    assert made.run_at == at("2030-01-01T15:00")
    assert ScheduleRun.objects.filter(schedule=made).count() == 1
    assert InstanceAction.objects.filter(instance=vm, action="reboot").count() == 1


def test_a_refused_recurring_run_is_recorded_and_the_schedule_goes_on(
    agent, make_instance, alice_ctx
):
    vm = make_instance("stopped")
    made = schedule_create(
        context=alice_ctx, instance_uuid=str(vm.uuid), action="stop", cron="*/5 * * * *",
        now=at("2030-01-01T10:01"),
    )  # fmt: skip
    assert schedules_run_due(now=at("2030-01-01T10:05"))["refused"] == 1
    made.refresh_from_db()
    assert made.state == "pending" and made.run_at == at("2030-01-01T10:10")
    run = ScheduleRun.objects.get(schedule=made)
    assert run.outcome == "refused"
    assert run.result == f"Cannot 'stop' instance {vm.uuid} while it is in vm_state stopped"


def test_a_paused_schedule_does_not_run_and_resumes_from_now_on_its_grid(
    make_instance, alice_ctx, bob_ctx
):
    vm = make_instance("active")
    made = schedule_create(
        context=alice_ctx, instance_uuid=str(vm.uuid), action="reboot", cron="0 * * * *",
        now=at("2030-01-01T10:10"),
    )  # fmt: skip
    with pytest.raises(NotFound):
        schedule_pause(context=bob_ctx, schedule_id=made.pk)
    assert schedule_pause(context=alice_ctx, schedule_id=made.pk).state == "paused"
    assert schedules_run_due(now=at("2030-01-01T13:30"))["accepted"] == 0
    resumed = schedule_resume(context=alice_ctx, schedule_id=made.pk, now=at("2030-01-01T13:30"))
    assert resumed.state == "pending" and resumed.run_at == at("2030-01-01T14:00")
    with pytest.raises(NotFound):
        schedule_resume(context=alice_ctx, schedule_id=made.pk)  # not paused
    assert schedule_cancel(context=alice_ctx, schedule_id=made.pk).state == "cancelled"
    assert schedules_run_due(now=at("2030-01-01T15:00"))["accepted"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cron": "every day"}, "Invalid cron expression"),
        ({"cron": "0 3 * *"}, "Invalid cron expression"),
        ({"cron": "0 3 30 2 *"}, "never matches"),
        ({"cron": "0 3 * * *", "run_at": "2030-01-01T00:00"}, "either run_at"),
        ({}, "either run_at"),
    ],
)
def test_a_bad_recurrence_is_refused(make_instance, alice_ctx, kwargs, message):
    vm = make_instance("active")
    with pytest.raises(Invalid, match=message):
        schedule_create(context=alice_ctx, instance_uuid=str(vm.uuid), action="stop", **kwargs)


def test_a_one_off_run_is_kept_in_the_history_too(agent, make_instance, alice_ctx):
    vm = make_instance("active")
    made = schedule_create(
        context=alice_ctx, instance_uuid=str(vm.uuid), action="stop",
        run_at=(datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
    )  # fmt: skip
    schedules_run_due()
    made.refresh_from_db()
    assert made.state == "done" and made.last_outcome == "accepted"
    assert ScheduleRun.objects.get(schedule=made).outcome == "accepted"


def test_a_schedule_ends_when_its_instance_is_deleted_or_its_owner_disabled(
    agent, make_instance, alice, alice_ctx
):
    from compute.services import instance_action
    from tests.conftest import fresh

    gone, kept = make_instance("active", name="gone"), make_instance("active", name="kept")
    on_gone, on_kept = (
        schedule_create(
            context=alice_ctx,
            instance_uuid=str(vm.uuid),
            action="reboot",
            cron="0 * * * *",
            now=at("2030-01-01T10:10"),
        )
        for vm in (gone, kept)
    )
    instance_action(context=fresh(alice_ctx), instance_uuid=str(gone.uuid), action="delete")
    agent.run_pending()
    schedules_run_due(now=at("2030-01-01T11:00"))
    on_gone.refresh_from_db()
    assert (on_gone.state, on_gone.result) == ("cancelled", "Ended: the instance was deleted.")
    agent.run_pending()
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert schedules_run_due(now=at("2030-01-01T12:00"))["accepted"] == 0
    on_kept.refresh_from_db()
    assert on_kept.state == "cancelled"
    assert on_kept.result == "Ended: the owner's account is disabled."
    assert ScheduleRun.objects.filter(schedule=on_kept).count() == 2


@pytest.mark.parametrize("cron", ["* * * * * *", "*/30 * * * * *", "0,45 3 * * * *"])
def test_a_cron_closer_than_the_least_interval_is_refused_and_nothing_is_made(
    alice_ctx, make_instance, cron
):
    vm = make_instance("active")
    with pytest.raises(Invalid, match="a schedule may run at most once every 60 s"):
        schedule_create(context=alice_ctx, instance_uuid=str(vm.uuid), action="reboot", cron=cron)
    assert not ScheduledAction.objects.exists()


def test_every_minute_is_the_least_interval_by_default(alice_ctx, make_instance):
    vm = make_instance("active")
    made = schedule_create(
        context=alice_ctx, instance_uuid=str(vm.uuid), action="reboot", cron="* * * * *"
    )
    assert made.cron == "* * * * *"
