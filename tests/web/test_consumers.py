"""The live socket, through Channels' WebsocketCommunicator: who may connect, which groups of
the process's fan-out a socket joins, that a user hears exactly the events its policy allows,
and that losing access while connected stops the events.

The application under test is the ASGI websocket stack of ``dashboard.asgi`` (origin check,
session authentication, routing); the outbox relay is driven by hand (``relay_once``) so each
test decides when committed changes are fanned out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.utils import timezone

from compute.models import ChangeEvent, Membership
from compute.outbox.audience import ADMINS_GROUP, project_group, user_group
from compute.outbox.replay import latest_seq
from compute.policy import opaque_host_id
from compute.services import host_update, instance_action
from compute.watchdog import check_hosts
from dashboard.web import access
from dashboard.web.consumers import CLOSE_UNAUTHENTICATED
from tests.conftest import fresh
from tests.security.sockets import (
    ORIGIN,
    joined_groups,
    open_socket,
    relay_from,
    resumed,
    run,
    session_cookie,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def signed_in(user: User) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    cookie = await sync_to_async(session_cookie)(user)
    socket, connected, _ = await open_socket(ORIGIN, cookie)
    assert connected
    hello = await socket.receive_json_from(timeout=5)
    return socket, hello


async def deltas(socket: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Every delta that arrives before the socket goes quiet."""
    got = []
    # receive_nothing does not cancel the application on a timeout, as receive_json_from would.
    while not await socket.receive_nothing(timeout=0.3):
        message = await socket.receive_json_from(timeout=5)
        if message["type"] == "delta":
            got.append(message["delta"])
    return got


def test_a_socket_without_a_session_is_refused(alice):
    async def scenario():
        _, connected, code = await open_socket(ORIGIN)
        assert not connected
        assert code == CLOSE_UNAUTHENTICATED

    run(scenario)


def test_a_socket_from_a_foreign_origin_is_refused_even_with_a_session(alice):
    async def scenario():
        cookie = await sync_to_async(session_cookie)(alice)
        _, connected, _ = await open_socket((b"origin", b"http://evil.example"), cookie)
        assert not connected

    run(scenario)


def test_a_socket_without_an_origin_is_refused(alice):
    async def scenario():
        cookie = await sync_to_async(session_cookie)(alice)
        _, connected, _ = await open_socket(cookie)
        assert not connected

    run(scenario)


def test_a_member_is_greeted_with_the_latest_sequence_and_joins_only_its_projects_groups(
    alice, alice_ctx
):
    async def scenario():
        socket, hello = await signed_in(alice)
        assert hello == {"type": "hello", "seq": await sync_to_async(latest_seq)(), "admin": False}
        # Its projects' groups, and its own (the notifications' bell).
        assert joined_groups() == {project_group(alice_ctx.project_id), user_group(alice.pk)}
        await socket.disconnect()
        assert joined_groups() == set()

    run(scenario)


def test_an_admin_joins_the_admins_group(admin_user):
    async def scenario():
        socket, hello = await signed_in(admin_user)
        assert hello["admin"] is True
        assert joined_groups() == {ADMINS_GROUP, user_group(admin_user.pk)}
        await socket.disconnect()

    run(scenario)


def test_a_member_hears_its_instances_changes_with_versions_and_without_the_host(
    alice, alice_ctx, make_instance
):
    instance = make_instance("active")

    async def scenario():
        socket, hello = await signed_in(alice)
        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
        )
        await relay_from(hello["seq"])
        got = await deltas(socket)
        assert [d["task_state"] for d in got] == ["pausing"]
        assert got[0]["id"] == str(instance.uuid)
        assert got[0]["version"] == instance.version + 1
        assert "host" not in got[0]
        await socket.disconnect()

    run(scenario)


def test_a_member_never_hears_of_another_projects_instance(bob, alice_ctx, make_instance):
    instance = make_instance("active")

    async def scenario():
        socket, hello = await signed_in(bob)
        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
        )
        await relay_from(hello["seq"])
        assert await deltas(socket) == []
        assert await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()

    run(scenario)


def test_a_member_never_hears_a_host_change_under_novas_default_policy(alice, admin_ctx, host):
    async def scenario():
        socket, hello = await signed_in(alice)
        await sync_to_async(host_update)(
            context=admin_ctx, host=host, status="disabled", disabled_reason="patching"
        )
        await relay_from(hello["seq"])
        assert await deltas(socket) == []
        await socket.disconnect()

    run(scenario)


def test_an_admin_hears_every_instance_with_its_host_and_every_host(
    admin_user, alice_ctx, admin_ctx, make_instance, host
):
    instance = make_instance("active")

    async def scenario():
        socket, hello = await signed_in(admin_user)
        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
        )
        await sync_to_async(host_update)(context=admin_ctx, host=host, forced_down=True)
        await relay_from(hello["seq"])
        got = await deltas(socket)
        assert [d["type"] for d in got] == ["instance", "host"]
        assert got[0]["host"] == "node1"
        assert got[1]["host_status"] == "DOWN"
        await socket.disconnect()

    run(scenario)


