"""The relay at scale: woken by PostgreSQL's NOTIFY at commit, never by a rollback, and a late
commit behind a later one still sent."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection, transaction

from compute.outbox.audience import project_group
from compute.outbox.fanout import LocalFanout
from compute.outbox.relay import OutboxRelay
from compute.outbox.replay import latest_seq
from compute.outbox.write import NOTIFY_CHANNEL, record_host_change
from compute.services import instance_action
from tests.conftest import Inbox, fresh

pytestmark = pytest.mark.django_db(transaction=True)

needs_postgresql = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="LISTEN/NOTIFY is PostgreSQL's"
)


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
    fanout, inbox = LocalFanout(), Inbox()
    fanout.join(inbox, [project_group(instance.project_id)])
    # Polls that would take half a minute: only NOTIFY can make the change arrive in time.
    relay = OutboxRelay(fanout, poll_interval=30, idle_poll=30, listen=True)

    async def scenario() -> tuple[dict, float]:
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
            message = await inbox.next()
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
    fanout, inbox = LocalFanout(), Inbox()
    fanout.join(inbox, [project_group(instance.project_id)])
    relay = OutboxRelay(fanout, listen=False)
    slow = psycopg.connect(**listener_params())  # a transaction that stays open
    try:
        slow.execute(
            "INSERT INTO compute_changeevent (kind, object_id, version, project_id, payload, "
            "created_at) VALUES ('instance', %s, 999, %s, %s, now())",
            [str(instance.uuid), instance.project_id, '{"type": "instance", "late": true}'],
        )

        async def scenario() -> list[dict]:
            try:
                await relay.step()  # starts at the committed end; the open row is invisible
                await sync_to_async(instance_action)(
                    context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
                )
                first = await relay.step()  # sends the pause, passes the hole
                await sync_to_async(slow.commit)()
                second = await relay.step()  # comes back for it
                assert (first, second) == (1, 1)
                return [await inbox.next() for _ in range(2)]
            finally:
                await relay.stop()

        received = async_to_sync(scenario)()
    finally:
        slow.close()
    assert [m["delta"].get("task_state", "late") for m in received] == ["pausing", "late"]


@needs_postgresql
def test_every_change_committed_while_the_relay_runs_is_delivered_exactly_once(
    make_instance, alice_ctx
):
    """A writer committing power changes back to back, as the live-latency bench does: the
    process's relay, woken by NOTIFY, must hand every one of them to the fan-out."""
    import threading

    from compute import state_machine

    instances = [make_instance("active", name=f"w{n}") for n in range(10)]
    fanout, inbox = LocalFanout(), Inbox()
    fanout.join(inbox, [project_group(instances[0].project_id)])
    relay = OutboxRelay(fanout, listen=True)
    written: list[str] = []

    def writer() -> None:
        power = {i.pk: 1 for i in instances}
        for n in range(200):
            i = instances[n % len(instances)]
            power[i.pk] = 4 if power[i.pk] == 1 else 1
            for row in state_machine.set_power_states(
                host_id=i.host_id, changes={i.pk: power[i.pk]}
            ):
                written.append(f"{row.uuid}:{row.version}")
        connection.close()

    async def scenario() -> list[str]:
        relay.ensure_started()
        try:
            for _ in range(100):  # until it listens
                if relay._listener is not None and relay._listener.listening:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            thread = threading.Thread(target=writer)
            thread.start()
            await asyncio.to_thread(thread.join)
            got: list[str] = []
            while len(got) < len(written):
                frame = await inbox.next(timeout=5)
                got.append(f"{frame['delta']['id']}:{frame['delta']['version']}")
            return got
        finally:
            await relay.stop()

    got = async_to_sync(scenario)()
    assert sorted(got) == sorted(written)
    assert len(written) == 200
