"""What the random load and the fault tests found, pinned down one case each so it stays fixed.

Each test names the product change that fixed it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from compute import state_machine, watchdog
from compute.agent.agent import ComputeAgent
from compute.agent.executor import execute
from compute.drivers.fake import FakeDriver
from compute.exceptions import UnexpectedTaskState
from compute.models import ActionDispatch, FakeGuest, Host, Image, Instance
from compute.outbox.relay import OutboxRelay
from compute.services import instance_action
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def reloaded(instance: Instance) -> Instance:
    return Instance.objects.select_related("host").get(pk=instance.pk)


def test_a_snapshot_that_loses_its_race_for_the_task_leaves_no_image(
    make_instance, alice_ctx, monkeypatch
):
    """compute/services/instances.py: ``prepare`` (which makes the image row) now runs in the
    action's transaction, so a lost race rolls the image back with the action."""
    instance = make_instance("active")
    images = Image.objects.count()
    real = state_machine.transition

    def another_request_wins(target, **kwargs):
        real(instance, expected_task_state=None, task_state="pausing", new_task=True)
        return real(target, **kwargs)

    monkeypatch.setattr(state_machine, "transition", another_request_wins)
    with pytest.raises(UnexpectedTaskState):
        instance_action(
            context=fresh(alice_ctx),
            instance_uuid=str(instance.uuid),
            action="createImage",
            params={"name": "snap"},
        )
    assert Image.objects.count() == images


def test_a_local_delete_ends_the_records_of_the_actions_still_waiting_for_the_host(
    make_instance, agent, alice_ctx
):
    """compute/services/instances.py ``_local_delete``: it failed the waiting dispatches but left
    their actions "in progress" for ever."""
    instance = make_instance("active")
    waiting = instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
    )
    assert agent.host is not None
    Host.objects.filter(pk=agent.host.pk).update(last_seen_up=timezone.now() - timedelta(hours=1))
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="delete")

    assert reloaded(instance).vm_state == "deleted"
    waiting.refresh_from_db()
    assert waiting.dispatch.state == "failed"
    assert waiting.finish_time is not None and waiting.message == "Error"
    assert "deleted while its host was down" in waiting.events.get().details


def test_deleting_a_shelved_offloaded_instance_with_soft_delete_on_is_a_local_delete(
    make_instance, alice_ctx, settings
):
    """compute/services/instances.py: a soft delete of an instance with no host went on to
    dispatch to ``None`` and crashed (a 500); with no agent to run it, it is deleted at once."""
    instance = make_instance("shelved_offloaded")
    assert instance.host_id is None
    settings.COMPUTE = {**settings.COMPUTE, "reclaim_instance_interval": 3600.0}
    record = instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="delete"
    )
    assert record is not None
    record.refresh_from_db()
    assert record.finish_time is not None
    after = reloaded(instance)
    # Nova's local soft delete (``_do_soft_delete(local=True)`` then ``destroy()``): the row
    # keeps vm_state soft-delete, and it is gone for good.
    assert (after.vm_state, after.task_state, after.deleted) == ("soft-delete", None, True)


def test_an_agent_starts_even_when_a_leftover_guest_will_not_go(make_instance, agent, alice_ctx):
    """compute/agent/agent.py ``recover``: a failing destroy of a guest whose instance was
    deleted while the host was down made the agent's start fail, and its requeued work never
    ran."""
    gone = make_instance("active", name="gone")
    other = make_instance("active", name="other")
    assert agent.host is not None
    Host.objects.filter(pk=agent.host.pk).update(last_seen_up=timezone.now() - timedelta(hours=1))
    instance_action(context=fresh(alice_ctx), instance_uuid=str(gone.uuid), action="delete")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(other.uuid), action="stop")
    FakeDriver.fail_next(host="node1", operation="destroy", message="libvirt says no")

    again = ComputeAgent(host="node1", driver=FakeDriver(host="node1"))
    again.register()
    again.recover()  # logs the failure, does not raise
    again.heartbeat()
    again.run_pending()
    assert reloaded(other).vm_state == "stopped"
    assert FakeGuest.objects.filter(uuid=str(gone.uuid)).exists()  # the next start retries


class Killed(BaseException):
    pass


def test_a_requeued_dispatch_that_times_out_clears_the_task_its_dead_agent_left(
    make_instance, agent, alice_ctx, settings
):
    """compute/watchdog.py ``fail_stale_dispatches``: it cleared only the task_state the action
    was accepted with, so a dispatch requeued mid-walk failed while its instance kept the later
    task_state, owned by nobody."""
    instance = make_instance("active")
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="rebuild",
        params={"imageRef": str(instance.image_id)},
    )
    (dispatch,) = agent.claim(1)

    def dies(name: str):
        raise Killed(name)

    agent.driver._operation = dies  # the agent dies at the rebuild's driver call
    with pytest.raises(Killed):
        execute(agent.driver, ActionDispatch.objects.select_related("action").get(pk=dispatch.pk))
    assert reloaded(instance).task_state == "rebuild_spawning"
    restarted = ComputeAgent(host="node1", driver=FakeDriver(host="node1"))
    restarted.register()
    restarted.recover()  # requeued … and the host goes away before it runs again
    ActionDispatch.objects.filter(pk=dispatch.pk).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )

    assert watchdog.fail_stale_dispatches() == 1
    after = reloaded(instance)
    assert after.task_state is None
    assert "interrupted and not resumed" in after.faults.latest().message


def test_the_relay_backs_off_while_redis_or_the_database_is_gone(caplog):
    """compute/publisher.py ``OutboxRelay.run``: a failing pass was retried every poll interval
    (20 times a second) with a full traceback each time."""

    class Gone(OutboxRelay):
        passes = 0

        async def step(self) -> int:
            Gone.passes += 1
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    relay = Gone(None, listen=False)

    async def for_a_while() -> None:
        task = asyncio.get_running_loop().create_task(relay.run())
        await asyncio.sleep(0.7)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.WARNING, logger="compute.outbox.relay"):
        async_to_sync(for_a_while)()
    assert 2 <= Gone.passes <= 4  # 0.1 s, 0.2 s, 0.4 s … not every 0.05 s
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
