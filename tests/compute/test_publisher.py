"""The publisher: who receives which delta, replay after a reconnect, and the relay lease."""

from __future__ import annotations

import socket

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer

from compute.models import ChangeEvent
from compute.publisher import (
    ADMINS_GROUP,
    OutboxRelay,
    RelayLease,
    latest_seq,
    messages_for,
    project_group,
    replay,
)
from compute.services import instance_action
from tests.conftest import fresh


def redis_url() -> str | None:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        if probe.connect_ex(("127.0.0.1", 6379)) == 0:
            return "redis://127.0.0.1:6379/15"
    return None


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
    layer = InMemoryChannelLayer()
    relay = OutboxRelay(layer)

    async def scenario() -> dict:
        channel = await layer.new_channel()
        await layer.group_add(project_group(instance.project_id), channel)
        await relay.step()  # starts from the current end of the outbox
        from asgiref.sync import sync_to_async

        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
        )
        assert await relay.step() == 1
        return await layer.receive(channel)

    message = async_to_sync(scenario)()
    assert message["type"] == "state.delta"
    assert message["delta"]["task_state"] == "pausing"
    assert message["delta"]["version"] == instance.version + 1


@pytest.mark.django_db(transaction=True)
def test_with_a_shared_layer_one_process_relays_and_a_successor_resumes_where_it_stopped(
    make_instance, alice_ctx
):
    url = redis_url()
    if url is None:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    instance = make_instance("active")
    first = OutboxRelay(InMemoryChannelLayer(), lease=RelayLease(url, ttl=1.0))
    second = OutboxRelay(InMemoryChannelLayer(), lease=RelayLease(url, ttl=1.0))

    async def scenario() -> tuple[int, int, int]:
        await first.lease.client.delete(RelayLease.KEY, RelayLease.SEQ_KEY)
        await first.step()
        from asgiref.sync import sync_to_async

        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
        )
        follower_sent = await second.step()
        leader_sent = await first.step()
        await first.lease.client.delete(RelayLease.KEY)  # the leader dies; its lease lapses
        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="delete"
        )
        successor_sent = await second.step()
        await first.lease.client.delete(RelayLease.KEY, RelayLease.SEQ_KEY)
        return follower_sent, leader_sent, successor_sent

    assert async_to_sync(scenario)() == (0, 1, 1)
