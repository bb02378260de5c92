"""The publisher: who receives which delta, replay after a reconnect, the relay and the
process's fan-out."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from compute.models import ChangeEvent
from compute.outbox.audience import ADMINS_GROUP, messages_for, project_group
from compute.outbox.fanout import LocalFanout
from compute.outbox.relay import OutboxRelay
from compute.outbox.replay import latest_seq, replay
from compute.services import instance_action
from tests.conftest import Inbox, fresh


@pytest.mark.django_db
def test_an_instance_delta_goes_to_its_project_without_the_host_and_to_admins_with_it(
    make_instance,
):
    instance = make_instance("active")
    row = ChangeEvent.objects.filter(object_id=str(instance.uuid)).latest("id")
    sent = dict(messages_for(row))
    assert sent[ADMINS_GROUP]["delta"]["host"] == "node1"
    assert "host" not in sent[project_group(instance.project_id)]["delta"]


@pytest.mark.django_db
def test_a_host_delta_goes_to_admins_only(host):
    row = ChangeEvent.objects.filter(kind="host").latest("id")
    assert [group for group, _ in messages_for(row)] == [ADMINS_GROUP]


@pytest.mark.django_db
def test_replay_gives_a_member_only_its_projects_events_after_the_sequence(
    make_instance, alice_ctx, bob_ctx, admin_ctx
):
    instance = make_instance("active")
    since = latest_seq()
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="stop")
    mine, complete = replay(context=alice_ctx, since=since)
    assert complete
    assert [m["delta"]["task_state"] for m in mine] == ["powering-off"]
    assert "host" not in mine[0]["delta"]
    assert replay(context=bob_ctx, since=since)[0] == []
    assert replay(context=admin_ctx, since=since)[0][0]["delta"]["host"] == "node1"


@pytest.mark.django_db
def test_replay_from_before_the_retained_outbox_asks_the_page_to_resync(make_instance, alice_ctx):
    make_instance("active")
    ChangeEvent.objects.filter(id__lte=latest_seq() - 1).delete()
    _, complete = replay(context=alice_ctx, since=0)
    assert not complete


@pytest.mark.django_db(transaction=True)
def test_the_relay_delivers_a_committed_change_to_the_project_group(make_instance, alice_ctx):
    instance = make_instance("active")
    fanout = LocalFanout()
    inbox = Inbox()
    fanout.join(inbox, [project_group(instance.project_id)])
    relay = OutboxRelay(fanout)

    async def scenario() -> dict:
        await relay.step()  # starts from the current end of the outbox
        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
        )
        assert await relay.step() == 1
        return await inbox.next()

    frame = async_to_sync(scenario)()
    assert frame["type"] == "delta"
    assert frame["delta"]["task_state"] == "pausing"
    assert frame["delta"]["version"] == instance.version + 1


def test_the_fanout_encodes_a_delta_once_for_every_subscriber_of_the_group():
    fanout = LocalFanout()
    inboxes = [Inbox() for _ in range(3)]
    for inbox in inboxes:
        fanout.join(inbox, ["project.p"])
    fanout.join(Inbox(), ["project.q"])
    frames: list[str] = []

    class Spy(Inbox):
        async def push(self, frame: str) -> None:
            frames.append(frame)

    fanout.join(Spy(), ["project.p"])
    message = {"seq": 7, "delta": {"type": "instance", "id": "x"}}
    async_to_sync(fanout.group_send)("project.p", message)
    assert [i.frames for i in inboxes] == [
        [{"type": "delta", "seq": 7, "delta": message["delta"]}]
    ] * 3
    assert len(frames) == 1


def test_a_subscriber_that_fails_is_dropped_and_the_others_still_get_the_frame():
    fanout = LocalFanout()

    class Broken(Inbox):
        async def push(self, frame: str) -> None:
            raise ConnectionResetError

    broken, fine = Broken(), Inbox()
    fanout.join(broken, ["admins"])
    fanout.join(fine, ["admins"])
    message = {"seq": 1, "delta": {"type": "host"}}
    async_to_sync(fanout.group_send)("admins", message)
    assert len(fine.frames) == 1
    assert fanout.groups["admins"] == {fine}


@pytest.mark.django_db
def test_a_batch_of_changes_enters_the_outbox_in_order_each_with_its_own_payload(make_instance):
    from compute.models import Instance
    from compute.outbox.write import record_instance_changes

    instances = [make_instance("active", name=f"batch-{n}") for n in range(5)]
    since = latest_seq()
    record_instance_changes(
        Instance.objects.filter(pk__in=[i.pk for i in instances]).order_by("-id")
    )
    rows = list(ChangeEvent.objects.filter(id__gt=since).order_by("id"))
    assert [r.object_id for r in rows] == [str(i.uuid) for i in reversed(instances)]
    assert all(r.payload["id"] == r.object_id and r.payload["name"] for r in rows)
    assert [r.payload["name"] for r in rows] == [f"batch-{n}" for n in reversed(range(5))]
