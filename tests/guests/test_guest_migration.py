"""Live and cold migration between two libvirt hosts on this one machine.

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
#: The second daemon's directories made afresh each run (its "cache" is kept).
KEPT_NOT = ("config", "runtime", "data", "home")


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
    # Its cache (QEMU's probed capabilities, seconds to make) is kept from one run to the next.
    for top in [*(DEST_HOME / d for d in KEPT_NOT), Path(DEST_INSTANCES)]:
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
        for top in [*(DEST_HOME / d for d in KEPT_NOT), Path(DEST_INSTANCES)]:
            shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def site(second_libvirtd: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestSite]:
    to_dest = {DEST: {"uri": DEST_URI, "instances_path": DEST_INSTANCES}}
    to_source = {SOURCE: {"uri": URI, "instances_path": INSTANCES_PATH}}
    yield from start_site(
        tmp_path_factory,
        {
            SOURCE: {"LIBVIRT_PEERS": json.dumps(to_dest)},
            DEST: {
                "LIBVIRT_INSTANCES_PATH": DEST_INSTANCES,
                "LIBVIRT_PEERS": json.dumps(to_source),
            },
        },
        uris={DEST: DEST_URI},
        INSTANCE_DELETE_INTERVAL="1",  # the source's kept disk goes soon after a confirm
    )


#: A line of /proc/uptime: the kernel's uptime and idle time.
TICK = re.compile(r"^(\d+\.\d+) \d+\.\d+\s*$", re.M)
#: Short, so the shell's echo of it does not wrap at the serial console's 80 columns.
TICKER = "while :;do cat /proc/uptime;sleep 1;done&"
URIS = {SOURCE: URI, DEST: DEST_URI}
PATHS = {SOURCE: INSTANCES_PATH, DEST: DEST_INSTANCES}


def other(host: str) -> str:
    return DEST if host == SOURCE else SOURCE


def ticks(site: GuestSite, uuid: str, host: str) -> list[float]:
    """The guest kernel's uptime at each tick its ticker printed on the console there."""
    return [float(t) for t in TICK.findall(site.console_log(uuid, instances_path=PATHS[host]))]


def boots(site: GuestSite, uuid: str, host: str) -> int:
    return site.console_log(uuid, instances_path=PATHS[host]).count(" booted (uuid ")


@pytest.fixture(scope="module")
def moving(site: GuestSite) -> str:
    """One guest the tests move back and forth; each starts from wherever it is."""
    uuid = site.create("g-move", host=SOURCE)
    site.wait_status(uuid, "ACTIVE")
    site.wait(
        lambda: "root@g-move:/#" in site.console_log(uuid),
        timeout=120,
        what="the guest's shell prompt",
    )
    return uuid


def host_of(site: GuestSite, uuid: str) -> str:
    return str(site.server(uuid)["OS-EXT-SRV-ATTR:host"])


def test_live_migration_moves_the_running_guest_and_its_disk_to_the_other_libvirtd(site, moving):
    uuid, here = moving, host_of(site, moving)
    there = other(here)
    # A ticker in the guest prints its kernel's uptime on the console every second (typed again
    # if the shell lost the keystrokes).
    deadline = time.monotonic() + 30
    while not ticks(site, uuid, here):
        assert time.monotonic() < deadline, "the guest's ticker never ticked"
        if not ticks(site, uuid, here):
            site.type_into_console(uuid, TICKER, uri=URIS[here], instances_path=PATHS[here])
        time.sleep(1)
    last_here = ticks(site, uuid, here)[-1]  # the source's log goes with its host
    started = time.monotonic()
    site.action(uuid, {"os-migrateLive": {"host": there, "block_migration": "auto"}})
    site.wait(
        lambda: host_of(site, uuid) == there, timeout=120, what="the server on the other host"
    )
    site.wait_status(uuid, "ACTIVE")
    took = time.monotonic() - started
    print(f"\nlive migration {here} → {there}: {took:.1f} s")
    assert site.domain_state(uuid, uri=URIS[there]) == "running"
    assert site.domain_state(uuid, uri=URIS[here]) == "absent"  # undefined on the source
    assert site.disks(uuid, instances_path=PATHS[here]) == []  # the source's disk is gone …
    assert len(site.disks(uuid, instances_path=PATHS[there])) == 1  # … the copy is there
    # The same guest kept running: its ticker goes on in the destination's console log, its
    # kernel's uptime carrying on from before the move, and it never booted there.
    site.wait(lambda: ticks(site, uuid, there), timeout=20, what="ticks on the other host")
    after = ticks(site, uuid, there)[0]
    print(f"guest uptime: {last_here:.1f} s before the move, {after:.1f} s after")
    assert after > last_here
    assert boots(site, uuid, there) == 0


def test_cold_migration_copies_the_disk_and_revert_boots_the_kept_one_on_its_host(site, moving):
    uuid, here = moving, host_of(site, moving)
    there = other(here)
    (disk,) = site.disks(uuid, instances_path=PATHS[here])
    os.setxattr(disk, "user.vmdash-test", b"the source's disk")
    booted_here = boots(site, uuid, here)
    started = time.monotonic()
    site.action(uuid, {"migrate": {"host": there}})
    site.wait_status(uuid, "VERIFY_RESIZE", timeout=120)
    print(f"\ncold migration {here} → {there}: {time.monotonic() - started:.1f} s")
    assert host_of(site, uuid) == there
    assert site.domain_state(uuid, uri=URIS[there]) == "running"
    assert site.domain_state(uuid, uri=URIS[here]) == "absent"  # undefined on the source …
    assert site.disks(uuid, instances_path=PATHS[here]) == [disk]  # … its disk kept
    (copy,) = site.disks(uuid, instances_path=PATHS[there])
    assert "user.vmdash-test" not in os.listxattr(copy)  # a copy, not the file
    site.action(uuid, {"revertResize": None})
    site.wait_status(uuid, "ACTIVE", timeout=120)
    assert host_of(site, uuid) == here
    assert site.domain_state(uuid, uri=URIS[here]) == "running"
    assert site.domain_state(uuid, uri=URIS[there]) == "absent"
    assert site.disks(uuid, instances_path=PATHS[there]) == []
    (kept,) = site.disks(uuid, instances_path=PATHS[here])
    assert os.getxattr(kept, "user.vmdash-test") == b"the source's disk"
    site.wait(lambda: boots(site, uuid, here) > booted_here, timeout=120, what="a boot back home")


def test_cold_migration_confirmed_leaves_the_guest_on_the_other_host(site, moving):
    uuid, here = moving, host_of(site, moving)
    there = other(here)
    site.action(uuid, {"migrate": {"host": there}})
    site.wait_status(uuid, "VERIFY_RESIZE", timeout=120)
    assert len(site.disks(uuid, instances_path=PATHS[here])) == 1  # kept for a revert
    site.action(uuid, {"confirmResize": None})
    site.wait_status(uuid, "ACTIVE")
    assert host_of(site, uuid) == there
    assert site.domain_state(uuid, uri=URIS[there]) == "running"
    assert site.domain_state(uuid, uri=URIS[here]) == "absent"
    took = site.wait(
        lambda: site.disks(uuid, instances_path=PATHS[here]) == [],
        timeout=30,
        what="the source's disk to be removed after the confirm",
    )
    print(f"\nthe source's disk removed {took:.1f} s after the confirm")
    assert not Path(PATHS[here], uuid).exists()
    site.action(uuid, {"forceDelete": None})
    site.wait_gone(uuid)
    assert site.domain_state(uuid, uri=URIS[there]) == "absent"
    assert site.disks(uuid, instances_path=PATHS[there]) == []
