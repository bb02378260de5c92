"""The console log socket of the instance page: the log once, then the guest's output live;
refused with the domain's reason for a user who may not see the instance, or an instance with
no host."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from compute.consoles import hub
from tests.security.sockets import ORIGIN, open_socket, run, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def consoles(agent):
    served = hub.serve(agent.host_name, agent.driver)
    yield served
    hub.unserve(agent.host_name, served)


async def log_socket(user, uuid):
    cookie = await sync_to_async(session_cookie)(user)
    return await open_socket(ORIGIN, cookie, path=f"/ws/instances/{uuid}/log/")


def test_the_log_comes_first_then_what_the_guest_prints_as_it_prints_it(
    alice, make_instance, consoles
):
    instance = make_instance("active", name="web-1")

    async def scenario():
        socket, connected, _ = await log_socket(alice, instance.uuid)
        assert connected
        first = await socket.receive_json_from(timeout=5)
        assert first["type"] == "log"
        assert first["data"].endswith("web-1 login: ")
        consoles.type(str(instance.uuid), "root\r")
        printed = ""
        while not printed.endswith("root@web-1:~# "):
            frame = await socket.receive_json_from(timeout=5)
            assert frame["type"] == "output"
            printed += frame["data"]
        assert printed == "root\r\nLinux web-1 6.1.0-vmdash-fake x86_64\r\nroot@web-1:~# "
        await socket.disconnect()

    run(scenario)


def test_another_projects_user_is_refused_with_not_found(bob, make_instance, consoles):
    instance = make_instance("active")

    async def scenario():
        socket, connected, _ = await log_socket(bob, instance.uuid)
        assert connected  # accepted only to say why, then closed
        frame = await socket.receive_json_from(timeout=5)
        assert frame == {
            "type": "error",
            "code": 404,
            "message": f"Instance {instance.uuid} could not be found.",
        }
        assert (await socket.receive_output(timeout=5))["code"] == 4404

    run(scenario)


def test_an_instance_without_a_host_is_not_ready(alice, make_instance, consoles):
    instance = make_instance("shelved_offloaded")

    async def scenario():
        socket, _, _ = await log_socket(alice, instance.uuid)
        frame = await socket.receive_json_from(timeout=5)
        assert frame["message"] == f"Instance {instance.uuid} is not ready"
        assert (await socket.receive_output(timeout=5))["code"] == 4409

    run(scenario)


def test_a_socket_without_a_session_is_refused(make_instance, consoles):
    instance = make_instance("active")

    async def scenario():
        _, connected, code = await open_socket(ORIGIN, path=f"/ws/instances/{instance.uuid}/log/")
        assert not connected
        assert code == 4401

    run(scenario)
