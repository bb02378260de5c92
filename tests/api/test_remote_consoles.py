"""Nova's remote consoles: ``POST /servers/{id}/remote-consoles`` (2.6+) and the older
``os-getVNCConsole`` / ``os-getSerialConsole`` actions — their schemas, checks in Nova's order,
texts and codes — and the one-time, short-lived token behind each URL, kept only hashed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from compute.consoles import hub
from compute.consoles.service import console_token_consume, token_hash
from compute.exceptions import InvalidToken, NotFound
from compute.models import ConsoleToken, Instance
from compute.state_machine import transition
from tests.api.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def consoles(agent) -> Iterator[hub.ConsoleHost]:
    served = hub.serve(agent.host_name, agent.driver)
    yield served
    hub.unserve(agent.host_name, served)


def create(api, uuid, protocol: str, kind: str, **headers) -> tuple[int, dict]:
    response = api.post(
        f"/v2.1/servers/{uuid}/remote-consoles",
        {"remote_console": {"protocol": protocol, "type": kind}},
        format="json",
        **headers,
    )
    return response.status_code, response.json()


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_a_vnc_console_is_a_one_time_novnc_page_url(alice_api, make_instance, consoles):
    instance = make_instance("active")
    status, body = create(alice_api, instance.uuid, "vnc", "novnc")
    assert status == 200
    console = body["remote_console"]
    assert (console["protocol"], console["type"]) == ("vnc", "novnc")
    assert console["url"].startswith("http://testserver/consoles/vnc/?token=")
    token = token_of(console["url"])
    assert len(token) >= 40
    row = ConsoleToken.objects.get()
    assert row.token_hash == token_hash(token) != token  # only the hash is kept
    assert row.instance_id == instance.pk and row.console_type == "novnc"
    assert timedelta(seconds=599) < row.expires_at - row.created_at <= timedelta(seconds=600)


def test_a_serial_console_is_a_websocket_url(alice_api, make_instance, consoles):
    instance = make_instance("active")
    status, body = create(alice_api, instance.uuid, "serial", "serial")
    assert status == 200
    assert body["remote_console"]["url"].startswith("ws://testserver/ws/consoles/serial/?token=")


def test_a_stopped_instance_still_gets_a_url_as_in_nova(alice_api, make_instance, consoles):
    # Nova issues it (the console waits for the guest); the page's console says it is stopped.
    instance = make_instance("stopped")
    assert create(alice_api, instance.uuid, "serial", "serial")[0] == 200


@pytest.mark.parametrize(
    ("protocol", "kind", "code", "message"),
    [
        ("vnc", "serial", 400, "Invalid console type serial"),
        ("vnc", "xvpvnc", 400, "Invalid console type xvpvnc"),
        ("serial", "novnc", 400, "Invalid console type novnc"),
        ("spice", "spice-html5", 400, "Unavailable console type spice-html5."),
        ("rdp", "rdp-html5", 400, "Unavailable console type rdp."),
        ("mks", "webmks", 501, "The requested functionality is not supported."),
    ],
)
def test_a_console_no_host_here_serves_is_refused_with_novas_text(
    alice_api, make_instance, consoles, protocol, kind, code, message
):
    instance = make_instance("active")
    status, body = create(alice_api, instance.uuid, protocol, kind)
    assert status == code
    assert next(iter(body.values()))["message"] == message
    assert not ConsoleToken.objects.exists()


def test_a_bad_body_is_novas_400_and_mks_needs_2_8(alice_api, make_instance, consoles):
    instance = make_instance("active")
    status, body = create(alice_api, instance.uuid, "telnet", "serial")
    assert status == 400
    assert body["badRequest"]["message"].startswith(
        "Invalid input for field/attribute protocol. Value: telnet."
    )
    status, body = create(alice_api, instance.uuid, "mks", "webmks", **at("2.7"))
    assert status == 400
    assert not ConsoleToken.objects.exists()


def test_before_2_6_the_resource_is_not_there(alice_api, make_instance, consoles):
    instance = make_instance("active")
    status, body = create(alice_api, instance.uuid, "vnc", "novnc", **at("2.5"))
    assert (status, body["itemNotFound"]["message"]) == (
        404,
        "API version 2.5 is not supported on this method.",
    )


def test_an_instance_without_a_host_is_not_ready(alice_api, make_instance, consoles):
    instance = make_instance("shelved_offloaded")
    status, body = create(alice_api, instance.uuid, "vnc", "novnc")
    assert (status, body["conflictingRequest"]["message"]) == (
        409,
        f"Instance {instance.uuid} is not ready",
    )


@pytest.mark.parametrize("task", ["deleting", "migrating"])
def test_a_deleting_or_migrating_instance_is_refused_with_409(
    alice_api, make_instance, consoles, task
):
    instance = make_instance("active")
    transition(instance, expected_task_state=None, task_state=task)
    status, body = create(alice_api, instance.uuid, "serial", "serial")
    assert (status, body["conflictingRequest"]["message"]) == (
        409,
        f"Cannot 'get_serial_console' instance {instance.uuid} while it is in task_state {task}",
    )


def test_another_projects_server_is_not_found(bob_api, make_instance, consoles):
    instance = make_instance("active")
    status, body = create(bob_api, instance.uuid, "vnc", "novnc")
    assert status == 404
    assert body["itemNotFound"]["message"] == f"Instance {instance.uuid} could not be found."
    assert not ConsoleToken.objects.exists()


@pytest.mark.parametrize(
    ("body", "url_start"),
    [
        ({"os-getVNCConsole": {"type": "novnc"}}, "http://testserver/consoles/vnc/?token="),
        ({"os-getSerialConsole": {"type": "serial"}}, "ws://testserver/ws/consoles/serial/?token="),
    ],
)
def test_the_older_actions_answer_until_2_5(alice_api, make_instance, consoles, body, url_start):
    instance = make_instance("active")
    path = f"/v2.1/servers/{instance.uuid}/action"
    response = alice_api.post(path, body, format="json", **at("2.5"))
    assert response.status_code == 200
    answer = response.json()["console"]
    assert answer["type"] == next(iter(body.values()))["type"]
    assert answer["url"].startswith(url_start)
    response = alice_api.post(path, body, format="json", **at("2.6"))
    assert response.status_code == 404
    assert response.json()["itemNotFound"]["message"] == (
        "API version 2.6 is not supported on this method."
    )


def test_the_older_vnc_action_validates_its_type(alice_api, make_instance, consoles):
    instance = make_instance("active")
    response = alice_api.post(
        f"/v2.1/servers/{instance.uuid}/action",
        {"os-getVNCConsole": {"type": "spice-html5"}},
        format="json",
        **at("2.1"),
    )
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"].startswith(
        "Invalid input for field/attribute type. Value: spice-html5."
    )


def issued_token(api, instance, protocol="serial", kind="serial") -> str:
    return token_of(create(api, instance.uuid, protocol, kind)[1]["remote_console"]["url"])


def test_a_token_opens_one_connection_only(alice_api, alice_ctx, make_instance, consoles):
    instance = make_instance("active")
    token = issued_token(alice_api, instance)
    row = console_token_consume(context=alice_ctx, token=token, console_type="serial")
    assert row.instance_id == instance.pk and row.used_at is not None
    with pytest.raises(InvalidToken, match=f"^The token '{token}' is invalid or has expired$"):
        console_token_consume(context=alice_ctx, token=token, console_type="serial")


def test_an_expired_token_or_one_for_another_console_opens_nothing(
    alice_api, alice_ctx, make_instance, consoles
):
    instance = make_instance("active")
    token = issued_token(alice_api, instance)
    with pytest.raises(InvalidToken):
        console_token_consume(context=alice_ctx, token=token, console_type="novnc")
    ConsoleToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(InvalidToken):
        console_token_consume(context=alice_ctx, token=token, console_type="serial")


def test_another_projects_user_cannot_spend_a_stolen_token_and_leaves_it_to_its_owner(
    alice_api, alice_ctx, bob_ctx, make_instance, consoles
):
    instance = make_instance("active")
    token = issued_token(alice_api, instance)
    with pytest.raises(NotFound, match=f"Instance {instance.uuid} could not be found."):
        console_token_consume(context=bob_ctx, token=token, console_type="serial")
    assert ConsoleToken.objects.get().used_at is None
    console_token_consume(context=alice_ctx, token=token, console_type="serial")
    assert Instance.objects.filter(pk=instance.pk).exists()
