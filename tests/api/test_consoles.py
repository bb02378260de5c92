"""The console calls of Nova's API: ``os-getConsoleOutput`` (the log, ``length`` lines of it),
with Nova's schema, texts and codes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from compute.consoles import hub
from compute.models import FakeGuest

pytestmark = pytest.mark.django_db


@pytest.fixture
def consoles(agent) -> Iterator[hub.ConsoleHost]:
    """The host's consoles served from this process, as its agent does when it starts."""
    served = hub.serve(agent.host_name, agent.driver)
    yield served
    hub.unserve(agent.host_name, served)


def output(api, uuid: str, body: dict) -> tuple[int, dict]:
    response = api.post(f"/v2.1/servers/{uuid}/action", body, format="json")
    return response.status_code, response.json()


def test_the_console_log_is_the_guests_serial_output_without_control_characters(
    alice_api, make_instance, consoles, agent
):
    instance = make_instance("active", name="web-1")
    agent.driver.console_input(str(instance.uuid), "root\r")
    status, body = output(alice_api, instance.uuid, {"os-getConsoleOutput": {}})
    assert status == 200
    assert list(body) == ["output"]
    assert body["output"].endswith("\nLinux web-1 6.1.0-vmdash-fake x86_64\nroot@web-1:~# ")
    assert "\r" not in body["output"]
    assert body["output"] == FakeGuest.objects.get(uuid=instance.uuid).console_log.replace("\r", "")


@pytest.mark.parametrize(
    ("length", "lines"),
    [
        (0, [""]),
        (1, ["root@web-1:~# "]),
        ("2", ["Linux web-1 6.1.0-vmdash-fake x86_64", "root@web-1:~# "]),
    ],
)
def test_length_keeps_that_many_last_lines(
    alice_api, make_instance, consoles, agent, length, lines
):
    instance = make_instance("active", name="web-1")
    agent.driver.console_input(str(instance.uuid), "root\r")
    status, body = output(alice_api, instance.uuid, {"os-getConsoleOutput": {"length": length}})
    assert status == 200
    assert body["output"].split("\n") == lines


def test_length_minus_one_drops_the_first_line_as_novas_tail_does(
    alice_api, make_instance, consoles
):
    instance = make_instance("active", name="web-1")
    whole = output(alice_api, instance.uuid, {"os-getConsoleOutput": {"length": None}})[1]
    _, body = output(alice_api, instance.uuid, {"os-getConsoleOutput": {"length": -1}})
    assert body["output"] == whole["output"].split("\n", 1)[1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"os-getConsoleOutput": {"length": -2}},
            "Invalid input for field/attribute length. Value: -2. -2 is less than the minimum of -1",
        ),
        (
            {"os-getConsoleOutput": {"length": "ten"}},
            "Invalid input for field/attribute length. Value: ten. 'ten' does not match '^-?[0-9]+$'",
        ),
        (
            {"os-getConsoleOutput": {"lines": 3}},
            "Invalid input for field/attribute os-getConsoleOutput. Value: {'lines': 3}. "
            "Additional properties are not allowed ('lines' was unexpected)",
        ),
    ],
)
def test_a_bad_body_is_novas_400(alice_api, make_instance, consoles, body, message):
    instance = make_instance("active")
    status, answer = output(alice_api, instance.uuid, body)
    assert (status, answer) == (400, {"badRequest": {"code": 400, "message": message}})


def test_a_stopped_guests_log_is_still_served(alice_api, make_instance, consoles):
    instance = make_instance("stopped")
    status, body = output(alice_api, instance.uuid, {"os-getConsoleOutput": {}})
    assert status == 200
    assert body["output"].endswith("reboot: Power down\n")


def test_an_instance_without_a_host_is_not_ready(alice_api, make_instance, consoles):
    instance = make_instance("shelved_offloaded")
    status, body = output(alice_api, instance.uuid, {"os-getConsoleOutput": {}})
    assert (status, body) == (
        409,
        {"conflictingRequest": {"code": 409, "message": f"Instance {instance.uuid} is not ready"}},
    )


def test_another_projects_server_is_not_found(bob_api, make_instance, consoles):
    instance = make_instance("active")
    status, body = output(bob_api, instance.uuid, {"os-getConsoleOutput": {}})
    assert status == 404
    assert body["itemNotFound"]["message"] == f"Instance {instance.uuid} could not be found."


def test_a_guest_the_hypervisor_lost_is_not_found(alice_api, make_instance, consoles):
    instance = make_instance("active")
    FakeGuest.objects.filter(uuid=instance.uuid).delete()
    status, body = output(alice_api, instance.uuid, {"os-getConsoleOutput": {}})
    assert status == 404
    assert body["itemNotFound"]["message"] == f"Instance {instance.uuid} could not be found."


def test_a_host_whose_agent_nobody_can_reach_has_no_console(alice_api, make_instance):
    # No agent serves the host in this process and no shared channel layer reaches another.
    instance = make_instance("active")
    status, body = output(alice_api, instance.uuid, {"os-getConsoleOutput": {}})
    assert (status, body) == (
        404,
        {"itemNotFound": {"code": 404, "message": "Guest does not have a console available."}},
    )
