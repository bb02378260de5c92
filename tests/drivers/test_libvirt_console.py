"""The libvirt driver's serial console: the log's last 100 KiB, a watched log's growth
published, and what libvirt's test:// hypervisor (no serial device) answers. Typing into a real
guest's console is tests/guests/test_guest_console.py."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from compute.consoles import bus
from compute.drivers import libvirt_console
from compute.exceptions import ConsoleNotAvailable, InstanceNotFoundOnHypervisor

pytestmark = pytest.mark.libvirt

libvirt = pytest.importorskip("libvirt")

from compute.drivers.libvirt import LibvirtDriver  # noqa: E402
from tests.drivers.test_libvirt_driver import make_guest  # noqa: E402


@pytest.fixture
def driver():
    driver = LibvirtDriver(host="node-1", uri="test:///default")
    yield driver
    driver.close()


def test_a_test_hypervisor_guest_has_no_console(driver):
    guest = make_guest()
    driver.spawn(guest)
    with pytest.raises(ConsoleNotAvailable, match=r"^Guest does not have a console available\.$"):
        driver.console_output(guest.uuid)
    with pytest.raises(ConsoleNotAvailable):
        driver.console_input(guest.uuid, "root\r")


def test_the_log_of_a_guest_libvirt_lacks_is_not_found(driver):
    with pytest.raises(InstanceNotFoundOnHypervisor):
        driver.console_output(str(uuid.uuid4()))


def test_the_log_is_its_last_100_kib_and_empty_before_the_guest_printed(tmp_path: Path):
    path = tmp_path / "console.log"
    assert libvirt_console.last_bytes(str(path)) == b""
    path.write_bytes(b"a" * 1000 + b"b" * libvirt_console.MAX_CONSOLE_BYTES)
    assert libvirt_console.last_bytes(str(path)) == b"b" * libvirt_console.MAX_CONSOLE_BYTES


def test_a_watched_log_publishes_what_the_guest_appends_and_only_that(tmp_path: Path):
    path = tmp_path / "console.log"
    path.write_bytes(b"old boot\r\n")
    consoles = libvirt_console.LibvirtConsoles(lambda _uuid: None, lambda _uuid: str(path))
    guest = str(uuid.uuid4())

    async def scenario() -> str:
        got: list[str] = []
        arrived = asyncio.Event()

        def receive(text: str) -> None:
            got.append(text)
            if "".join(got).endswith("login: "):
                arrived.set()

        token = bus.subscribe(guest, receive)
        try:
            consoles.watch(guest)
            await asyncio.sleep(0.2)
            with path.open("ab") as log:
                log.write(b"uptime\r\n up 3 min\r\nvm login: ")
            await asyncio.wait_for(arrived.wait(), 5)
        finally:
            bus.unsubscribe(guest, token)
        return "".join(got)

    assert asyncio.run(scenario()) == "uptime\r\n up 3 min\r\nvm login: "


def test_a_console_stream_on_the_test_hypervisor(driver):
    """libvirt's test:///default has no character devices: a console stream cannot be opened
    there, so typing into a serial console is tested on real guests only
    (tests/guests/test_guest_console.py). Skips with libvirt's own words."""
    guest = make_guest()
    driver.spawn(guest)
    conn = libvirt.open("test:///default")
    try:
        stream = conn.newStream(0)
        try:
            conn.lookupByUUIDString(guest.uuid).openConsole(None, stream, 0)
        except libvirt.libvirtError as exc:
            pytest.skip(f"libvirt's test:///default cannot open a console: {exc}")
        pytest.fail("test:///default opened a console stream: test typing into it here")
    finally:
        conn.close()
