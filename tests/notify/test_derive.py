"""Notifications are derived from the outbox by sequence: once per (user, change), only for what
the user may see, for changes made behind the dashboard's back too."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from compute import watchdog
from compute.context import RequestContext
from compute.drivers.fake import FakeDriver, set_guest_state
from compute.exceptions import Forbidden, NotFound
from compute.models import ChangeEvent, FakeGuest, Host, Notification, Subscription
from compute.notify.derive import _advance, cursor_start, derive_once
from compute.notify.subscriptions import notifications_mark_read, subscription_create
from compute.outbox.audience import messages_for, user_group
from compute.services import host_update, instance_action
from compute.states import PowerState
from compute.sync.passes import sync_host
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def crash_and_sync(agent, instance) -> None:
    set_guest_state(FakeGuest.objects.get(uuid=instance.uuid), PowerState.CRASHED)
    sync_host(host=agent.host, driver=agent.driver)


def test_a_crash_the_sync_corrects_tells_the_projects_subscriber_once_and_nobody_else(
    agent, make_instance, alice_ctx, bob_ctx, alice: User, bob: User
):
    vm = make_instance("active", name="web")
    subscription_create(context=alice_ctx, scope="project", target=alice_ctx.project_id)
    subscription_create(context=bob_ctx, scope="project", target=bob_ctx.project_id)
    cursor_start()
    crash_and_sync(agent, vm)
    assert derive_once()["notifications"] == 1
    assert derive_once()["notifications"] == 0  # read once: the cursor moved on
    (notice,) = Notification.objects.all()
    assert notice.user == alice and notice.kind == "power_corrected"
    assert notice.event_type == "instance.power_off.start"
    assert "the guest shut down or crashed" in notice.title
    data = notice.payload["payload"]["nova_object.data"]
    assert notice.payload["payload"]["nova_object.name"] == "InstanceActionPayload"
    assert data["uuid"] == str(vm.uuid) and data["host"] is None  # a member sees no host
    assert not Notification.objects.filter(user=bob).exists()


def test_the_bell_row_reaches_only_the_users_own_group(agent, make_instance, alice_ctx, alice):
    vm = make_instance("active")
    subscription_create(context=alice_ctx, scope="instance", target=str(vm.uuid))
    cursor_start()
    crash_and_sync(agent, vm)
    derive_once()
    bell = ChangeEvent.objects.filter(kind=ChangeEvent.Kind.NOTIFICATION).get()
    assert bell.object_id == str(alice.pk) and bell.payload["unread"] == 1
    assert [group for group, _ in messages_for(bell)] == [user_group(alice.pk)]
    assert notifications_mark_read(context=alice_ctx) == 1


def test_a_failed_action_is_told_with_its_fault_as_novas_error_event(
    agent, make_instance, alice_ctx
):
    vm = make_instance("active")
    subscription_create(context=alice_ctx, scope="instance", target=str(vm.uuid))
    cursor_start()
    FakeDriver.fail_next(host="node1", operation="power_off", message="the disk is on fire")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(vm.uuid), action="stop")
    agent.run_pending()
    derive_once()
    (notice,) = Notification.objects.all()
    assert notice.kind == "action_failed"
    assert notice.event_type == "instance.power_off.error"
    assert notice.payload["priority"] == "ERROR"
    fault = notice.payload["payload"]["nova_object.data"]["fault"]["nova_object.data"]
    assert fault["exception_message"] == "the disk is on fire"


def test_a_task_the_watchdog_reaps_is_told_and_its_entering_error_is_not_told_twice(
    agent, make_instance, alice_ctx
):
    vm = make_instance("active")
    subscription_create(context=alice_ctx, scope="project", target=alice_ctx.project_id)
    cursor_start()
    instance_action(context=fresh(alice_ctx), instance_uuid=str(vm.uuid), action="stop")
    with override_settings(COMPUTE={"task_timeouts": {"default": 0.0, "stop": 0.0}}):
        assert watchdog.reap_stuck_tasks() == 1
    derive_once()
    (notice,) = Notification.objects.all()
    assert notice.kind == "task_reaped"
    assert notice.event_type == "instance.update"
    state = notice.payload["payload"]["nova_object.data"]["state_update"]["nova_object.data"]
    assert state["old_state"] == "active" and state["state"] == "error"
    assert state["old_task_state"] == "powering-off" and state["new_task_state"] is None


def test_only_an_error_subscriber_is_told_of_the_reap_as_entering_error(
    agent, make_instance, alice_ctx
):
    vm = make_instance("active")
    subscription_create(
        context=alice_ctx, scope="project", target=alice_ctx.project_id, events=["instance_error"]
    )
    cursor_start()
    instance_action(context=fresh(alice_ctx), instance_uuid=str(vm.uuid), action="stop")
    with override_settings(COMPUTE={"task_timeouts": {"default": 0.0, "stop": 0.0}}):
        watchdog.reap_stuck_tasks()
    derive_once()
    (notice,) = Notification.objects.all()
    assert notice.kind == "instance_error"
    assert "ran longer than" in notice.title


def test_a_host_going_into_maintenance_and_back_is_told_to_its_admin_subscriber(
    agent, admin_ctx, alice_ctx
):
    subscription_create(context=admin_ctx, scope="host", target="node1")
    with pytest.raises(Forbidden):
        subscription_create(context=alice_ctx, scope="host", target="node1")
    cursor_start()
    host = Host.objects.get(host="node1")
    host_update(context=admin_ctx, host=host, status="disabled", disabled_reason="disk swap")
    host_update(context=admin_ctx, host=Host.objects.get(host="node1"), status="enabled")
    derive_once()
    notices = list(Notification.objects.order_by("id"))
    assert [n.event_type for n in notices] == ["service.update", "service.update"]
    assert notices[0].title == "Host node1 is MAINTENANCE (was UP)"
    assert notices[1].title == "Host node1 is UP (was MAINTENANCE)"
    data = notices[0].payload["payload"]["nova_object.data"]
    assert data["disabled"] is True and data["disabled_reason"] == "disk swap"


def test_a_user_cannot_subscribe_to_what_they_may_not_see(
    make_instance, bob_ctx: RequestContext, alice_ctx
):
    vm = make_instance("active")
    with pytest.raises(NotFound):
        subscription_create(context=bob_ctx, scope="instance", target=str(vm.uuid))
    with pytest.raises(NotFound):
        subscription_create(context=bob_ctx, scope="project", target=alice_ctx.project_id)
    assert not Subscription.objects.exists()


def test_a_member_removed_from_the_project_is_no_longer_told(
    agent, make_instance, alice_ctx, alice
):
    from compute.models import Membership

    vm = make_instance("active")
    subscription_create(context=alice_ctx, scope="project", target=alice_ctx.project_id)
    Membership.objects.filter(user=alice).delete()
    cursor_start()
    crash_and_sync(agent, vm)
    derive_once()
    assert not Notification.objects.exists()


def test_the_cursor_remembers_holes_until_they_fill_or_time_out():
    last, holes = _advance(10, {}, [11, 14], patience=30.0)
    assert last == 14 and set(holes) == {"12", "13"}
    last, holes = _advance(last, holes, [12], patience=30.0)
    assert last == 14 and set(holes) == {"13"}
    last, holes = _advance(last, {"13": 0.0}, [], patience=30.0)
    assert holes == {}


def test_an_email_subscriber_gets_one_mail_through_djangos_email_framework(
    agent, make_instance, alice_ctx, alice, settings
):
    from django.core import mail

    from compute.models import Delivery
    from compute.notify import runner

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alice.email = "alice@example.org"
    alice.save(update_fields=["email"])
    vm = make_instance("active", name="mailed")
    subscription_create(context=alice_ctx, scope="instance", target=str(vm.uuid), email=True)
    cursor_start()
    crash_and_sync(agent, vm)
    runner.run_once()
    runner.run_once()
    (sent,) = mail.outbox
    assert sent.to == ["alice@example.org"]
    assert sent.subject.startswith("[vmdash] mailed: the sync corrected")
    assert '"event_type": "instance.power_off.start"' in sent.body
    assert Delivery.objects.get().state == "delivered"


def test_a_host_whose_heartbeat_expires_is_told_unknown_then_up_when_it_beats_again(
    agent, admin_ctx
):
    from datetime import timedelta

    from django.utils import timezone

    subscription_create(context=admin_ctx, scope="host", target="node1", events=["host_status"])
    cursor_start()
    Host.objects.filter(host="node1").update(last_seen_up=timezone.now() - timedelta(hours=1))
    assert watchdog.check_hosts() == 1  # nobody wrote this change: the watchdog noticed it
    agent.heartbeat()
    derive_once()
    assert [n.title for n in Notification.objects.order_by("id")] == [
        "Host node1 is UNKNOWN (was UP)",
        "Host node1 is UP (was UNKNOWN)",
    ]


def test_a_page_catching_up_or_polling_gets_its_own_bell_and_nobody_elses(
    agent, make_instance, alice_ctx, bob_ctx, admin_ctx
):
    from compute.outbox.replay import replay

    vm = make_instance("active")
    subscription_create(context=alice_ctx, scope="instance", target=str(vm.uuid))
    cursor_start()
    start = ChangeEvent.objects.order_by("-id").values_list("id", flat=True).first()
    crash_and_sync(agent, vm)
    derive_once()

    def bells(context):
        messages, _ = replay(context=context, since=start)
        return [m["delta"] for m in messages if m["delta"]["type"] == "notification"]

    (mine,) = bells(alice_ctx)
    assert mine["unread"] == 1 and mine["object_id"] == str(vm.uuid)
    assert bells(bob_ctx) == []
    assert bells(admin_ctx) == []  # an admin sees every instance, not other users' bells
