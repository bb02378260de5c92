"""Abort from the task centre: a live migration in progress is offered Nova's abort (to who may
abort it), a running one ends ``cancelled`` with the guest ACTIVE on its source, a queued one is
dropped with its record (cancel of a queued live migration is that abort); anything else is
refused."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from compute.models import InstanceAction, Migration
from compute.selectors.tasks import ABORTABLE, task_rows, visible_actions
from compute.services import migrations as migration_services
from tests.api import test_migrations as migrations_tests
from tests.api.conftest import DocumentedClient
from tests.api.test_migrations import live_migrate, slow, wait_for

#: The migrations tests' fixtures: a second host to move to, an agent working in a thread.
two_hosts = migrations_tests.two_hosts
running_agent = migrations_tests.running_agent


def row_of(context, instance):
    found = visible_actions(context=context, action="live-migration", instance=str(instance.uuid))
    (row,) = task_rows(context=context, actions_page=list(found))
    return row


def test_the_statuses_abort_is_offered_in_are_those_the_abort_takes():
    (statuses,) = ABORTABLE.values()
    taken = migration_services.ABORTABLE + migration_services.ABORTABLE_QUEUED
    assert sorted(statuses) == sorted(taken)


@pytest.mark.django_db(transaction=True)
def test_aborting_a_running_live_migration_from_the_task_centre_leaves_it_on_its_source(
    two_hosts, make_instance, admin_ctx, admin_user, alice_ctx, running_agent
):
    instance = make_instance("active")
    node1, _ = two_hosts()
    slow(instance, 30)
    live_migrate(admin_ctx, instance)
    running_agent(node1)
    wait_for(lambda: Migration.objects.filter(instance=instance, status="running").exists())
    migration = Migration.objects.get(instance=instance)
    row = row_of(admin_ctx, instance)
    assert row.outcome == "running" and row.abort_migration_id == migration.pk
    assert not row.can_cancel
    assert not row_of(alice_ctx, instance).can_abort  # the owner sees it, may not abort it
    api = DocumentedClient()
    api.force_authenticate(admin_user)
    assert api.post(f"/api/tasks/{row.action.pk}/abort").status_code == 202
    wait_for(lambda: Migration.objects.get(pk=migration.pk).status == "cancelled")
    wait_for(lambda: InstanceAction.objects.get(pk=row.action.pk).finish_time is not None)
    instance.refresh_from_db()
    assert (instance.vm_state, instance.task_state, instance.host.host) == ("active", None, "node1")
    assert api.post(f"/api/tasks/{row.action.pk}/abort").status_code == 409


@pytest.mark.django_db
def test_a_queued_live_migration_is_aborted_with_its_record_and_cancel_does_the_same(
    two_hosts, make_instance, admin_ctx, admin_user
):
    first, second = make_instance("active", name="q1"), make_instance("active", name="q2")
    node1, _ = two_hosts()
    live_migrate(admin_ctx, first)
    live_migrate(admin_ctx, second)
    row = row_of(admin_ctx, first)
    assert row.outcome == "queued" and row.can_abort and not row.can_cancel
    out = StringIO()
    call_command(
        "tasks", "abort", "--user", "admin", "--id", str(row.action.pk), "--json", stdout=out
    )
    assert json.loads(out.getvalue()) == {
        "aborted": row.action.pk, "action": "live_migration_cancel"
    }  # fmt: skip
    client = DocumentedClient()
    client.force_authenticate(admin_user)
    other = row_of(admin_ctx, second)
    assert client.post(f"/api/tasks/{other.action.pk}/cancel").status_code == 202
    for vm in (first, second):
        assert Migration.objects.get(instance=vm).status == "cancelled"
        vm.refresh_from_db()
        assert (vm.task_state, vm.host.host) == (None, "node1")
    assert node1.run_pending() == 0


@pytest.mark.django_db
def test_the_task_centre_page_offers_abort_and_refuses_it_for_anything_else(
    two_hosts, make_instance, admin_ctx, admin_client, alice_client
):
    vm = make_instance("active", name="mover")
    two_hosts()
    live_migrate(admin_ctx, vm)
    row = row_of(admin_ctx, vm)
    table = admin_client.get("/tasks/?fragment=table").content.decode()
    assert f'action="/tasks/{row.action.pk}/abort/"' in table
    assert f"/tasks/{row.action.pk}/abort/" not in alice_client.get("/tasks/").content.decode()
    alice_client.post(f"/tasks/{row.action.pk}/abort/")
    assert Migration.objects.get(instance=vm).status == "queued"
    admin_client.post(f"/tasks/{row.action.pk}/abort/")
    assert Migration.objects.get(instance=vm).status == "cancelled"
    create = InstanceAction.objects.get(instance=vm, action="create")
    page = admin_client.post(f"/tasks/{create.pk}/abort/", follow=True).content.decode()
    assert "Only a live migration in progress can be aborted" in page
