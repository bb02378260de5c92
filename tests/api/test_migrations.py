"""Nova's migrations API over the records the live and cold migration walks keep: the admin's
list with its microversions, filters and paging, a server's live migrations in progress with
the fake hypervisor's figures, force-complete, and abort of a running and of a queued one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import close_old_connections

from compute.agent.agent import ComputeAgent
from compute.models import FakeGuest, Instance, InstanceFault, Migration
from compute.services import instance_action
from tests.api.conftest import at
from tests.conftest import fresh


@pytest.fixture
def two_hosts(
    agent: ComputeAgent, agent_factory: Callable[[str], ComputeAgent]
) -> Callable[[], tuple[ComputeAgent, ComputeAgent]]:
    """node1, where ``make_instance`` builds, and then node2 to move to: call it after the
    instances are built, or the scheduler would spread them over both."""
    return lambda: (agent, agent_factory("node2"))


def live_migrate(admin_ctx, instance: Instance) -> None:
    instance_action(
        context=fresh(admin_ctx),
        instance_uuid=str(instance.uuid),
        action="os-migrateLive",
        params={"host": "node2"},
    )


def slow(instance: Instance, seconds: float, fail_at: int | None = None) -> None:
    FakeGuest.objects.filter(uuid=str(instance.uuid)).update(
        migration_seconds=seconds, migration_fail_at=fail_at
    )


@pytest.fixture
def running_agent() -> Iterator[Callable[[ComputeAgent], threading.Thread]]:
    """Runs an agent's pending work in a thread, as its process would, while the test acts."""
    threads: list[threading.Thread] = []

    def start(agent: ComputeAgent) -> threading.Thread:
        def work() -> None:
            try:
                agent.run_pending()
            finally:
                close_old_connections()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.join(30)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- the records the walks keep --------------------------------------------------------------


@pytest.mark.django_db
def test_a_live_migration_is_recorded_completed_with_the_fake_hypervisors_figures(
    two_hosts, make_instance, admin_ctx
):
    instance = make_instance("active")
    node1, _ = two_hosts()
    live_migrate(admin_ctx, instance)
    migration = Migration.objects.get(instance=instance)
    assert (migration.status, migration.migration_type) == ("queued", "live-migration")
    node1.run_pending()
    migration.refresh_from_db()
    instance.refresh_from_db()
    assert migration.status == "completed"
    assert (migration.source_compute, migration.dest_compute) == ("node1", "node2")
    # m1.tiny: 512 MiB of memory and a 1 GiB disk, all copied.
    assert migration.memory_total == 512 << 20 and migration.memory_remaining == 0
    assert migration.disk_total == 1 << 30 and migration.disk_processed == 1 << 30
    assert instance.host.host == "node2" and instance.task_state is None


@pytest.mark.django_db
def test_cold_migration_walks_nova_statuses_to_finished_then_confirmed(
    two_hosts, make_instance, admin_ctx
):
    instance = make_instance("active")
    node1, node2 = two_hosts()
    instance_action(
        context=fresh(admin_ctx), instance_uuid=str(instance.uuid), action="migrate", params={}
    )
    migration = Migration.objects.get(instance=instance)
    assert (migration.status, migration.migration_type) == ("pre-migrating", "migration")
    node2.run_pending()
    node1.run_pending()
    migration.refresh_from_db()
    assert migration.status == "finished"
    instance_action(
        context=fresh(admin_ctx), instance_uuid=str(instance.uuid), action="confirmResize"
    )
    migration.refresh_from_db()
    assert migration.status == "confirmed"


@pytest.mark.django_db
def test_a_reverted_resize_is_recorded_reverted(two_hosts, make_instance, alice_ctx):
    instance = make_instance("active")
    node1, node2 = two_hosts()
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="resize",
        params={"flavorRef": "2"},
    )
    for agent in (node1, node2, node1, node2):
        agent.run_pending()
    migration = Migration.objects.get(instance=instance)
    assert (migration.migration_type, migration.status) == ("resize", "finished")
    assert migration.new_instance_type_id != migration.old_instance_type_id
    instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="revertResize"
    )
    migration.refresh_from_db()
    assert migration.status == "reverting"
    for agent in (node1, node2):
        agent.run_pending()
    migration.refresh_from_db()
    assert migration.status == "reverted"


