"""The task centre: the actions a user may see, queued, running and finished, with their limits
and faults; cancel of a queued action no agent took; reset-state for admins on a reaped task."""

from __future__ import annotations

import pytest
from django.test import override_settings

from compute import watchdog
from compute.exceptions import Conflict, NotFound
from compute.models import ActionDispatch, InstanceAction
from compute.selectors.tasks import task_rows, visible_actions
from compute.services import instance_action
from compute.services.tasks import action_cancel
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def rows_for(context, **filters):
    return task_rows(
        context=context, actions_page=list(visible_actions(context=context, **filters))
    )


def test_a_queued_action_is_listed_against_the_dispatch_timeout_and_can_be_cancelled(
    agent, make_instance, alice_ctx, alice_client
):
    vm = make_instance("active", name="queued-vm")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(vm.uuid), action="stop")
    (queued,) = rows_for(alice_ctx, outcome="queued")
    assert queued.action.action == "stop" and queued.limit_name == "DISPATCH_TIMEOUT"
    assert queued.can_cancel
    page = alice_client.get("/tasks/").content.decode()
    assert 'data-outcome="queued"' in page and "DISPATCH_TIMEOUT" in page
    answer = alice_client.post(f"/tasks/{queued.action.pk}/cancel/")
    assert answer.status_code == 302
    vm.refresh_from_db()
    assert vm.task_state is None and vm.vm_state == "active"
    dispatch = ActionDispatch.objects.get(action=queued.action)
    assert dispatch.state == "failed"
    agent.run_pending()  # nothing left for the agent
    vm.refresh_from_db()
    assert vm.vm_state == "active"
    (cancelled,) = rows_for(alice_ctx, outcome="cancelled")
    assert cancelled.fault == "Cancelled by alice before a compute agent took it."


def test_an_action_the_agent_took_cannot_be_cancelled(agent, make_instance, alice_ctx):
    vm = make_instance("active")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(vm.uuid), action="stop")
    action = InstanceAction.objects.filter(action="stop").get()
    agent.run_pending()
    with pytest.raises(Conflict):
        action_cancel(context=alice_ctx, action_id=action.pk)


def test_another_project_sees_nothing_and_cancels_nothing(
    agent, make_instance, alice_ctx, bob_ctx, bob_client
):
    vm = make_instance("active", name="alices")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(vm.uuid), action="stop")
    action = InstanceAction.objects.filter(action="stop").get()
    assert rows_for(bob_ctx) == []
    with pytest.raises(NotFound):
        action_cancel(context=bob_ctx, action_id=action.pk)
    assert "alices" not in bob_client.get("/tasks/").content.decode()
    bob_client.post(f"/tasks/{action.pk}/cancel/")
    assert ActionDispatch.objects.get(action=action).state == "pending"


def test_a_reaped_task_offers_reset_state_to_admins_only(
    agent, make_instance, alice_ctx, admin_ctx, admin_client, alice_client
):
    vm = make_instance("active", name="stuck")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(vm.uuid), action="stop")
    with override_settings(COMPUTE={"task_timeouts": {"default": 0.0, "stop": 0.0}}):
        assert watchdog.reap_stuck_tasks() == 1
    (member_row,) = rows_for(alice_ctx, action="stop")
    assert member_row.reaped and not member_row.can_reset and member_row.outcome == "error"
    assert "ran longer than" in member_row.fault
    (admin_row,) = rows_for(admin_ctx, action="stop")
    assert admin_row.can_reset
    assert "Reset state" not in alice_client.get("/tasks/").content.decode()
    assert "Reset state" in admin_client.get("/tasks/").content.decode()
    admin_client.post(f"/tasks/{admin_row.action.pk}/reset/")
    vm.refresh_from_db()
    assert vm.vm_state == "active" and vm.task_state is None
    assert InstanceAction.objects.filter(instance=vm, action="resetState").exists()


def test_the_list_filters_and_the_dock_shows_the_latest(
    agent, make_instance, alice_ctx, alice_client
):
    one = make_instance("active", name="one")
    make_instance("active", name="two")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(one.uuid), action="stop")
    assert {r.action.instance.name for r in rows_for(alice_ctx, instance="one")} == {"one"}
    assert [r.action.action for r in rows_for(alice_ctx, outcome="queued")] == ["stop"]
    assert all(r.outcome == "success" for r in rows_for(alice_ctx, outcome="success"))
    dock = alice_client.get("/tasks/?fragment=dock").content.decode()
    assert "<strong>1</strong> in progress" in dock and "stop" in dock
    table = alice_client.get("/tasks/?fragment=table&outcome=queued").content.decode()
    assert table.count("data-action-id") == 1
    page = alice_client.get("/instances/").content.decode()
    assert 'id="dock-count">1<' in page
    assert alice_client.get("/tasks/?outcome=bogus&page=zz").status_code == 200


def test_the_api_and_the_command_list_and_cancel_with_the_callers_rights(
    agent, make_instance, alice_ctx, alice, bob
):
    import json
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from tests.api.conftest import DocumentedClient

    vm = make_instance("active", name="api-vm")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(vm.uuid), action="stop")
    api = DocumentedClient()
    api.force_authenticate(alice)
    (task,) = [t for t in api.get("/api/tasks?outcome=queued").json()["tasks"]]
    assert task["instance_name"] == "api-vm" and task["limit_name"] == "DISPATCH_TIMEOUT"
    assert api.get("/api/tasks?outcome=nope").status_code == 400
    other = DocumentedClient()
    other.force_authenticate(bob)
    assert other.get("/api/tasks").json() == {"tasks": []}
    assert other.post(f"/api/tasks/{task['id']}/cancel").status_code == 404
    out = StringIO()
    call_command("tasks", "list", "--user", "alice", "--outcome", "queued", "--json", stdout=out)
    assert json.loads(out.getvalue())[0]["id"] == task["id"]
    out = StringIO()
    call_command(
        "tasks", "cancel", "--user", "alice", "--id", str(task["id"]), "--json", stdout=out
    )
    assert json.loads(out.getvalue()) == {"cancelled": task["id"], "action": "stop"}
    with pytest.raises(CommandError, match="cannot be cancelled"):
        call_command("tasks", "cancel", "--user", "alice", "--id", str(task["id"]))
    assert api.post(f"/api/tasks/{task['id']}/cancel").status_code == 409
