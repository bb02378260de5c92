"""With Redis, a console is reached from any process: keystrokes go to the host's agent in
another process, its output comes back through the guest's group, and the log is asked of it."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from compute.consoles import client
from compute.consoles.bus import console_group
from compute.models import FakeGuest
from tests.support.processes import RedisServer, child_env, start_agent, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis(settings, tmp_path):
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    from channels.layers import channel_layers

    server = RedisServer(workdir=tmp_path)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [server.url]},
        }
    }
    channel_layers.backends.clear()
    yield server
    channel_layers.backends.clear()
    server.stop()


def test_keystrokes_reach_the_agent_in_another_process_and_its_echo_comes_back(
    redis, make_instance, tmp_path
):
    instance = make_instance("active", name="web-1")
    uuid = str(instance.uuid)
    # The test's own agent object only built the guest; the host's agent now runs elsewhere.
    other = start_agent("node1", workdir=tmp_path, env=child_env(REDIS_URL=redis.url))
    try:

        async def scenario() -> str:
            from channels.layers import get_channel_layer

            layer = get_channel_layer()
            channel = await layer.new_channel()
            await layer.group_add(console_group(uuid), channel)
            got = ""
            deadline = asyncio.get_running_loop().time() + 20
            # The agent's listener joins its group once started: type until it answers.
            while "root@web-1:~# " not in got:
                if "root" not in got:
                    await client.console_type("node1", uuid, "root\r")
                try:
                    message = await asyncio.wait_for(layer.receive(channel), 0.5)
                except TimeoutError:
                    assert asyncio.get_running_loop().time() < deadline, other.tail()
                    continue
                assert message["type"] == "console.output"
                got += message["data"]
            await layer.group_discard(console_group(uuid), channel)
            return got

        printed = asyncio.run(scenario())
        assert printed.startswith("root\r\n")
        wait_for(
            lambda: FakeGuest.objects.get(uuid=uuid).console_user == "root",
            timeout=5,
            what="the login to be kept",
        )
        log = asyncio.run(sync_to_async(client.console_log)("node1", uuid))
        assert log.endswith("root@web-1:~# ")
        assert "web-1 login: root" in log
    finally:
        other.stop()