@pytest.mark.django_db
def test_a_failed_live_migration_is_failed_and_the_instance_stays_active_on_the_source(
    two_hosts, make_instance, admin_ctx
):
    instance = make_instance("active")
    node1, _ = two_hosts()
    slow(instance, 0, fail_at=50)
    live_migrate(admin_ctx, instance)
    node1.run_pending()
    instance.refresh_from_db()
    migration = Migration.objects.get(instance=instance)
    assert migration.status == "failed"
    assert (instance.vm_state, instance.task_state, instance.host.host) == (
        "active",
        None,
        "node1",
    )
    assert "failed after copying" in InstanceFault.objects.filter(instance=instance).first().message


# --- GET /os-migrations --------------------------------------------------------------------


@pytest.mark.django_db
def test_os_migrations_shows_nova_fields_by_microversion(
    two_hosts, make_instance, admin_ctx, admin_api
):
    instance = make_instance("active")
    node1, _ = two_hosts()
    live_migrate(admin_ctx, instance)
    node1.run_pending()

    old = admin_api.get("/v2.1/os-migrations", **at("2.1")).json()["migrations"][0]
    assert set(old) == {
        "created_at", "dest_compute", "dest_host", "dest_node", "id", "instance_uuid",
        "new_instance_type_id", "old_instance_type_id", "source_compute", "source_node",
        "status", "updated_at",
    }  # fmt: skip
    assert old["status"] == "completed" and old["instance_uuid"] == str(instance.uuid)
    new = admin_api.get("/v2.1/os-migrations", **at("2.80")).json()["migrations"][0]
    assert new["migration_type"] == "live-migration"
    assert "links" not in new  # links only while a live migration is in progress
    assert new["uuid"] and new["project_id"] == instance.project_id
    assert new["user_id"] == str(admin_ctx.user_id)


@pytest.mark.django_db
def test_os_migrations_is_admin_only_with_novas_policy_text(alice_api):
    response = alice_api.get("/v2.1/os-migrations")
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:os-migrations:index to be performed."
    )


@pytest.mark.django_db
def test_os_migrations_filters_and_pages_newest_first(
    two_hosts, make_instance, admin_ctx, admin_api
):
    first = make_instance("active", name="a")
    second = make_instance("active", name="b")
    node1, _node2 = two_hosts()
    for instance in (first, second):
        live_migrate(admin_ctx, instance)
    node1.run_pending()
    page = admin_api.get("/v2.1/os-migrations?limit=1", **at("2.59")).json()
    assert [m["instance_uuid"] for m in page["migrations"]] == [str(second.uuid)]
    next_href = page["migrations_links"][0]["href"]
    assert "marker=" in next_href
    rest = admin_api.get(next_href.split("testserver")[1], **at("2.59")).json()
    assert [m["instance_uuid"] for m in rest["migrations"]] == [str(first.uuid)]

    by_instance = admin_api.get(f"/v2.1/os-migrations?instance_uuid={first.uuid}").json()
    assert len(by_instance["migrations"]) == 1
    assert admin_api.get("/v2.1/os-migrations?status=running").json()["migrations"] == []
    assert len(admin_api.get("/v2.1/os-migrations?host=node2").json()["migrations"]) == 2
    other = admin_api.get("/v2.1/os-migrations?user_id=999999", **at("2.80")).json()
    assert other["migrations"] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "version", "message"),
    [
        ("marker=nope", "2.59", "Marker nope could not be found."),
        ("foo=1", "2.59", "Additional properties are not allowed ('foo' was unexpected)"),
        ("user_id=1", "2.79", "Additional properties are not allowed ('user_id' was unexpected)"),
        (
            "changes-since=2026-01-02T00:00:00&changes-before=2026-01-01T00:00:00",
            "2.66",
            "The value of changes-since must be less than or equal to changes-before.",
        ),
        ("limit=-1", "2.59", "limit param must be positive"),
    ],
)
def test_os_migrations_refuses_bad_queries_with_novas_400(admin_api, query, version, message):
    response = admin_api.get(f"/v2.1/os-migrations?{query}", **at(version))
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == message


