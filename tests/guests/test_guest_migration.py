"""Live migration between two libvirt hosts on this one machine.

The second host is a second libvirtd: a session daemon run as the ``libvirt-qemu`` user (root's
``qemu:///session`` is the system daemon again), with its own socket, state directories,
virtlogd and host UUID (``host_uuid`` in its libvirtd.conf; libvirt refuses to migrate to a
host with the source's UUID). Its agent reaches it at ``qemu+unix:///session?socket=…``, and
the source's agent finds it through ``LIBVIRT_PEERS``. The guest's disk is copied (block
migration) into the second host's own pool; its memory moves while it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guests.conftest import start_site
from tests.guests.site import INSTANCES_PATH, URI, GuestSite, virsh

SOURCE = "vmdash-mig-1"
DEST = "vmdash-mig-2"
#: The second daemon's XDG directories, owned by its user. Short: QEMU's UNIX socket paths
#: (the guest-agent channel's) under them must fit in 107 bytes.
DEST_HOME = Path("/run/vmdash-lv2")
#: The second host's instances path (its disk pool and console logs), owned by that user too.
DEST_INSTANCES = f"{INSTANCES_PATH}/host-2"
DEST_URI = f"qemu+unix:///session?socket={DEST_HOME}/runtime/libvirt/libvirt-sock"
DEST_HOST_UUID = "2b1f0f6e-2c1d-4d7e-9a55-6d7d6f8f0222"
DAEMON_USER = "libvirt-qemu"


@pytest.fixture(scope="module")
def second_libvirtd(real_guests: None) -> Iterator[str]:
    """A second libvirtd with its own socket and host UUID; stopped (and its guests with it)
    at the end."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("a second libvirtd needs root (to run it as another user) and runuser")
    try:
        import pwd

        user = pwd.getpwnam(DAEMON_USER)
    except KeyError:
        pytest.skip(f"no {DAEMON_USER} user (bash .ci/setup: install_libvirt_daemon)")
    for top in (DEST_HOME, Path(DEST_INSTANCES)):
        shutil.rmtree(top, ignore_errors=True)
    for sub in ("config/libvirt", "runtime", "cache", "data", "home"):
        (DEST_HOME / sub).mkdir(parents=True, exist_ok=True)
    Path(DEST_INSTANCES).mkdir(parents=True)
    (DEST_HOME / "config/libvirt/libvirtd.conf").write_text(f'host_uuid = "{DEST_HOST_UUID}"\n')
    (DEST_HOME / "runtime").chmod(0o700)
    for path in [DEST_HOME, *DEST_HOME.rglob("*"), Path(DEST_INSTANCES)]:
        os.chown(path, user.pw_uid, user.pw_gid)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(DEST_HOME / "home"),
        **{f"XDG_{k.upper()}_HOME": str(DEST_HOME / k) for k in ("config", "cache", "data")},
        "XDG_RUNTIME_DIR": str(DEST_HOME / "runtime"),
    }
    log = open(DEST_HOME / "libvirtd.log", "w")  # noqa: SIM115
    daemon = subprocess.Popen(
        ["runuser", "-u", DAEMON_USER, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
         "libvirtd"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while DEST_HOST_UUID not in virsh("capabilities", check=False, uri=DEST_URI):
            if daemon.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the second libvirtd did not start: see {DEST_HOME}/libvirtd.log")
            time.sleep(0.5)
        yield DEST_URI
    finally:
        for name in virsh("list", "--all", "--name", check=False, uri=DEST_URI).split():
            virsh("destroy", name, check=False, uri=DEST_URI)
            virsh("undefine", name, "--managed-save", check=False, uri=DEST_URI)
        # The virtlogd the session daemon started runs in a session of its own: by its pid file.
        virtlogd = DEST_HOME / "runtime/libvirt/virtlogd.pid"
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(virtlogd.read_text().strip()), signal.SIGTERM)
        log.close()
        for top in (DEST_HOME, Path(DEST_INSTANCES)):
            shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def site(second_libvirtd: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestSite]:
    peers = {DEST: {"uri": DEST_URI, "instances_path": DEST_INSTANCES}}
    yield from start_site(
        tmp_path_factory,
        {
            SOURCE: {"LIBVIRT_PEERS": json.dumps(peers)},
            DEST: {"LIBVIRT_INSTANCES_PATH": DEST_INSTANCES},
        },
        uris={DEST: DEST_URI},
    )


def send_to_console(uuid: str, line: str, *, uri: str = URI) -> None:
    """Type a line at the guest's serial shell, without reading (what the guest prints is in
    its console log; a reader thread beside a blocking send can deadlock libvirt's client)."""
    import libvirt

    conn = libvirt.open(uri)
    try:
        stream = conn.newStream(0)
        conn.lookupByUUIDString(uuid).openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        stream.send((line + "\n").encode())
        time.sleep(0.5)  # closing at once may drop the keystrokes
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
    finally:
        conn.close()


TICK = re.compile(r"^tick-(\d+\.\d+)", re.M)


def ticks(site: GuestSite, uuid: str, instances_path: str) -> list[float]:
    """The guest kernel's uptime at each tick its ticker printed on the console."""
    return [float(t) for t in TICK.findall(site.console_log(uuid, instances_path=instances_path))]


def test_live_migration_moves_the_running_guest_and_its_disk_to_the_other_libvirtd(site):
    uuid = site.create("g-live", host=SOURCE)
    site.wait_status(uuid, "ACTIVE")
    site.wait_boots(uuid, 1)
    # A ticker in the guest prints its kernel's uptime on the console every second.
    send_to_console(uuid, "(while :; do echo tick-$(cut -d' ' -f1 /proc/uptime); sleep 1; done) &")
    site.wait(
        lambda: len(ticks(site, uuid, INSTANCES_PATH)) >= 2, timeout=20, what="the guest to tick"
    )
    last_here = ticks(site, uuid, INSTANCES_PATH)[-1]  # the source's log goes with its host
    started = time.monotonic()
    site.action(uuid, {"os-migrateLive": {"host": DEST, "block_migration": "auto"}})
    site.wait(
        lambda: site.server(uuid)["OS-EXT-SRV-ATTR:host"] == DEST,
        timeout=120,
        what="the server to be on the second host",
    )
    site.wait_status(uuid, "ACTIVE")
    took = time.monotonic() - started
    print(f"\nlive migration to the second libvirtd: {took:.1f} s")
    assert site.domain_state(uuid, uri=DEST_URI) == "running"
    assert site.domain_state(uuid) == "absent"  # undefined on the source
    assert site.disks(uuid) == []  # the source's disk is gone …
    (disk,) = site.disks(uuid, instances_path=DEST_INSTANCES)  # … and the copy is there
    assert disk.stat().st_uid != 0  # made by the second daemon's user
    # The same guest kept running: its ticker goes on in the destination's console log, its
    # kernel's uptime carrying on from before the move, and it never booted there.
    site.wait(
        lambda: len(ticks(site, uuid, DEST_INSTANCES)) >= 2,
        timeout=20,
        what="the guest to tick on the second host",
    )
    there = ticks(site, uuid, DEST_INSTANCES)
    print(f"guest uptime: {last_here:.1f} s before the move, {there[0]:.1f} s after")
    assert there[0] > last_here
    assert " booted (uuid " not in site.console_log(uuid, instances_path=DEST_INSTANCES)
    site.action(uuid, {"forceDelete": None})
    site.wait_gone(uuid)
    assert site.domain_state(uuid, uri=DEST_URI) == "absent"
    assert site.disks(uuid, instances_path=DEST_INSTANCES) == []
