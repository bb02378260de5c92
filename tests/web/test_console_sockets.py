"""The serial and VNC console sockets: a one-time token, for a user of the instance's project;
keystrokes in, output out; noVNC's bytes answered by the fake framebuffer."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from compute.consoles import hub
from compute.consoles.service import remote_console_create
from tests.conftest import fresh
from tests.security.sockets import ORIGIN, open_socket, run, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def consoles(agent):
    served = hub.serve(agent.host_name, agent.driver)
    yield served
    hub.unserve(agent.host_name, served)


def token(context, instance, protocol="serial", kind="serial") -> str:
    return remote_console_create(
        context=fresh(context),
        instance_uuid=str(instance.uuid),
        protocol=protocol,
        console_type=kind,
    ).token


def test_keystrokes_reach_the_guest_and_its_answer_comes_back(
    alice, alice_ctx, make_instance, consoles
):
    instance = make_instance("active", name="web-1")
    t = token(alice_ctx, instance)

    async def scenario():
        cookie = await sync_to_async(session_cookie)(alice)
        socket, connected, _ = await open_socket(
            ORIGIN, cookie, path=f"/ws/consoles/serial/?token={t}"
        )
        assert connected
        assert await socket.receive_json_from(timeout=5) == {
            "type": "hello",
            "uuid": str(instance.uuid),
        }
        screen = await socket.receive_json_from(timeout=5)
        assert screen["type"] == "screen" and screen["data"].endswith("web-1 login: ")
        await socket.send_json_to({"type": "input", "data": "root\r"})
        printed = ""
        while not printed.endswith("root@web-1:~# "):
            frame = await socket.receive_json_from(timeout=5)
            assert frame["type"] == "output"
            printed += frame["data"]
        await socket.send_to(text_data="hostname\r")  # a plain client's raw text
        printed = ""
        while not printed.endswith("root@web-1:~# "):
            printed += (await socket.receive_json_from(timeout=5))["data"]
        assert printed == "hostname\r\nweb-1\r\nroot@web-1:~# "
        await socket.disconnect()

    run(scenario)


def test_a_token_opens_one_socket_and_a_socket_needs_a_session(
    alice, alice_ctx, make_instance, consoles
):
    instance = make_instance("active")
    t = token(alice_ctx, instance)

    async def scenario():
        _, connected, code = await open_socket(ORIGIN, path=f"/ws/consoles/serial/?token={t}")
        assert (connected, code) == (False, 4401)
        cookie = await sync_to_async(session_cookie)(alice)
        first, connected, _ = await open_socket(
            ORIGIN, cookie, path=f"/ws/consoles/serial/?token={t}"
        )
        assert connected and (await first.receive_json_from(timeout=5))["type"] == "hello"
        second, _, _ = await open_socket(ORIGIN, cookie, path=f"/ws/consoles/serial/?token={t}")
        assert await second.receive_json_from(timeout=5) == {
            "type": "error",
            "code": 400,
            "message": f"The token '{t}' is invalid or has expired",
        }
        assert (await second.receive_output(timeout=5))["code"] == 4400
        await first.disconnect()

    run(scenario)


def test_novnc_is_answered_by_the_fake_framebuffer(alice, alice_ctx, make_instance, consoles):
    instance = make_instance("active", name="web-1")
    t = token(alice_ctx, instance, "vnc", "novnc")

    async def scenario():
        cookie = await sync_to_async(session_cookie)(alice)
        socket, connected, _ = await open_socket(
            ORIGIN,
            cookie,
            (b"sec-websocket-protocol", b"binary"),
            path=f"/ws/consoles/vnc/?token={t}",
        )
        assert connected
        assert await socket.receive_from(timeout=5) == b"RFB 003.008\n"
        await socket.send_to(bytes_data=b"RFB 003.008\n")
        assert await socket.receive_from(timeout=5) == bytes([1, 1])
        await socket.send_to(bytes_data=b"\x01")
        assert await socket.receive_from(timeout=5) == b"\x00\x00\x00\x00"
        await socket.send_to(bytes_data=b"\x01")
        init = await socket.receive_from(timeout=5)
        assert init.endswith(b"web-1")
        await socket.disconnect()

    run(scenario)


def test_the_pages_token_endpoint_refuses_another_projects_instance(
    bob_client, make_instance, consoles
):
    instance = make_instance("active")
    response = bob_client.post(f"/instances/{instance.uuid}/console/serial/")
    assert response.status_code == 404
    assert response.json() == {"message": f"Instance {instance.uuid} could not be found."}


def test_the_novnc_page_needs_a_login_and_loads_novnc_from_this_origin(alice_client, client):
    from dashboard.security import CONSOLE_POLICY

    assert client.get("/consoles/vnc/?token=abc").status_code == 302
    response = alice_client.get("/consoles/vnc/?token=abc")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CONSOLE_POLICY
    assert b'type="module" src="/static/js/vnc-page.js' in response.content


def test_an_open_console_is_cut_off_when_its_user_leaves_the_project(
    alice, alice_ctx, make_instance, consoles, settings
):
    """As the live socket: access is checked again every ACCESS_RECHECK_INTERVAL while the
    console stays open; a membership removed closes it."""
    from compute.models import Membership

    settings.ACCESS_RECHECK_INTERVAL = 0.2
    instance = make_instance("active")
    t = token(alice_ctx, instance)

    async def scenario():
        cookie = await sync_to_async(session_cookie)(alice)
        socket, connected, _ = await open_socket(
            ORIGIN, cookie, path=f"/ws/consoles/serial/?token={t}"
        )
        assert connected and (await socket.receive_json_from(timeout=5))["type"] == "hello"
        await sync_to_async(lambda: Membership.objects.filter(user=alice).delete())()
        while True:
            frame = await socket.receive_output(timeout=5)
            if frame["type"] == "websocket.close":
                break
        assert frame["code"] == 4401

    run(scenario)