@pytest.mark.django_db
def test_before_2_59_unknown_query_parameters_are_ignored(admin_api):
    response = admin_api.get("/v2.1/os-migrations?foo=1&limit=zzz", **at("2.58"))
    assert response.status_code == 200 and response.json() == {"migrations": []}


# --- /servers/{id}/migrations ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_slow_live_migration_shows_its_figures_advancing_and_force_complete_ends_it(
    two_hosts, make_instance, admin_ctx, admin_api, running_agent
):
    instance = make_instance("active")
    node1, _ = two_hosts()
    slow(instance, 30)
    live_migrate(admin_ctx, instance)
    base = f"/v2.1/servers/{instance.uuid}/migrations"
    running_agent(node1)
    wait_for(
        lambda: Migration.objects.filter(
            instance=instance, status="running", memory_processed__gt=0
        ).exists()
    )
    listed = admin_api.get(base, **at("2.80")).json()["migrations"]
    assert len(listed) == 1 and listed[0]["status"] == "running"
    first = listed[0]
    assert first["memory_total_bytes"] == 512 << 20
    assert 0 < first["memory_processed_bytes"] < first["memory_total_bytes"]
    assert first["source_compute"] == "node1" and first["dest_compute"] == "node2"
    wait_for(
        lambda: (
            Migration.objects.get(pk=first["id"]).memory_processed > first["memory_processed_bytes"]
        )
    )
    shown = admin_api.get(f"{base}/{first['id']}", **at("2.59")).json()["migration"]
    assert shown["id"] == first["id"] and shown["uuid"]
    instance.refresh_from_db()
    assert 0 < instance.progress < 100  # the instance's progress follows the copy

    started = time.monotonic()
    response = admin_api.post(
        f"{base}/{first['id']}/action", {"force_complete": None}, format="json", **at("2.22")
    )
    assert response.status_code == 202
    wait_for(lambda: Migration.objects.get(pk=first["id"]).status == "completed")
    assert time.monotonic() - started < 5
    instance.refresh_from_db()
    assert instance.host.host == "node2" and instance.task_state is None
    gone = admin_api.get(f"{base}/{first['id']}", **at("2.23"))
    assert gone.status_code == 404
    assert gone.json()["itemNotFound"]["message"] == (
        f"Live migration {first['id']} for server {instance.uuid} is not in progress."
    )


@pytest.mark.django_db(transaction=True)
def test_abort_of_a_running_live_migration_leaves_the_instance_active_on_its_source(
    two_hosts, make_instance, admin_ctx, admin_api, running_agent
):
    instance = make_instance("active")
    node1, _ = two_hosts()
    slow(instance, 30)
    live_migrate(admin_ctx, instance)
    running_agent(node1)
    wait_for(lambda: Migration.objects.filter(instance=instance, status="running").exists())
    migration = Migration.objects.get(instance=instance)
    response = admin_api.delete(
        f"/v2.1/servers/{instance.uuid}/migrations/{migration.pk}", **at("2.24")
    )
    assert response.status_code == 202
    wait_for(lambda: Migration.objects.get(pk=migration.pk).status == "cancelled")
    instance.refresh_from_db()
    assert (instance.vm_state, instance.task_state, instance.host.host) == (
        "active",
        None,
        "node1",
    )
    assert FakeGuest.objects.get(uuid=str(instance.uuid)).host == "node1"
    assert not InstanceFault.objects.filter(instance=instance).exists()
    assert instance.actions.filter(action="live_migration_cancel").exists()


@pytest.mark.django_db
def test_abort_of_a_queued_live_migration_needs_2_65_and_drops_it(
    two_hosts, make_instance, admin_ctx, admin_api
):
    instance = make_instance("active")
    node1, _ = two_hosts()
    live_migrate(admin_ctx, instance)
    migration = Migration.objects.get(instance=instance)
    url = f"/v2.1/servers/{instance.uuid}/migrations/{migration.pk}"
    refused = admin_api.delete(url, **at("2.64"))
    assert refused.status_code == 400
    assert refused.json()["badRequest"]["message"] == (
        f"Migration {migration.pk} state of instance {instance.uuid} is queued. "
        "Cannot abort live migration while the migration is in this state."
    )
    assert admin_api.delete(url, **at("2.65")).status_code == 202
    migration.refresh_from_db()
    instance.refresh_from_db()
    assert migration.status == "cancelled"
    assert (instance.task_state, instance.host.host) == (None, "node1")
    assert node1.run_pending() == 0  # nothing left for the agent


