"""Drain jobs: steps through the normal action path, retries, cancel in every state, the host
left disabled, and a job carried on by whoever calls the runner next."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import close_old_connections

from compute.agent.agent import ComputeAgent
from compute.drivers.fake import FakeDriver
from compute.exceptions import Conflict
from compute.models import DrainJob, DrainStep, FakeGuest, Host, Instance, Migration
from compute.services import drains, instance_action
from tests.conftest import fresh

S = DrainStep.State


def settle(*agents: ComputeAgent, job: DrainJob, rounds: int = 10) -> DrainJob:
    """Run the agents and the drain runner in turn until the job ends."""
    for _ in range(rounds):
        for agent in agents:
            agent.run_pending()
        drains.advance_all()
        job.refresh_from_db()
        if not job.active:
            break
    return job


def steps_by_name(job: DrainJob) -> dict[str, DrainStep]:
    return {s.instance.name: s for s in job.steps.select_related("instance")}


@pytest.fixture
def second(agent_factory: Callable[[str], ComputeAgent]) -> Callable[[], ComputeAgent]:
    return lambda: agent_factory("node2")


@pytest.mark.django_db
def test_a_drain_moves_what_can_move_leaves_the_rest_and_keeps_the_host_disabled(
    make_instance, agent, second, admin_ctx, alice_ctx, host
):
    live = make_instance("active", name="live")
    make_instance("stopped", name="cold")
    locked = make_instance("active", name="locked")
    make_instance("active", name="stay")
    node2 = second()
    instance_action(context=fresh(alice_ctx), instance_uuid=str(locked.uuid), action="lock")
    stay = Instance.objects.get(name="stay")

    job = drains.drain_start(context=fresh(admin_ctx), host=host, choices={str(stay.uuid): "leave"})
    host.refresh_from_db()
    assert host.disabled and host.disabled_reason == drains.REASON
    job = settle(agent, node2, job=job)

    assert job.state == DrainJob.State.DONE
    steps = steps_by_name(job)
    assert {n: s.state for n, s in steps.items()} == {
        "live": S.DONE, "cold": S.DONE, "locked": S.SKIPPED, "stay": S.SKIPPED,
    }  # fmt: skip
    assert steps["locked"].message == f"Instance {locked.uuid} is locked"
    assert steps["cold"].action == "confirmResize"
    hosts = dict(Instance.objects.values_list("name", "host__host"))
    assert hosts == {"live": "node2", "cold": "node2", "locked": "node1", "stay": "node1"}
    assert Instance.objects.get(name="cold").vm_state == "stopped"
    assert Migration.objects.get(instance=live).status == "completed"
    assert Migration.objects.get(instance__name="cold").status == "confirmed"
    assert Host.objects.get(pk=host.pk).disabled  # until an admin enables it


@pytest.mark.django_db
def test_a_step_that_fails_once_is_retried_and_goes_through(
    make_instance, agent, second, admin_ctx, host
):
    flaky = make_instance("active", name="flaky")
    node2 = second()
    FakeGuest.objects.filter(uuid=str(flaky.uuid)).update(migration_fail_at=30)  # once
    job = settle(agent, node2, job=drains.drain_start(context=fresh(admin_ctx), host=host))
    step = steps_by_name(job)["flaky"]
    assert (job.state, step.state, step.attempts) == (DrainJob.State.DONE, S.DONE, 2)
    statuses = list(
        Migration.objects.filter(instance=flaky).order_by("id").values_list("status", flat=True)
    )
    assert statuses == ["failed", "completed"]


@pytest.mark.django_db
def test_a_step_that_keeps_failing_is_failed_with_the_fault_and_the_job_fails(
    make_instance, agent, second, admin_ctx, host
):
    make_instance("active", name="broken")
    node2 = second()
    for _ in range(drains.MAX_ATTEMPTS):
        FakeDriver.fail_next(host="node1", operation="live_migrate", message="link down")
    job = settle(agent, node2, job=drains.drain_start(context=fresh(admin_ctx), host=host))
    step = steps_by_name(job)["broken"]
    assert (job.state, step.state, step.attempts) == (
        DrainJob.State.FAILED, S.FAILED, drains.MAX_ATTEMPTS,
    )  # fmt: skip
    assert step.message == f"Failed after {drains.MAX_ATTEMPTS} attempts: link down"
    assert Instance.objects.get(name="broken").host.host == "node1"


@pytest.mark.django_db
def test_a_second_drain_of_a_host_being_drained_is_refused(make_instance, second, admin_ctx, host):
    make_instance("active")
    second()
    drains.drain_start(context=fresh(admin_ctx), host=host)
    with pytest.raises(Conflict, match="already being drained"):
        drains.drain_start(context=fresh(admin_ctx), host=host)


@pytest.mark.django_db
def test_a_bad_choice_changes_nothing(make_instance, second, admin_ctx, host):
    instance = make_instance("active")
    second()
    with pytest.raises(Exception, match="Unknown drain choice"):
        drains.drain_start(context=fresh(admin_ctx), host=host, choices={str(instance.uuid): "x"})
    assert not DrainJob.objects.exists()
    host.refresh_from_db()
    assert not host.disabled


@pytest.mark.django_db(transaction=True)
def test_cancel_aborts_the_running_live_migration_drops_the_queued_and_keeps_the_done(
    make_instance, agent, second, admin_ctx, host, monkeypatch
):
    monkeypatch.setattr(drains, "CONCURRENCY", 1)
    make_instance("active", name="a-first")
    slow = make_instance("active", name="b-slow")
    make_instance("active", name="c-queued")
    node2 = second()
    FakeGuest.objects.filter(uuid=str(slow.uuid)).update(migration_seconds=60)
    job = drains.drain_start(context=fresh(admin_ctx), host=host)
    agent.run_pending()  # a-first moves
    drains.advance_all()  # a-first done, b-slow started

    def run() -> None:
        try:
            agent.run_pending()
        finally:
            close_old_connections()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    deadline = time.monotonic() + 20
    while not Migration.objects.filter(instance=slow, status="running").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)

    drains.drain_cancel(context=fresh(admin_ctx), job=job)
    worker.join(30)
    job = settle(agent, node2, job=job)
    steps = steps_by_name(job)
    assert job.state == DrainJob.State.CANCELLED
    assert [steps[n].state for n in ("a-first", "b-slow", "c-queued")] == [
        S.DONE, S.CANCELLED, S.CANCELLED,
    ]  # fmt: skip
    slow.refresh_from_db()
    assert (slow.vm_state, slow.task_state, slow.host.host) == ("active", None, "node1")
    assert Migration.objects.get(instance=slow).status == "cancelled"
    assert Instance.objects.get(name="a-first").host.host == "node2"
    assert Instance.objects.get(name="c-queued").host.host == "node1"
    assert Host.objects.get(pk=host.pk).disabled


@pytest.mark.django_db
def test_cancel_of_a_step_still_queued_for_the_agent_drops_its_migration(
    make_instance, agent, second, admin_ctx, host
):
    instance = make_instance("active", name="waiting")
    second()
    job = drains.drain_start(context=fresh(admin_ctx), host=host)
    assert steps_by_name(job)["waiting"].state == S.RUNNING  # accepted, agent not run yet
    job = drains.drain_cancel(context=fresh(admin_ctx), job=job)
    assert job.state == DrainJob.State.CANCELLED
    assert steps_by_name(job)["waiting"].state == S.CANCELLED
    instance.refresh_from_db()
    assert instance.task_state is None and instance.host.host == "node1"
    assert agent.run_pending() == 0
