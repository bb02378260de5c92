"""The relay at scale: woken by PostgreSQL's NOTIFY at commit, never by a rollback, and a new
lease holder that does not trust a sequence from another database."""

from __future__ import annotations

import asyncio
import socket

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import InMemoryChannelLayer
from django.db import connection, transaction

from compute.events import NOTIFY_CHANNEL, record_host_change
from compute.publisher import OutboxRelay, RelayLease, latest_seq, project_group
from compute.services import instance_action
from tests.conftest import fresh

pytestmark = pytest.mark.django_db(transaction=True)

needs_postgresql = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="LISTEN/NOTIFY is PostgreSQL's"
)


def redis_url() -> str | None:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        if probe.connect_ex(("127.0.0.1", 6379)) == 0:
            return "redis://127.0.0.1:6379/15"
    return None


def listener_params() -> dict:
    params = connection.get_connection_params()
    for django_only in ("cursor_factory", "context"):
        params.pop(django_only, None)
    return params


@needs_postgresql
def test_an_outbox_write_notifies_at_commit_and_a_rolled_back_one_never(host):
    import psycopg

    with psycopg.connect(**listener_params(), autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        with transaction.atomic():
            record_host_change(host)
        heard = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.channel for n in heard] == [NOTIFY_CHANNEL]
        assert int(heard[0].payload) == latest_seq()

        with pytest.raises(RuntimeError), transaction.atomic():
            record_host_change(host)
            raise RuntimeError("roll it back")
        assert list(listener.notifies(timeout=0.5)) == []


@needs_postgresql
def test_the_relay_sends_a_commit_at_once_instead_of_at_its_next_poll(make_instance, alice_ctx):
    instance = make_instance("active")
    layer = InMemoryChannelLayer()
    # Polls that would take half a minute: only NOTIFY can make the change arrive in time.
    relay = OutboxRelay(layer, poll_interval=30, idle_poll=30, listen=True)

    async def scenario() -> tuple[dict, float]:
        channel = await layer.new_channel()
        await layer.group_add(project_group(instance.project_id), channel)
        relay.ensure_started()
        try:
            for _ in range(100):  # until it listens
                if relay._listener is not None and relay._listener.listening:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)  # the pass the listener's start triggers
            loop = asyncio.get_running_loop()
            await sync_to_async(instance_action)(
                context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
            )
            committed = loop.time()
            message = await asyncio.wait_for(layer.receive(channel), 5)
            return message, loop.time() - committed
        finally:
            await relay.stop()

    message, delay = async_to_sync(scenario)()
    assert message["delta"]["task_state"] == "pausing"
    assert delay < 1.0


@needs_postgresql
def test_a_change_that_commits_after_a_later_one_is_still_sent(make_instance, alice_ctx):
    """Sequence numbers are taken at INSERT and seen at COMMIT: the relay passes the hole a
    slow transaction leaves and must come back for it."""
    import psycopg

    instance = make_instance("active")
    layer = InMemoryChannelLayer()
    relay = OutboxRelay(layer, listen=False)
    group = project_group(instance.project_id)
    slow = psycopg.connect(**listener_params())  # a transaction that stays open
    try:
        slow.execute(
            "INSERT INTO compute_changeevent (kind, object_id, version, project_id, payload, "
            "created_at) VALUES ('instance', %s, 999, %s, %s, now())",
            [str(instance.uuid), instance.project_id, '{"type": "instance", "late": true}'],
        )

        async def scenario() -> list[dict]:
            channel = await layer.new_channel()
            await layer.group_add(group, channel)
            try:
                await relay.step()  # starts at the committed end; the open row is invisible
                await sync_to_async(instance_action)(
                    context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
                )
                first = await relay.step()  # sends the pause, passes the hole
                await sync_to_async(slow.commit)()
                second = await relay.step()  # comes back for it
                assert (first, second) == (1, 1)
                return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(2)]
            finally:
                await relay.stop()

        received = async_to_sync(scenario)()
    finally:
        slow.close()
    assert [m["delta"].get("task_state", "late") for m in received] == ["pausing", "late"]


def test_a_new_lease_holder_ignores_a_sequence_beyond_the_outbox_it_reads(make_instance, alice_ctx):
    """Redis outlived the database (or served another): resuming from its sequence would skip
    every change up to it, so the new holder starts from the end of this outbox."""
    url = redis_url()
    if url is None:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    instance = make_instance("active")
    layer = InMemoryChannelLayer()
    relay = OutboxRelay(layer, lease=RelayLease(url, ttl=1.0), listen=False)

    beyond = latest_seq() + 1000

    async def scenario() -> tuple[int, dict]:
        client = relay.lease.client
        await client.delete(RelayLease.KEY)
        await client.set(RelayLease.SEQ_KEY, beyond)
        channel = await layer.new_channel()
        await layer.group_add(project_group(instance.project_id), channel)
        try:
            await relay.step()  # takes the lease
            await sync_to_async(instance_action)(
                context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
            )
            sent = await relay.step()
            return sent, await asyncio.wait_for(layer.receive(channel), 5)
        finally:
            await client.delete(RelayLease.KEY, RelayLease.SEQ_KEY)
            await relay.stop()

    sent, message = async_to_sync(scenario)()
    assert sent == 1
    assert message["delta"]["task_state"] == "pausing"
