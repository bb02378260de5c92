"""Waking an agent in another process through the shared channel layer (Redis)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from unittest import mock

import pytest

from compute import dispatch
from compute.agent import wakeup


def redis_reachable() -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.fixture
def redis_layer(settings) -> Iterator[None]:
    if not redis_reachable():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/14"], "prefix": "vmdash-test-wakeup"},
        }
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def test_a_wakeup_sent_through_the_shared_layer_sets_the_listening_agents_event(redis_layer):
    host = "wakeup-test-host"
    event = dispatch.wakeup_event(host)
    listener = wakeup.WakeupListener(host, dispatch.shared_layer())
    listener.start()
    try:
        # The listener joins its group asynchronously: send until one arrives.
        for _ in range(50):
            event.clear()
            dispatch._sender().send(host)  # what wake_agent sends, without the local event
            if event.wait(0.2):
                break
        assert event.is_set(), "no wake-up arrived through Redis"
    finally:
        listener.stop()


def test_a_web_process_sends_its_wakeups_from_its_server_loop(redis_layer):
    """dashboard.asgi hands the server's loop over: wake-ups asked for by request threads go
    out from it, with no thread of their own."""
    host = "wakeup-loop-host"
    event = dispatch.wakeup_event(host)
    loop = asyncio.new_event_loop()
    server = threading.Thread(target=loop.run_forever, daemon=True)
    server.start()
    listener = wakeup.WakeupListener(host, dispatch.shared_layer())
    listener.start()
    sent: list[set[str]] = []
    real_send = dispatch._send

    async def recording_send(layer, hosts):
        assert threading.current_thread() is server  # on the server's loop, nowhere else
        sent.append(set(hosts))
        await real_send(layer, hosts)

    try:
        dispatch.send_from(loop)
        with mock.patch.object(dispatch, "_send", recording_send):
            for _ in range(50):
                event.clear()
                dispatch.wake_agent(host)
                event.clear()  # wake_agent also sets it in this process: wait for Redis's
                if event.wait(0.2):
                    break
        assert event.is_set(), "no wake-up arrived through Redis"
        assert sent and all(hosts == {host} for hosts in sent)
    finally:
        dispatch.send_from(None)
        listener.stop()
        loop.call_soon_threadsafe(loop.stop)
        server.join(5)
        loop.close()


def test_without_a_shared_layer_a_wakeup_stays_in_this_process(settings):
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    assert dispatch.shared_layer() is None
    event = dispatch.wakeup_event("local-host")
    event.clear()
    dispatch.wake_agent("local-host")
    assert event.is_set()
    channel_layers.backends.clear()


def test_a_host_name_a_group_cannot_hold_is_hashed_into_one_it_can():
    assert dispatch.agent_group("compute-1.example") == "agent.compute-1.example"
    odd = dispatch.agent_group("rack 7/ü")
    assert odd.startswith("agent.") and odd.isascii() and " " not in odd
