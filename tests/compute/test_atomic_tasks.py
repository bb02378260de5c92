"""Atomic tasks: races, pre-emption, local delete, crash recovery, and the honest sequence of
statuses a user sees."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone

from compute import watchdog
from compute.agent.agent import ComputeAgent
from compute.drivers.fake import FakeDriver
from compute.exceptions import Conflict
from compute.models import ActionDispatch, ChangeEvent, FakeGuest, Instance
from compute.services import host_update, instance_action, instance_create
from compute.status import status_from_state
from tests.conftest import CIRROS, DEBIAN, fresh


def statuses_published(instance: Instance) -> list[str]:
    """Every status the browsers were told, in order, without repeats."""
    seen: list[str] = []
    for payload in (
        ChangeEvent.objects.filter(object_id=str(instance.uuid))
        .order_by("id")
        .values_list("payload", flat=True)
    ):
        if not seen or seen[-1] != payload["status"]:
            seen.append(payload["status"])
    return seen


@pytest.mark.django_db(transaction=True)
def test_of_twenty_concurrent_conflicting_requests_exactly_one_is_accepted(
    make_instance, alice_ctx
):
    instance = make_instance("active")
    barrier = threading.Barrier(20)
    accepted: list[str] = []
    refused: list[str] = []
    crashed: list[BaseException] = []
    lock = threading.Lock()

    def request(action: str) -> None:
        try:
            barrier.wait(timeout=10)
            instance_action(
                context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action=action
            )
            with lock:
                accepted.append(action)
        except Conflict as refusal:
            with lock:
                refused.append(refusal.message)
        except BaseException as other:  # anything else would be a 500
            with lock:
                crashed.append(other)
        finally:
            close_old_connections()

    threads = [
        threading.Thread(target=request, args=(("stop", "pause", "suspend", "reboot")[n % 4],))
        for n in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not crashed
    assert len(accepted) == 1
    assert len(refused) == 19
    assert ActionDispatch.objects.filter(instance=instance).exclude(kind="create").count() == 1


@pytest.mark.django_db
def test_delete_pre_empts_a_task_in_progress_and_the_agent_abandons_it(
    make_instance, agent, alice_ctx
):
    instance = make_instance("active")
    paused = instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
    )
    deleted = instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="delete"
    )
    agent.run_pending()

    instance.refresh_from_db()
    assert instance.deleted and instance.vm_state == "deleted"
    paused.refresh_from_db()
    deleted.refresh_from_db()
    assert paused.message == "Error"
    assert "Pre-empted" in paused.events.get().details
    assert deleted.message is None
    assert not FakeGuest.objects.filter(uuid=str(instance.uuid)).exists()


@pytest.mark.django_db
def test_hard_reboot_recovers_an_instance_stuck_pausing(make_instance, agent, alice_ctx):
    instance = make_instance("active")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause")
    instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="reboot_hard"
    )
    agent.run_pending()
    instance.refresh_from_db()
    assert (instance.vm_state, instance.task_state, instance.power_state) == ("active", None, 1)


@pytest.mark.django_db
def test_delete_with_the_host_down_deletes_locally_and_the_host_cleans_up_on_return(
    make_instance, agent, host, alice_ctx, admin_ctx
):
    instance = make_instance("active")
    host_update(context=admin_ctx, host=host, forced_down=True)
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="delete")
    instance.refresh_from_db()
    assert instance.deleted and instance.status == "DELETED"
    assert FakeGuest.objects.filter(uuid=str(instance.uuid)).exists()

    host_update(context=admin_ctx, host=host, forced_down=False)
    returning = ComputeAgent(host="node1", driver=FakeDriver(host="node1"))
    returning.register()
    returning.recover()
    assert not FakeGuest.objects.filter(uuid=str(instance.uuid)).exists()


@pytest.mark.django_db
def test_an_action_accepted_while_the_agent_is_down_runs_when_it_returns(
    make_instance, host, alice_ctx
):
    instance = make_instance("active")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="stop")
    returning = ComputeAgent(host="node1", driver=FakeDriver(host="node1"))
    returning.register()
    returning.recover()
    returning.run_pending()
    instance.refresh_from_db()
    assert instance.vm_state == "stopped"


@pytest.mark.django_db
def test_an_agent_that_crashed_mid_action_finishes_it_on_restart(make_instance, agent, alice_ctx):
    instance = make_instance("active")
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="resize",
        params={"flavorRef": "2"},
    )
    # The old agent claimed it and died after moving to resize_migrating.
    dispatch = agent.claim(1)[0]
    from compute import state_machine

    state_machine.transition(
        instance, expected_task_state="resize_prep", task_state="resize_migrating"
    )
    assert ActionDispatch.objects.get(pk=dispatch.pk).state == "running"

    restarted = ComputeAgent(host="node1", driver=FakeDriver(host="node1"))
    restarted.register()
    assert restarted.recover() == 1
    restarted.run_pending()
    instance.refresh_from_db()
    assert (instance.status, instance.task_state) == ("VERIFY_RESIZE", None)


@pytest.mark.django_db
@override_settings(COMPUTE={"dispatch_timeout": 0})
def test_work_nobody_picks_up_in_time_fails_visibly(make_instance, alice_ctx):
    instance = make_instance("active")
    record = instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="stop"
    )
    ActionDispatch.objects.filter(action=record).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    assert watchdog.fail_stale_dispatches() == 1
    instance.refresh_from_db()
    record.refresh_from_db()
    assert (instance.vm_state, instance.task_state) == ("active", None)
    assert record.message == "Error"
    assert "No compute agent on host node1" in instance.faults.latest().message


@pytest.mark.django_db
def test_no_enabled_host_puts_a_new_instance_in_error_with_novas_fault(host, alice_ctx, admin_ctx):
    host_update(context=admin_ctx, host=host, status="disabled", disabled_reason="maintenance")
    instance = instance_create(
        context=fresh(alice_ctx), name="nowhere", flavor_ref="1", image_ref=CIRROS
    )
    instance.refresh_from_db()
    assert (instance.status, instance.task_state) == ("ERROR", None)
    assert instance.faults.latest().message.startswith("No valid host was found")


@pytest.mark.django_db
def test_create_shows_build_until_active_and_never_shutoff(agent, alice_ctx):
    instance = instance_create(
        context=fresh(alice_ctx), name="fresh", flavor_ref="1", image_ref=CIRROS
    )
    agent.run_pending()
    assert statuses_published(instance) == ["BUILD", "ACTIVE"]


@pytest.mark.django_db
def test_rebuild_shows_active_rebuild_active(make_instance, agent, alice_ctx):
    instance = make_instance("active")
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="rebuild",
        params={"imageRef": DEBIAN},
    )
    agent.run_pending()
    assert statuses_published(instance)[-3:] == ["ACTIVE", "REBUILD", "ACTIVE"]


@pytest.mark.django_db
def test_resize_shows_active_resize_verify_resize(make_instance, agent, alice_ctx):
    instance = make_instance("active")
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="resize",
        params={"flavorRef": "2"},
    )
    agent.run_pending()
    assert statuses_published(instance)[-3:] == ["ACTIVE", "RESIZE", "VERIFY_RESIZE"]


@pytest.mark.django_db
def test_delete_never_passes_through_build(make_instance, agent, alice_ctx):
    instance = make_instance("active")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="delete")
    agent.run_pending()
    after_active = statuses_published(instance)[1:]
    assert "BUILD" not in after_active
    assert after_active[-1] == "DELETED"


@pytest.mark.django_db
def test_every_change_is_published_once_with_a_strictly_increasing_version(
    make_instance, agent, alice_ctx
):
    instance = make_instance("paused")
    versions = list(
        ChangeEvent.objects.filter(object_id=str(instance.uuid))
        .order_by("id")
        .values_list("version", flat=True)
    )
    assert versions == sorted(set(versions))
    assert versions[-1] == Instance.objects.get(pk=instance.pk).version


@pytest.mark.django_db
def test_a_refused_action_changes_nothing_and_publishes_nothing(make_instance, alice_ctx):
    instance = make_instance("active")
    before = ChangeEvent.objects.count()
    with pytest.raises(Conflict):
        instance_action(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="unpause"
        )
    assert ChangeEvent.objects.count() == before
    assert Instance.objects.get(pk=instance.pk).version == instance.version


@pytest.mark.django_db
def test_a_rolled_back_change_publishes_nothing(make_instance, alice_ctx):
    from django.db import transaction

    from compute import state_machine

    instance = make_instance("active")
    before = ChangeEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        state_machine.transition(instance, expected_task_state=None, task_state="pausing")
        raise RuntimeError("the caller failed after the write")
    assert ChangeEvent.objects.count() == before
    assert (
        status_from_state(
            *Instance.objects.values_list("vm_state", "task_state").get(pk=instance.pk)
        )
        == "ACTIVE"
    )


@pytest.mark.django_db
def test_another_projects_instance_is_not_found(make_instance, bob_ctx):
    from compute.exceptions import NotFound

    instance = make_instance("active")
    with pytest.raises(NotFound):
        instance_action(context=fresh(bob_ctx), instance_uuid=str(instance.uuid), action="stop")


# --- the conditional write, as one statement ------------------------------------------------


def _row(instance: Instance) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in Instance._meta.concrete_fields}


@pytest.mark.django_db
def test_a_transition_returns_the_row_exactly_as_committed(make_instance, agent):
    from compute import state_machine
    from compute.models import Flavor, Host

    instance = make_instance("active")
    other = Host.objects.create(host="node9")
    written = state_machine.transition(
        instance,
        expected_task_state=None,
        expected_vm_state=["active"],
        task_state="resize_prep",
        new_task=True,
        progress=7,
        system_metadata={"old_vm_state": "active", "nested": {"a": [1, None]}},
        host=other,
        flavor=Flavor.objects.get(flavorid="2"),
    )
    assert _row(written) == _row(Instance.objects.get(pk=instance.pk))
    assert written.version == instance.version + 1
    assert written.host == other  # the host it was written with, not the one it left


@pytest.mark.django_db
def test_a_transition_writes_and_reads_the_row_in_one_statement(
    make_instance, agent, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from compute import state_machine

    instance = Instance.objects.select_related("host").get(pk=make_instance("active").pk)
    with CaptureQueriesContext(connection) as captured:
        written = state_machine.transition(instance, expected_task_state=None, task_state="pausing")
        assert written.host.host == "node1"  # taken over from the caller's instance
    statements = [q["sql"] for q in captured.captured_queries]
    touching = [s for s in statements if "compute_instance" in s and "changeevent" not in s]
    assert len(touching) == 1, statements
    assert touching[0].startswith("UPDATE") and "RETURNING" in touching[0]
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]


@pytest.mark.django_db
def test_a_lost_race_writes_nothing_and_leaves_the_callers_transaction_usable(
    make_instance, alice_ctx
):
    import contextlib

    from django.db import transaction

    from compute import state_machine
    from compute.exceptions import UnexpectedTaskState

    instance = make_instance("active")
    before = ChangeEvent.objects.count()
    with transaction.atomic():
        with contextlib.suppress(UnexpectedTaskState):
            state_machine.transition(
                instance, expected_task_state="pausing", task_state="unpausing"
            )
        # The executor's pattern: the caller goes on writing in the same transaction.
        state_machine.transition(instance, expected_task_state=None, task_state="pausing")
    now = Instance.objects.get(pk=instance.pk)
    assert (now.task_state, now.version) == ("pausing", instance.version + 1)
    assert ChangeEvent.objects.count() == before + 1


@pytest.mark.django_db
def test_a_transition_on_a_row_that_moved_on_is_refused_with_what_it_found(
    make_instance, alice_ctx
):
    from compute import state_machine
    from compute.exceptions import UnexpectedTaskState

    instance = make_instance("active")
    state_machine.transition(instance, expected_task_state=None, task_state="pausing")
    with pytest.raises(UnexpectedTaskState) as lost:
        state_machine.transition(instance, expected_task_state=None, task_state="suspending")
    assert (lost.value.expected, lost.value.actual) == (None, "pausing")
    with pytest.raises(UnexpectedTaskState):
        state_machine.transition(
            instance,
            expected_task_state="pausing",
            expected_vm_state=["stopped"],
            task_state=None,
        )
    assert Instance.objects.get(pk=instance.pk).version == instance.version + 1