def test_resuming_replays_only_what_the_user_may_see_then_says_caught_up(
    alice, alice_ctx, bob_ctx, admin_ctx, make_instance, host
):
    since = latest_seq()
    mine = make_instance("stopped", name="mine")
    make_instance("active", name="bobs", context=bob_ctx)
    host_update(context=admin_ctx, host=host, forced_down=True)

    async def scenario():
        socket, _ = await signed_in(alice)
        frames = await resumed(socket, since)
        assert {m["type"] for m in frames} <= {"delta"}
        seen = [m["delta"] for m in frames]
        assert seen and {d["id"] for d in seen} == {str(mine.uuid)}
        assert [d["version"] for d in seen] == sorted(d["version"] for d in seen)
        await socket.disconnect()

    run(scenario)


def test_resuming_from_before_the_oldest_kept_event_asks_the_page_to_resync(alice, make_instance):
    make_instance("active")
    ChangeEvent.objects.filter(id__lt=latest_seq()).delete()

    async def scenario():
        socket, _ = await signed_in(alice)
        kinds = [m["type"] for m in await resumed(socket, 0)]
        assert kinds[-1] == "resync"
        await socket.disconnect()

    run(scenario)


@pytest.mark.parametrize("frame", ['{"type":"resume","since":"soon"}', "[1,2]", "not json"])
def test_a_malformed_frame_gets_an_error_and_the_socket_stays_open(alice, frame):
    async def scenario():
        socket, _ = await signed_in(alice)
        await socket.send_to(text_data=frame)
        assert (await socket.receive_json_from(timeout=5))["type"] == "error"
        await socket.send_json_to({"type": "ping"})
        assert (await socket.receive_json_from(timeout=5)) == {"type": "pong"}
        await socket.disconnect()

    run(scenario)


def test_an_oversized_frame_closes_the_socket(alice):
    async def scenario():
        socket, _ = await signed_in(alice)
        await socket.send_to(text_data="x" * 10_000)
        assert (await socket.receive_output(timeout=5))["type"] == "websocket.close"

    run(scenario)


@pytest.mark.parametrize(
    ("policy", "shown"),
    [("admin_or_owner", ["MAINTENANCE", "UNKNOWN"]), ("unknown_only", [None, "UNKNOWN"])],
)
def test_a_member_hears_the_host_status_of_its_instances_by_opaque_host_id_where_policy_allows(
    alice, bob, admin_ctx, make_instance, host, settings, policy, shown
):
    settings.COMPUTE = {**settings.COMPUTE, "host_status_policy": policy}
    instance = make_instance("active")

    async def scenario():
        mine, hello = await signed_in(alice)
        other, _ = await signed_in(bob)
        await sync_to_async(host_update)(
            context=admin_ctx, host=host, status="disabled", disabled_reason="patching"
        )
        await sync_to_async(host_update)(context=admin_ctx, host=host, status="enabled")
        # The heartbeat expires: UNKNOWN, written by nobody but the watchdog's notice.
        long_ago = timezone.now() - timedelta(days=1)
        await sync_to_async(type(host).objects.filter(pk=host.pk).update)(last_seen_up=long_ago)
        await sync_to_async(check_hosts)()
        await relay_from(hello["seq"])
        got = await deltas(mine)
        assert await deltas(other) == []
        await mine.disconnect()
        await other.disconnect()
        return got

    got = run(scenario)
    key = opaque_host_id(instance.project_id, "node1")
    assert {d["type"] for d in got} == {"host_status"}
    assert {d["id"] for d in got} == {key}
    assert "node1" not in str(got)
    assert [d["version"] for d in got] == sorted(d["version"] for d in got)
    visible = [d["host_status"] for d in got]
    assert [visible[0], visible[-1]] == shown


def test_a_member_resuming_is_replayed_its_hosts_status_where_policy_allows(
    alice, admin_ctx, make_instance, host, settings
):
    settings.COMPUTE = {**settings.COMPUTE, "host_status_policy": "admin_or_owner"}
    instance = make_instance("active")
    since = latest_seq()
    host_update(context=admin_ctx, host=host, forced_down=True)

    async def scenario():
        socket, _ = await signed_in(alice)
        seen = [m["delta"] for m in await resumed(socket, since)]
        await socket.disconnect()
        return seen

    assert run(scenario) == [
        {
            "type": "host_status",
            "id": opaque_host_id(instance.project_id, "node1"),
            "version": host.__class__.objects.get(pk=host.pk).version,
            "host_status": "DOWN",
        }
    ]


def test_a_member_removed_from_a_project_stops_hearing_it_without_reconnecting(
    alice, alice_ctx, make_instance
):
    instance = make_instance("active")

    async def scenario():
        socket, hello = await signed_in(alice)
        await sync_to_async(Membership.objects.filter(user=alice).delete)()
        assert await access.recheck() == 1
        assert (await socket.receive_json_from(timeout=5)) == {"type": "resync"}
        assert joined_groups() == {user_group(alice.pk)}  # its own bell only
        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause"
        )
        await relay_from(hello["seq"])
        assert await deltas(socket) == []
        await socket.disconnect()

    run(scenario)


def test_a_socket_whose_session_ended_is_closed_at_the_next_recheck(alice):
    async def scenario():
        socket, _ = await signed_in(alice)
        assert await access.recheck() == 0  # nothing changed: nothing happens
        from django.contrib.sessions.models import Session

        await sync_to_async(Session.objects.all().delete)()  # logged out in another tab
        assert await access.recheck() == 1
        closed = await socket.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
        assert joined_groups() == set()

    run(scenario)
