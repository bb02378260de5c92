"""What the relay does per change, and what it no longer does: no message built for a group with
no socket in this process (while the sequence still moves on), the settings read once, and on
PostgreSQL one connection that both LISTENs and reads, recovering when it is cut."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection
from django.test import override_settings

from compute.conf import conf
from compute.outbox.audience import ADMINS_GROUP, project_group
from compute.outbox.fanout import LocalFanout
from compute.outbox.relay import OutboxRelay
from compute.outbox.replay import latest_seq
from compute.outbox.write import record_host_change
from compute.services import instance_action
from tests.conftest import Inbox, fresh

needs_postgresql = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="the relay's own connection is PostgreSQL's"
)


def test_conf_is_built_once_per_settings_and_follows_an_override():
    first = conf()
    assert conf() is first
    with override_settings(COMPUTE={"host_status_policy": "admin_or_owner"}):
        assert conf().host_status_policy == "admin_or_owner"
        assert conf() is conf()
        with override_settings(COMPUTE={"service_down_time": 99.0}):
            assert conf().service_down_time == 99.0
            assert conf().host_status_policy == "admin"
        assert conf().host_status_policy == "admin_or_owner"
    assert conf() == first


def test_conf_follows_the_settings_fixture_and_still_refuses_an_unknown_knob(settings):
    settings.COMPUTE = {**settings.COMPUTE, "dispatch_timeout": 7.0}
    assert conf().dispatch_timeout == 7.0
    settings.COMPUTE = {"no_such_knob": 1}
    with pytest.raises(ValueError, match="no_such_knob"):
        conf()


def test_a_forgotten_conf_is_rebuilt_on_setting_changed():
    conf()
    with override_settings(COMPUTE={"watchdog_interval": 3.0}):
        assert conf._cache is None  # setting_changed forgot it
        assert conf().watchdog_interval == 3.0
    # The exit sent setting_changed: nothing of the override's is served afterwards.
    assert conf().watchdog_interval == 2.0


class Counting(LocalFanout):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    async def group_send(self, group: str, message) -> None:  # type: ignore[no-untyped-def]
        self.sent.append(group)
        await super().group_send(group, message)


@pytest.mark.django_db(transaction=True)
def test_with_no_socket_in_a_group_no_message_is_built_and_the_sequence_moves_on(
    make_instance, alice_ctx, host
):
    instance = make_instance("active")
    fanout = Counting()
    relay = OutboxRelay(fanout, listen=False)

    async def scenario() -> tuple[int, int]:
        await relay.step()
        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
        )
        read_alone = await relay.step()
        fanout.join(Inbox(), [project_group("some-other-project")])
        await sync_to_async(record_host_change)(host)  # admins only: still nobody's here
        read_later = await relay.step()
        assert fanout.sent == []
        assert relay.last_seq == await sync_to_async(latest_seq)()
        await relay.stop()
        return read_alone, read_later

    assert async_to_sync(scenario)() == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_only_the_groups_with_a_socket_here_are_handed_a_message(make_instance, alice_ctx):
    instance = make_instance("active")
    other = make_instance("active", name="other")
    fanout = Counting()
    admin, member = Inbox(), Inbox()
    fanout.join(admin, [ADMINS_GROUP])
    relay = OutboxRelay(fanout, listen=False)

    async def scenario() -> None:
        await relay.step()
        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
        )
        await relay.step()
        assert fanout.sent == [ADMINS_GROUP]
        fanout.join(member, [project_group(instance.project_id)])
        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(other.uuid), action="stop"
        )
        await relay.step()
        await relay.stop()

    async_to_sync(scenario)()
    assert [f["delta"]["task_state"] for f in admin.frames] == ["pausing", "powering-off"]
    assert admin.frames[0]["delta"]["host"] == "node1"
    (seen,) = member.frames
    assert seen["delta"]["task_state"] == "powering-off"
    assert "host" not in seen["delta"] and seen["delta"]["host_id"]


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_relay_recovers_when_its_connection_is_cut_and_sends_what_came_meanwhile(
    make_instance, alice_ctx
):
    """One connection LISTENs and reads: cut it, and the relay polls (reconnecting) until it
    listens again, then sends what committed while it was cut, once, in order."""
    import psycopg

    instance = make_instance("active")
    other = make_instance("active", name="other")
    fanout, inbox = LocalFanout(), Inbox()
    fanout.join(inbox, [project_group(instance.project_id)])
    relay = OutboxRelay(fanout, poll_interval=0.05, idle_poll=30, listen=True)

    async def listening() -> None:
        for _ in range(200):
            if relay._listener is not None and relay._listener.listening:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the relay never listened")

    async def scenario() -> list[str]:
        relay.ensure_started()
        try:
            await listening()
            await sync_to_async(instance_action)(
                context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
            )
            first = await inbox.next()
            assert relay._listener is not None
            pid = relay._listener._pgconn.backend_pid
            params = connection.get_connection_params()
            for django_only in ("cursor_factory", "context"):
                params.pop(django_only, None)
            with psycopg.connect(**params, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            # Committed while the relay's connection is gone (or being replaced).
            await sync_to_async(instance_action)(
                context=fresh(alice_ctx), instance_uuid=str(other.uuid), action="stop"
            )
            second = await inbox.next(timeout=10)
            await listening()
            assert relay._listener._pgconn.backend_pid != pid
            return [first["delta"]["task_state"], second["delta"]["task_state"]]
        finally:
            await relay.stop()

    assert async_to_sync(scenario)() == ["pausing", "powering-off"]
    assert inbox.frames == []
