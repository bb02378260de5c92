"""Live and cold migration between two libvirt hosts on this one machine.

The second host is a second libvirtd (``tests.guests.two_hosts``). The guest's disk is copied
(block migration) into the second host's own pool; its memory moves while it runs.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guests.site import GuestSite
from tests.guests.two_hosts import PATHS, SOURCE, URIS, host_of, other, two_host_site


@pytest.fixture(scope="module")
def site(second_libvirtd: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestSite]:
    # The source's kept disk goes soon after a confirm.
    yield from two_host_site(tmp_path_factory, INSTANCE_DELETE_INTERVAL="1")


#: A line of /proc/uptime: the kernel's uptime and idle time.
TICK = re.compile(r"^(\d+\.\d+) \d+\.\d+\s*$", re.M)
#: Short, so the shell's echo of it does not wrap at the serial console's 80 columns.
TICKER = "while :;do cat /proc/uptime;sleep 1;done&"


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