@pytest.mark.django_db
def test_abort_and_force_complete_refusals_use_novas_texts(
    two_hosts, make_instance, admin_ctx, admin_api
):
    instance = make_instance("active")
    _node1, _ = two_hosts()
    base = f"/v2.1/servers/{instance.uuid}/migrations"
    not_migrating = admin_api.delete(f"{base}/1", **at("2.24"))
    assert not_migrating.status_code == 409
    # Nova's REST text for a state of None (raise_http_conflict_for_instance_invalid_state).
    assert not_migrating.json()["conflictingRequest"]["message"] == (
        f"Instance {instance.uuid} is in an invalid state for 'abort live migration'"
    )
    live_migrate(admin_ctx, instance)
    migration = Migration.objects.get(instance=instance)
    missing = admin_api.delete(f"{base}/{migration.pk + 100}", **at("2.24"))
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == (
        f"Migration {migration.pk + 100} not found for instance {instance.uuid}"
    )
    queued = admin_api.post(
        f"{base}/{migration.pk}/action", {"force_complete": None}, format="json", **at("2.22")
    )
    assert queued.status_code == 400
    assert queued.json()["badRequest"]["message"] == (
        f"Migration {migration.pk} state of instance {instance.uuid} is queued. "
        "Cannot force complete while the migration is in this state."
    )
    bad_body = admin_api.post(
        f"{base}/{migration.pk}/action", {"force_complete": 1}, format="json", **at("2.22")
    )
    assert bad_body.status_code == 400
    too_old = admin_api.get(base, **at("2.22"))
    assert too_old.status_code == 404
    assert too_old.json()["itemNotFound"]["message"] == (
        "API version 2.22 is not supported on this method."
    )


@pytest.mark.django_db
def test_members_may_not_list_or_abort_a_servers_migrations(two_hosts, make_instance, alice_api):
    instance = make_instance("active")
    _node1, _ = two_hosts()
    response = alice_api.get(f"/v2.1/servers/{instance.uuid}/migrations")
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:servers:migrations:index to be performed."
    )
    abort = alice_api.delete(f"/v2.1/servers/{instance.uuid}/migrations/1")
    assert abort.status_code == 403


@pytest.mark.django_db
def test_fake_guest_slow_migration_sets_and_clears_the_knob_and_refuses_bad_values(
    make_instance,
):
    from django.core.management import CommandError, call_command

    instance = make_instance("active")
    uuid = str(instance.uuid)
    call_command("fake_guest", uuid, "slow-migration", "12.5", "--fail-at", "40")
    guest = FakeGuest.objects.get(uuid=uuid)
    assert (guest.migration_seconds, guest.migration_fail_at) == (12.5, 40)
    for bad in (["abc"], ["-1"], ["5", "--fail-at", "101"], []):
        with pytest.raises(CommandError):
            call_command("fake_guest", uuid, "slow-migration", *bad)
    guest.refresh_from_db()
    assert (guest.migration_seconds, guest.migration_fail_at) == (12.5, 40)
    call_command("fake_guest", uuid, "slow-migration", "0")
    guest.refresh_from_db()
    assert (guest.migration_seconds, guest.migration_fail_at) == (0.0, None)


@pytest.mark.django_db
def test_a_live_migration_no_agent_takes_up_ends_failed_not_queued_for_ever(
    two_hosts, make_instance, admin_ctx
):
    from datetime import timedelta

    from django.utils import timezone

    from compute import watchdog
    from compute.models import ActionDispatch

    instance = make_instance("active")
    two_hosts()
    live_migrate(admin_ctx, instance)
    ActionDispatch.objects.filter(instance=instance, kind="os-migrateLive").update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    assert watchdog.fail_stale_dispatches() == 1
    assert Migration.objects.get(instance=instance).status == "failed"
    instance.refresh_from_db()
    assert instance.task_state is None and instance.vm_state == "active"
