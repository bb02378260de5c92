"""Two web processes (daphne serving ``dashboard.asgi``, each running the schedules loop beside
its sockets) on one PostgreSQL database and Redis: a schedule due every second is run once per
tick. Runs on the PostgreSQL pass only (DATABASE_URL, REDIS_URL)."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from compute.models import InstanceAction, ScheduleRun
from compute.services.schedules import schedule_create
from tests.support.processes import Daphne, child_env, wait_for


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_run_a_schedule_once_per_tick(
    agent, make_instance, alice_ctx, tmp_path, settings
):
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("two web processes sharing a schedule: PostgreSQL and Redis (the CI's pass)")
    for i in range(2):
        make_instance("active", name=f"web-tick-{i}")
    settings.COMPUTE = {**settings.COMPUTE, "schedule_min_interval": 1.0}  # a tick a second
    made = schedule_create(
        context=alice_ctx, target_filter={"name": "^web-tick-"}, action="reboot",
        cron="* * * * * *",
    )  # fmt: skip
    env = child_env(REDIS_URL=os.environ["REDIS_URL"])
    servers = [Daphne(workdir=tmp_path, env=env) for _ in range(2)]
    try:
        for server in servers:
            server.wait_ready()  # its first request starts its background loops
        wait_for(
            lambda: ScheduleRun.objects.filter(schedule=made).count() >= 5,
            timeout=60,
            what="five ticks run",
        )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait_stopped()
    for server in servers:
        assert "Traceback" not in server.log(), server.tail()
    due = list(ScheduleRun.objects.filter(schedule=made).values_list("due_at", flat=True))
    assert len(due) == len(set(due))  # no tick run twice
    assert InstanceAction.objects.filter(action="reboot").count() == 2  # the first tick's
