"""A drain survives its processes: the web process that carries the job on and the agent that
runs its live migrations are killed with SIGKILL mid-drain and started again; every step still
ends done, once, and the host stays disabled."""

from __future__ import annotations

import pytest

from compute.models import DrainJob, DrainStep, FakeGuest, Host, Instance, Migration
from compute.services import drains, instance_create
from tests.conftest import CIRROS, context_of, fresh
from tests.support.processes import Daphne, child_env, start_agent, wait_for

FAST = {"REPORT_INTERVAL": "1", "WATCHDOG_INTERVAL": "0.5"}


@pytest.mark.django_db(transaction=True)
def test_killing_the_web_process_and_the_agent_mid_drain_loses_no_step(
    catalog, alice_ctx, admin_user, tmp_path
):
    env = child_env(**FAST)
    source = start_agent("src", workdir=tmp_path, env=env)
    processes = [source]
    try:
        wait_for(
            lambda: Host.objects.filter(host="src", last_seen_up__isnull=False).exists(),
            timeout=30,
            what="the source agent to register",
        )
        instances = [
            instance_create(
                context=fresh(alice_ctx), name=f"vm-{n}", flavor_ref="1", image_ref=CIRROS
            )
            for n in range(3)
        ]
        wait_for(
            lambda: Instance.objects.filter(vm_state="active").count() == 3,
            timeout=30,
            what="the builds to end",
        )
        dest = start_agent("dst", workdir=tmp_path, env=env)
        processes.append(dest)
        wait_for(
            lambda: Host.objects.filter(host="dst", last_seen_up__isnull=False).exists(),
            timeout=30,
            what="the destination agent to register",
        )
        FakeGuest.objects.update(migration_seconds=3)
        web = Daphne(workdir=tmp_path, env=env)
        processes.append(web)
        web.wait_ready()

        admin = context_of(admin_user, "admin", is_admin=True)
        job = drains.drain_start(context=fresh(admin), host=Host.objects.get(host="src"))
        wait_for(
            lambda: Migration.objects.filter(status="running").exists(),
            timeout=30,
            what="a live migration to be running",
        )
        # Both die mid-drain, a live migration half copied; then both come back.
        web.kill()
        source.kill()
        assert DrainJob.objects.get(pk=job.pk).state == "running"
        source = start_agent("src", workdir=tmp_path, env=env)
        web = Daphne(workdir=tmp_path, env=env)
        processes += [source, web]
        web.wait_ready()

        wait_for(
            lambda: not DrainJob.objects.get(pk=job.pk).active,
            timeout=90,
            what="the drain to end",
            every=0.2,
        )
        job.refresh_from_db()
        assert job.state == "done", [(s.state, s.message) for s in job.steps.all()]
        steps = list(job.steps.all())
        assert len(steps) == 3 and {s.state for s in steps} == {DrainStep.State.DONE}
        assert all(s.attempts == 1 for s in steps)  # resumed, not started over
        for instance in instances:
            instance.refresh_from_db()
            assert (instance.host.host, instance.vm_state, instance.task_state) == (
                "dst", "active", None,
            )  # fmt: skip
            assert FakeGuest.objects.get(uuid=str(instance.uuid)).host == "dst"
        assert set(Migration.objects.values_list("status", flat=True)) == {"completed"}
        assert Host.objects.get(host="src").disabled
    finally:
        for process in processes:
            process.kill()
