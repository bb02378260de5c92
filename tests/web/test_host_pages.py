"""The hosts pages, for admins: status, heartbeat, last sync and counts, the maintenance
switches, and moving instances off a disabled host."""

from __future__ import annotations

import pytest

from compute.drivers.fake import set_guest_state
from compute.models import FakeGuest, Host, Instance
from compute.states import PowerState, TaskState
from compute.status import HostStatus
from compute.sync import sync_host

pytestmark = pytest.mark.django_db


def test_members_may_not_see_the_hosts_pages(alice_client, host):
    assert alice_client.get("/hosts/").status_code == 403
    assert alice_client.get("/hosts/node1/").status_code == 403
    assert alice_client.post("/hosts/node1/update/", {"op": "enable"}).status_code == 403


def test_the_hosts_page_shows_status_heartbeat_and_instances_per_vm_state(
    admin_client, make_instance
):
    make_instance("active")
    make_instance("stopped")
    html = admin_client.get("/hosts/").content.decode()
    assert "node1" in html
    assert 'title="host_status: UP"' in html
    assert 'data-bind="heartbeat"' in html
    assert 'title="vm_state: active"' in html and 'title="vm_state: stopped"' in html


def test_the_hosts_page_shows_the_last_power_sync_and_what_it_changed(
    admin_client, agent, make_instance
):
    instance = make_instance("active", name="web-1")
    set_guest_state(FakeGuest.objects.get(uuid=str(instance.uuid)), PowerState.SHUTDOWN)
    sync_host(host=agent.host, driver=agent.driver)
    html = admin_client.get("/hosts/node1/").content.decode()
    assert "web-1: power running → shutdown" in html


def test_disabling_a_host_requires_a_reason(admin_client, host):
    admin_client.post("/hosts/node1/update/", {"op": "disable", "reason": "  "})
    host.refresh_from_db()
    assert not host.disabled


def test_disabling_with_a_reason_puts_the_host_in_maintenance_and_enabling_undoes_it(
    admin_client, host
):
    admin_client.post("/hosts/node1/update/", {"op": "disable", "reason": "kernel upgrade"})
    host.refresh_from_db()
    assert host.host_status == HostStatus.MAINTENANCE
    assert host.disabled_reason == "kernel upgrade"
    admin_client.post("/hosts/node1/update/", {"op": "enable"})
    host.refresh_from_db()
    assert host.host_status == HostStatus.UP


def test_forcing_a_host_down_and_back(admin_client, host):
    admin_client.post("/hosts/node1/update/", {"op": "force_down"})
    host.refresh_from_db()
    assert host.host_status == HostStatus.DOWN
    admin_client.post("/hosts/node1/update/", {"op": "force_up"})
    host.refresh_from_db()
    assert host.host_status == HostStatus.UP


def test_a_disabled_host_offers_to_live_migrate_its_instances_with_a_verdict_each(
    admin_client, agent_factory, make_instance
):
    instance = make_instance("active", name="mover")
    stopped = make_instance("stopped", name="sleeper")
    agent_factory("node2")
    admin_client.post("/hosts/node1/update/", {"op": "disable", "reason": "maintenance"})
    html = admin_client.get("/hosts/node1/").content.decode()
    assert "Live-migrate selected away" in html
    assert f"Cannot &#x27;os-migrateLive&#x27; instance {stopped.uuid}" in html
    response = admin_client.post(
        "/hosts/node1/migrate-away/", {"instance": [str(instance.uuid)]}, follow=True
    )
    assert "Live migration accepted." in response.content.decode()
    instance.refresh_from_db()
    assert instance.task_state == TaskState.MIGRATING


def test_heartbeats_are_served_to_admins_only(admin_client, alice_client, host):
    assert alice_client.get("/hosts/heartbeats/").status_code == 403
    data = admin_client.get("/hosts/heartbeats/").json()
    assert data["hosts"][str(Host.objects.get(host="node1").uuid)]


def test_the_hosts_page_costs_the_same_queries_for_one_host_or_many(
    admin_client, agent_factory, make_instance
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_instance("active")
    with CaptureQueriesContext(connection) as one:
        admin_client.get("/hosts/")
    make_instance("stopped")
    for name in ("node2", "node3"):
        agent = agent_factory(name)
        sync_host(host=agent.host, driver=agent.driver)
    with CaptureQueriesContext(connection) as many:
        admin_client.get("/hosts/")
    assert len(many) == len(one)


def test_the_host_page_shows_the_drain_plan_with_novas_refusals_and_a_default_each(
    admin_client, agent_factory, make_instance, alice_ctx
):
    from compute.services import instance_action
    from tests.conftest import fresh

    locked = make_instance("active", name="locked")
    busy = make_instance("active", name="busy")
    make_instance("stopped", name="sleeper")
    agent_factory("node2")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(locked.uuid), action="lock")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(busy.uuid), action="stop")
    html = admin_client.get("/hosts/node1/").content.decode()
    assert f"Instance {locked.uuid} is locked" in html
    assert (
        f"Cannot &#x27;os-migrateLive&#x27; instance {busy.uuid} while it is in task_state "
        "powering-off"
    ) in html
    assert html.count('data-verdict="cannot-move"') == 2
    assert html.count('data-verdict="cold-migrate"') == 1
    assert '<option value="cold-migrate" selected>' in html
    assert '<option value="leave" selected>' in html


def test_a_drain_started_from_the_host_page_shows_its_steps_and_can_be_cancelled(
    admin_client, agent, agent_factory, make_instance
):
    from compute.models import DrainJob

    stay = make_instance("active", name="stay")
    make_instance("active", name="mover")
    agent_factory("node2")
    response = admin_client.post(
        "/hosts/node1/drain/", {f"choice-{stay.uuid}": "leave"}, follow=True
    )
    html = response.content.decode()
    job = DrainJob.objects.get()
    assert f"Drain #{job.pk} of node1 started." in html
    assert 'id="drain-steps"' in html and "Left by choice." in html
    assert Host.objects.get(host="node1").disabled
    panel = admin_client.get("/hosts/node1/?fragment=drain").content.decode()
    assert 'data-step-state="running"' in panel and 'data-step-state="skipped"' in panel
    response = admin_client.post(f"/hosts/node1/drain/{job.pk}/cancel/", follow=True)
    assert f"Drain #{job.pk} is cancelled." in response.content.decode()
    assert Instance.objects.get(name="mover").task_state is None


def test_a_bad_drain_choice_is_refused_on_the_page_and_changes_nothing(
    admin_client, agent_factory, make_instance
):
    from compute.models import DrainJob

    instance = make_instance("active")
    agent_factory("node2")
    response = admin_client.post(
        "/hosts/node1/drain/", {f"choice-{instance.uuid}": "teleport"}, follow=True
    )
    assert "Unknown drain choice" in response.content.decode()
    assert not DrainJob.objects.exists()
    assert not Host.objects.get(host="node1").disabled
