"""The fake hypervisor's serial console: a boot log, a login, a shell that answers, and a
``shutdown -h now`` that really powers the guest off, out of band, for the sync to see."""

from __future__ import annotations

import asyncio
import re

import pytest
from django.core.management import call_command

from compute.consoles import bus, hub
from compute.drivers import fake_console
from compute.drivers.base import Transition
from compute.models import FakeGuest, FakeLifecycleEvent
from compute.states import PowerState, VmState
from compute.sync import sync_host

pytestmark = pytest.mark.django_db


def log_of(instance) -> str:
    return FakeGuest.objects.get(uuid=instance.uuid).console_log


def type_line(agent, instance, line: str) -> str:
    """Type ``line`` and Enter; what the console printed for it."""
    before = len(log_of(instance))
    agent.driver.console_input(str(instance.uuid), line + "\r")
    return log_of(instance)[before:]


def test_a_started_guest_prints_its_boot_log_and_a_login_prompt(make_instance):
    instance = make_instance("active", name="web-1")
    log = log_of(instance)
    assert "Linux version 6.1.0-vmdash-fake" in log
    assert log.endswith("web-1 login: ")


def test_typing_echoes_logs_in_and_uptime_answers_with_the_time_since_boot(agent, make_instance):
    instance = make_instance("active", name="web-1")
    printed = type_line(agent, instance, "root")
    assert printed.startswith("root\r\n")  # the echo, then Enter
    assert printed.endswith("root@web-1:~# ")
    printed = type_line(agent, instance, "uptime")
    assert re.fullmatch(
        r"uptime\r\n \d\d:\d\d:\d\d up 0 min,  1 user,  load average: "
        r"\d+\.\d\d, \d+\.\d\d, \d+\.\d\d\r\nroot@web-1:~# ",
        printed,
    ), printed
    assert type_line(agent, instance, "frobnicate").startswith(
        "frobnicate\r\n-sh: frobnicate: not found\r\n"
    )
    assert FakeGuest.objects.get(uuid=instance.uuid).console_user == "root"


def test_backspace_edits_the_line_and_ctrl_c_abandons_it(agent, make_instance):
    instance = make_instance("active", name="web-1")
    type_line(agent, instance, "root")
    before = len(log_of(instance))
    agent.driver.console_input(str(instance.uuid), "hostnamX\x7fe\r")
    assert log_of(instance)[before:] == "hostnamX\b \be\r\nweb-1\r\nroot@web-1:~# "
    before = len(log_of(instance))
    agent.driver.console_input(str(instance.uuid), "shutdown -h now\x03")
    assert log_of(instance)[before:] == "shutdown -h now^C\r\nroot@web-1:~# "
    assert FakeGuest.objects.get(uuid=instance.uuid).state == PowerState.RUNNING


def test_shutdown_typed_at_the_console_powers_the_guest_off_and_the_sync_stops_the_instance(
    agent, make_instance
):
    instance = make_instance("active", name="web-1")
    type_line(agent, instance, "root")
    printed = type_line(agent, instance, "shutdown -h now")
    assert printed.startswith("shutdown -h now\r\n")
    assert printed.endswith("reboot: Power down\r\n")
    guest = FakeGuest.objects.get(uuid=instance.uuid)
    assert guest.state == PowerState.SHUTDOWN
    assert FakeLifecycleEvent.objects.filter(
        uuid=instance.uuid, transition=Transition.STOPPED
    ).exists()
    # What a stopped guest is typed at goes nowhere.
    assert type_line(agent, instance, "uptime") == ""
    sync_host(host=agent.host, driver=agent.driver)
    agent.run_pending()
    instance.refresh_from_db()
    assert (instance.vm_state, instance.power_state) == (VmState.STOPPED, PowerState.SHUTDOWN)


def test_the_log_is_kept_across_stop_and_start_and_bounded(agent, make_instance, alice_ctx):
    from compute.services import instance_action
    from tests.conftest import fresh

    instance = make_instance("stopped", name="web-1")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="start")
    agent.run_pending()
    log = log_of(instance)
    assert log.count("Linux version") == 2
    assert "reboot: Power down" in log
    # A login is forgotten by the boot.
    assert FakeGuest.objects.get(uuid=instance.uuid).console_user == ""
    for _ in range(300):
        agent.driver.console_input(str(instance.uuid), "x" * 1000 + "\r")
    assert len(log_of(instance)) == fake_console.MAX_LOG


def test_reboot_typed_at_the_console_restarts_the_os_without_a_power_state_change(
    agent, make_instance
):
    instance = make_instance("active", name="web-1")
    type_line(agent, instance, "root")
    printed = type_line(agent, instance, "reboot")
    assert "reboot: Restarting system" in printed
    assert printed.endswith("web-1 login: ")
    assert FakeGuest.objects.get(uuid=instance.uuid).state == PowerState.RUNNING


def test_the_fake_guest_command_types_at_the_console_and_prints_the_log(make_instance, capsys):
    instance = make_instance("active", name="web-1")
    call_command("fake_guest", "web-1", "type", "root")
    call_command("fake_guest", "web-1", "type", "hostname")
    assert capsys.readouterr().out.endswith("hostname\r\nweb-1\r\nroot@web-1:~# \n")
    call_command("fake_guest", "web-1", "log")
    assert "web-1 login: root" in capsys.readouterr().out
    call_command("fake_guest", "web-1", "type", "poweroff")
    assert FakeGuest.objects.get(uuid=instance.uuid).state == PowerState.SHUTDOWN


@pytest.mark.django_db(transaction=True)
def test_output_reaches_this_processs_subscribers_in_order_through_the_hosts_worker(
    agent, make_instance
):
    instance = make_instance("active", name="web-1")
    uuid = str(instance.uuid)
    served = hub.serve(agent.host_name, agent.driver)
    try:

        async def scenario() -> str:
            got: list[str] = []
            arrived = asyncio.Event()

            def receive(text: str) -> None:
                got.append(text)
                if "".join(got).endswith("root@web-1:~# "):
                    arrived.set()

            token = bus.subscribe(uuid, receive)
            try:
                local = hub.local_host(agent.host_name)
                assert local is served
                for char in "root\r":
                    local.type(uuid, char)
                await asyncio.wait_for(arrived.wait(), 10)
            finally:
                bus.unsubscribe(uuid, token)
            return "".join(got)

        assert (
            asyncio.run(scenario())
            == "root\r\nLinux web-1 6.1.0-vmdash-fake x86_64\r\nroot@web-1:~# "
        )
    finally:
        hub.unserve(agent.host_name, served)


def test_the_load_model_is_deterministic_and_bounded():
    samples = [fake_console.cpu_fraction("abc", t) for t in range(0, 7200, 7)]
    assert samples == [fake_console.cpu_fraction("abc", t) for t in range(0, 7200, 7)]
    assert all(0.02 <= s <= 0.95 for s in samples)
    assert max(samples) - min(samples) > 0.1  # it has shape over the hour
