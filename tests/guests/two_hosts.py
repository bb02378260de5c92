"""Two libvirt hosts on this one machine, for the tests that move guests between hosts
(``test_guest_migration.py``, ``test_guest_drain.py``).

The second host is a second libvirtd: a session daemon run as the ``libvirt-qemu`` user (root's
``qemu:///session`` is the system daemon again), with its own socket, state directories,
virtlogd and host UUID (``host_uuid`` in its libvirtd.conf; libvirt refuses to migrate to a
host with the source's UUID). Its agent reaches it at ``qemu+unix:///session?socket=…``, and
the source's agent finds it through ``LIBVIRT_PEERS``. ``second_libvirtd`` (in conftest.py)
starts it once per module; ``two_host_site`` starts the product with an agent on each.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def run_second_libvirtd() -> Iterator[str]:
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


def two_host_site(tmp_path_factory: pytest.TempPathFactory, **env: str) -> Iterator[GuestSite]:
    """The product with an agent on each libvirtd, each finding the other through
    ``LIBVIRT_PEERS``; ``env`` goes to every process."""
    from tests.guests.conftest import start_site

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
        **env,
    )


URIS = {SOURCE: URI, DEST: DEST_URI}
PATHS = {SOURCE: INSTANCES_PATH, DEST: DEST_INSTANCES}


def other(host: str) -> str:
    return DEST if host == SOURCE else SOURCE


def host_of(site: GuestSite, uuid: str) -> str:
    return str(site.server(uuid)["OS-EXT-SRV-ATTR:host"])
