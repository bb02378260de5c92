"""A real guest's consoles through the product: its serial console typed into and read from
over the console socket (the agent's stream down, its console.log tailed up), its console log
through Nova's API, and QEMU's VNC server reached through the VNC socket.

The agent runs in another process than daphne, as on a real deployment, so the consoles travel
through a private Redis.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.guests.conftest import start_site
from tests.guests.site import GuestSite
from tests.support.processes import RedisServer

HOST = "vmdash-console-1"


@pytest.fixture(scope="module")
def site(real_guests: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestSite]:
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    redis = RedisServer(workdir=Path(tmp_path_factory.mktemp("console-redis")))
    try:
        yield from start_site(tmp_path_factory, {HOST: {}}, REDIS_URL=redis.url)
    finally:
        redis.stop()


@pytest.fixture(scope="module")
def guest(site: GuestSite) -> str:
    uuid = site.create("console-1", host=HOST)
    site.wait_status(uuid, "ACTIVE")
    site.wait_boots(uuid, 1)
    return uuid


def session_cookie(site: GuestSite) -> str:
    return (
        site.manage(
            "shell",
            "-c",
            "from django.test import Client\n"
            "from django.contrib.auth.models import User\n"
            "c = Client(); c.force_login(User.objects.get(username='admin'))\n"
            "print('SESSION', c.cookies['sessionid'].value)",
        )
        .split("SESSION ")[1]
        .strip()
    )


def open_console(site: GuestSite, url: str, session: str) -> Any:
    from websockets.sync.client import connect

    parts = urlsplit(url)  # serial: the socket itself; novnc: the page, whose socket is this
    path = "/ws/consoles/vnc/" if parts.path == "/consoles/vnc/" else parts.path
    return connect(
        f"ws://127.0.0.1:{site.port}{path}?{parts.query}",
        additional_headers={"Cookie": f"sessionid={session}", "Origin": site.url},
        subprotocols=["binary"] if "vnc" in parts.path else None,
        open_timeout=10,
        close_timeout=1,
        legacy=True,
    )


def remote_console(site: GuestSite, uuid: str, protocol: str, kind: str) -> str:
    body = {"remote_console": {"protocol": protocol, "type": kind}}
    return str(site.post(f"/v2.1/servers/{uuid}/remote-consoles", body)["remote_console"]["url"])


def test_typing_into_the_serial_console_socket_reads_the_guests_answer(site, guest):
    session = session_cookie(site)
    socket = open_console(site, remote_console(site, guest, "serial", "serial"), session)
    try:
        assert json.loads(socket.recv(timeout=10)) == {"type": "hello", "uuid": guest}
        started = time.monotonic()
        socket.send(json.dumps({"type": "input", "data": "echo vmdash-$((6*7))\n"}))
        printed = ""
        while "vmdash-42\r\n" not in printed:
            left = 20 - (time.monotonic() - started)
            assert left > 0, f"no answer from the guest: {printed!r}"
            frame = json.loads(socket.recv(timeout=left))
            if frame["type"] == "output":
                printed += frame["data"]
        print(f"keystroke → answer through the socket: {time.monotonic() - started:.2f} s")
    finally:
        socket.close()
    output = site.action(guest, {"os-getConsoleOutput": {"length": 3}})["output"]
    assert "vmdash-42" in output and "\r" not in output


def test_the_vnc_socket_reaches_qemus_vnc_server(site, guest):
    socket = open_console(site, remote_console(site, guest, "vnc", "novnc"), session_cookie(site))
    try:
        assert socket.recv(timeout=10)[:12] == b"RFB 003.008\n"
    finally:
        socket.close()


def test_a_real_guests_diagnostics_come_from_libvirt(site, guest):
    """Nova's 2.48 diagnostics of a booted QEMU guest, read from libvirt's domain stats: it
    has used CPU time and read its disk while booting."""
    body = site.get(f"/v2.1/servers/{guest}/diagnostics")
    assert (body["driver"], body["state"]) == ("libvirt", "running")
    assert body["num_cpus"] == len(body["cpu_details"]) >= 1
    assert body["cpu_details"][0]["time"] > 0
    assert body["memory_details"]["maximum"] > 0
    assert body["num_disks"] == len(body["disk_details"]) >= 1
    assert sum(d["read_bytes"] for d in body["disk_details"]) > 0
    assert body["num_nics"] == len(body["nic_details"])
