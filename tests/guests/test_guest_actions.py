"""Every server action on real QEMU guests, through the API, checked on the hypervisor.

A boot costs one core for several seconds under TCG, so a few guests are booted together at the
start of the module and shared: each test leaves its guest ACTIVE, and ``guest(name)`` replaces
one that an earlier failure left otherwise, so every test also runs alone (``-k``). "A new boot"
is one more banner line in the guest's console log (``vmdash-guest: <name> booted …``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.guests.conftest import start_site
from tests.guests.site import INSTANCES_PATH, ApiError, GuestSite, virsh

HOST = "vmdash-guests-1"
#: The shared guests, booted side by side before the first test runs.
GUESTS = ("g-one", "g-two", "g-three")


@pytest.fixture(scope="module")
def site(real_guests: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestSite]:
    # Shelve keeps the guest (offloading is its own action here; offload at once, Nova's
    # default, is the same driver call inside shelve) and delete is soft (restorable for an
    # hour; forceDelete is the hard delete, the same driver call as delete without reclaim).
    yield from start_site(
        tmp_path_factory,
        {HOST: {}},
        SHELVED_OFFLOAD_TIME="-1",
        RECLAIM_INSTANCE_INTERVAL="3600",
    )


@pytest.fixture(scope="module")
def booted(site: GuestSite) -> dict[str, str]:
    """name → uuid of the shared guests, ACTIVE and past their banner."""
    started = time.monotonic()
    made = {name: site.create(name) for name in GUESTS}
    for uuid in made.values():
        site.wait_status(uuid, "ACTIVE", timeout=120)
    active = time.monotonic() - started
    for uuid in made.values():
        site.wait_boots(uuid, 1, timeout=180)
    print(
        f"\n{len(made)} guests: all ACTIVE after {active:.1f} s, "
        f"all banners after {time.monotonic() - started:.1f} s"
    )
    return made


@pytest.fixture
def guest(site: GuestSite, booted: dict[str, str]) -> Callable[[str], str]:
    """The uuid of a shared guest, ACTIVE; one an earlier failure left otherwise is replaced."""

    def get(name: str) -> str:
        uuid = booted[name]
        try:
            healthy = site.server(uuid)["status"] == "ACTIVE" and site.boots(uuid) > 0
        except ApiError:
            healthy = False
        if not healthy:
            with contextlib.suppress(ApiError):
                site.action(uuid, {"forceDelete": None})
            uuid = booted[name] = site.create(name)
            site.wait_status(uuid, "ACTIVE")
            site.wait_boots(uuid, 1)
        return uuid

    return get


def qemu_img_info(path: Path) -> str:
    return subprocess.run(
        ["qemu-img", "info", "-U", str(path)], capture_output=True, text=True, check=True
    ).stdout


def test_a_created_server_is_active_and_its_guest_prints_its_name_on_the_console(site, guest):
    uuid = guest("g-one")
    assert site.server(uuid)["status"] == "ACTIVE"
    assert site.domain_state(uuid) == "running"
    assert f"vmdash-guest: g-one booted (uuid {uuid}" in site.console_log(uuid)
    assert "root@g-one:/#" in site.console_log(uuid)  # a shell on the serial console


def test_a_guest_disk_is_an_overlay_on_its_image_sized_to_the_flavor(site, guest):
    uuid = guest("g-one")
    disk = site.disks(uuid)[0]
    info = qemu_img_info(disk)
    assert "file format: qcow2" in info
    assert "virtual size: 1 GiB" in info
    assert f"backing file: {INSTANCES_PATH}/disks/base-" in info


def test_a_guest_has_vnc_on_loopback_and_a_guest_agent_channel(site, guest):
    uuid = guest("g-one")
    assert virsh("domdisplay", uuid).startswith("vnc://127.0.0.1:")
    xml = virsh("dumpxml", uuid)
    assert "org.qemu.guest_agent.0" in xml
    assert f"{INSTANCES_PATH}/{uuid}/console.log" in xml


def test_change_password_without_a_guest_agent_fails_visibly_and_leaves_it_active(site, guest):
    uuid = guest("g-one")
    site.action(uuid, {"changePassword": {"adminPass": "s3cret"}})
    actions = site.get(f"/v2.1/servers/{uuid}/os-instance-actions")["instanceActions"]
    request_id = next(a["request_id"] for a in actions if a["action"] == "changePassword")

    def failed() -> bool:
        action = site.get(f"/v2.1/servers/{uuid}/os-instance-actions/{request_id}")
        events = action["instanceAction"]["events"]
        return bool(events) and events[0]["result"] == "Error"

    site.wait(failed, timeout=30, what="the changePassword event to fail")
    action = site.get(f"/v2.1/servers/{uuid}/os-instance-actions/{request_id}")
    event = action["instanceAction"]["events"][0]
    assert "guest agent" in (event.get("details") or event.get("traceback") or "").lower()
    site.wait_status(uuid, "ACTIVE")


def test_stop_shuts_the_guest_down_and_start_boots_it_again(site, guest):
    uuid = guest("g-one")
    boots, downs = site.boots(uuid), site.console_log(uuid).count("going down")
    site.action(uuid, {"os-stop": None})
    site.wait_status(uuid, "SHUTOFF", timeout=90)
    assert site.domain_state(uuid) == "shut off"
    assert site.console_log(uuid).count("going down") > downs  # a clean (ACPI) shutdown
    site.action(uuid, {"os-start": None})
    site.wait_status(uuid, "ACTIVE")
    site.wait_boots(uuid, boots + 1)


def test_soft_and_hard_reboots_each_boot_the_guest_anew(site, guest):
    uuid = guest("g-one")
    boots, downs = site.boots(uuid), site.console_log(uuid).count("going down")
    site.action(uuid, {"reboot": {"type": "SOFT"}})
    site.wait_status(uuid, "ACTIVE", timeout=150)
    site.wait_boots(uuid, boots + 1)
    downs_after_soft = site.console_log(uuid).count("going down")
    assert downs_after_soft > downs  # the guest was asked, not cut off
    site.action(uuid, {"reboot": {"type": "HARD"}})
    site.wait_status(uuid, "ACTIVE")
    site.wait_boots(uuid, boots + 2)
    assert site.console_log(uuid).count("going down") == downs_after_soft  # cut off


def test_pause_freezes_and_suspend_saves_the_guest_without_a_reboot(site, guest):
    uuid = guest("g-one")
    boots = site.boots(uuid)
    site.action(uuid, {"pause": None})
    site.wait_status(uuid, "PAUSED")
    assert site.domain_state(uuid) == "paused"
    site.action(uuid, {"unpause": None})
    site.wait_status(uuid, "ACTIVE")
    assert site.domain_state(uuid) == "running"
    site.action(uuid, {"suspend": None})
    site.wait_status(uuid, "SUSPENDED")
    assert site.domain_state(uuid) == "shut off"
    assert "yes" in virsh("dominfo", uuid).split("Managed save:")[1].splitlines()[0]
    site.action(uuid, {"resume": None})
    site.wait_status(uuid, "ACTIVE")
    assert site.domain_state(uuid) == "running"
    assert site.boots(uuid) == boots  # memory restored, never rebooted


def test_rescue_boots_a_rescue_disk_and_unrescue_removes_it(site, guest):
    uuid = guest("g-two")
    boots = site.boots(uuid)
    site.action(uuid, {"rescue": None})
    site.wait_status(uuid, "RESCUE")
    assert [d.name for d in site.disks(uuid)] == [f"{uuid}-disk.qcow2", f"{uuid}-rescue.qcow2"]
    site.wait_boots(uuid, boots + 1)
    site.action(uuid, {"unrescue": None})
    site.wait_status(uuid, "ACTIVE")
    assert [d.name for d in site.disks(uuid)] == [f"{uuid}-disk.qcow2"]
    site.wait_boots(uuid, boots + 2)


def test_resize_gives_the_guest_the_new_memory_and_a_bigger_disk(site, guest):
    uuid = guest("g-two")
    boots = site.boots(uuid)
    site.action(uuid, {"resize": {"flavorRef": site.flavors["guest.256"]}})
    site.wait_status(uuid, "VERIFY_RESIZE", timeout=120)
    site.wait_boots(uuid, boots + 1)
    banners = [line for line in site.console_log(uuid).splitlines() if "booted" in line]
    kib = [int(line.split("memory ")[1].split()[0]) for line in banners]
    assert kib[-1] > kib[0] + 100_000  # 256 MiB against 128 MiB, less what the kernel keeps
    assert "virtual size: 2 GiB" in qemu_img_info(site.disks(uuid)[0])
    site.action(uuid, {"confirmResize": None})
    site.wait_status(uuid, "ACTIVE")
    assert site.server(uuid)["flavor"]["original_name"] == "guest.256"


def test_resize_reverted_gives_the_guest_its_old_memory_back(site, guest):
    uuid = guest("g-two")
    before = site.server(uuid)["flavor"]["original_name"]
    other = "guest.256" if before == "guest.128" else "guest.128"
    boots = site.boots(uuid)
    site.action(uuid, {"resize": {"flavorRef": site.flavors[other]}})
    site.wait_status(uuid, "VERIFY_RESIZE", timeout=120)
    site.wait_boots(uuid, boots + 1)  # reverting sooner would cut this boot short
    site.action(uuid, {"revertResize": None})
    site.wait_status(uuid, "ACTIVE", timeout=120)
    site.wait_boots(uuid, boots + 2)
    banners = [line for line in site.console_log(uuid).splitlines() if "booted" in line]
    kib = [int(line.split("memory ")[1].split()[0]) for line in banners]
    assert kib[-1] == kib[-3] != kib[-2]  # before, during, after
    assert site.server(uuid)["flavor"]["original_name"] == before


def test_a_crash_dump_request_reaches_the_guest_kernel_as_an_nmi(site, guest):
    uuid = guest("g-one")
    site.action(uuid, {"trigger_crash_dump": None})
    site.wait(
        lambda: "NMI" in site.console_log(uuid),
        timeout=30,
        what="the guest kernel to report the NMI",
    )
    site.wait_status(uuid, "ACTIVE")


def test_backups_are_image_files_rotated_per_backup_type(site, guest):
    uuid = guest("g-one")
    made = []
    for n in (1, 2):
        body = {"createBackup": {"name": f"g-one-daily-{n}", "backup_type": "daily", "rotation": 1}}
        image_id = site.action(uuid, body)["image_id"]
        site.wait(
            lambda i=image_id: site.get(f"/image/v2/images/{i}")["status"] == "active",
            timeout=60,
            what="the backup image to be active",
        )
        site.wait_status(uuid, "ACTIVE")
        made.append(image_id)
    first, second = (site.workdir / "images" / f"{i}.qcow2" for i in made)
    assert "file format: qcow2" in qemu_img_info(second)
    # rotation 1: the first daily backup was deleted with its file once the second was up
    with pytest.raises(ApiError) as gone:
        site.get(f"/image/v2/images/{made[0]}")
    assert gone.value.status == 404 and not first.exists()
    names = [i["name"] for i in site.get("/image/v2/images")["images"]]
    assert [n for n in names if n.startswith("g-one-daily-")] == ["g-one-daily-2"]


def test_a_snapshot_is_an_image_file_that_boots_a_new_server(site, guest):
    uuid = guest("g-one")
    boots = site.boots(uuid)
    image_id = site.action(uuid, {"createImage": {"name": "g-snap-image"}})["image_id"]
    site.wait(
        lambda: site.get(f"/image/v2/images/{image_id}")["status"] == "active",
        timeout=60,
        what="the snapshot image to be active",
    )
    shown = site.get(f"/image/v2/images/{image_id}")  # the Glance sliver shows the file's facts
    assert shown["size"] > 1_000_000 and shown["disk_format"] == "qcow2"
    assert len(shown["checksum"]) == 32 and len(shown["os_hash_value"]) == 128
    info = qemu_img_info(site.workdir / "images" / f"{image_id}.qcow2")
    assert "file format: qcow2" in info and "backing file" not in info  # standalone
    site.wait_status(uuid, "ACTIVE")
    assert site.domain_state(uuid) == "running" and site.boots(uuid) == boots  # no reboot
    child = site.create("g-snap-child", image=image_id)
    site.wait_status(child, "ACTIVE")
    site.wait_boots(child, 1)
    assert "vmdash-guest: g-snap-child booted" in site.console_log(child)


def test_shelve_without_offload_powers_the_guest_off_and_unshelve_powers_it_on(site, guest):
    uuid = guest("g-three")
    (disk,) = site.disks(uuid)
    os.setxattr(disk, "user.vmdash-test", b"kept while shelved")
    boots, downs = site.boots(uuid), site.console_log(uuid).count("going down")
    site.action(uuid, {"shelve": None})
    site.wait_status(uuid, "SHELVED", timeout=120)
    assert site.domain_state(uuid) == "shut off"  # kept on its host, powered off
    assert site.console_log(uuid).count("going down") > downs  # asked (ACPI), not cut off
    assert site.disks(uuid) == [disk]
    site.action(uuid, {"unshelve": None})
    site.wait_status(uuid, "ACTIVE")
    site.wait_boots(uuid, boots + 1)  # the same console log: the same domain, powered on
    assert site.domain_state(uuid) == "running"
    assert os.getxattr(site.disks(uuid)[0], "user.vmdash-test") == b"kept while shelved"


def test_shelve_offload_frees_the_host_and_unshelve_boots_it_from_the_shelved_image(site, guest):
    uuid = guest("g-three")
    site.action(uuid, {"shelve": None})
    site.wait_status(uuid, "SHELVED", timeout=120)
    site.action(uuid, {"shelveOffload": None})
    site.wait_status(uuid, "SHELVED_OFFLOADED", timeout=120)
    assert site.domain_state(uuid) == "absent"
    assert site.disks(uuid) == []
    site.action(uuid, {"unshelve": None})
    site.wait_status(uuid, "ACTIVE")
    site.wait_boots(uuid, 1)  # a new console log: the host made a new instance directory
    assert site.domain_state(uuid) == "running"
    images = site.get("/image/v2/images")["images"]
    assert not [i for i in images if i["name"] == "g-three-shelved"]  # deleted once unshelved


def test_rebuild_recreates_the_disk_and_boots_it(site, guest):
    uuid = guest("g-two")
    (disk,) = site.disks(uuid)
    os.setxattr(disk, "user.vmdash-test", b"the old disk")
    boots = site.boots(uuid)
    site.action(uuid, {"rebuild": {"imageRef": site.server(uuid)["image"]["id"]}})
    site.wait_status(uuid, "ACTIVE", timeout=90)
    site.wait_boots(uuid, boots + 1)
    (disk,) = site.disks(uuid)
    assert "user.vmdash-test" not in os.listxattr(disk)  # a new file


def test_lock_and_unlock_leave_the_guest_untouched(site, guest):
    uuid = guest("g-one")
    domain_id, boots = virsh("domid", uuid), site.boots(uuid)
    site.action(uuid, {"lock": {"locked_reason": "guest test"}})
    site.wait(lambda: site.server(uuid)["locked"], timeout=30, what="the server to be locked")
    assert site.server(uuid)["locked_reason"] == "guest test"
    site.action(uuid, {"unlock": None})
    site.wait(lambda: not site.server(uuid)["locked"], timeout=30, what="it to be unlocked")
    site.wait_status(uuid, "ACTIVE")
    time.sleep(1)  # anything sent to the guest would have reached it by now
    assert site.domain_state(uuid) == "running"
    assert (virsh("domid", uuid), site.boots(uuid)) == (domain_id, boots)  # same QEMU, no boot


def test_reset_state_changes_the_record_and_leaves_the_guest_running(site, guest):
    uuid = guest("g-one")
    domain_id, boots = virsh("domid", uuid), site.boots(uuid)
    site.action(uuid, {"os-resetState": {"state": "error"}})
    site.wait_status(uuid, "ERROR", timeout=30)
    time.sleep(1)
    assert site.domain_state(uuid) == "running"
    site.action(uuid, {"os-resetState": {"state": "active"}})
    site.wait_status(uuid, "ACTIVE", timeout=30)
    assert site.domain_state(uuid) == "running"
    assert (virsh("domid", uuid), site.boots(uuid)) == (domain_id, boots)  # same QEMU, no boot


def test_soft_delete_powers_the_guest_off_and_restore_brings_it_back(site, guest):
    uuid = guest("g-three")
    (disk,) = site.disks(uuid)
    downs = site.console_log(uuid).count("going down")
    site.request("DELETE", f"/v2.1/servers/{uuid}")  # soft: RECLAIM_INSTANCE_INTERVAL > 0
    site.wait_status(uuid, "SOFT_DELETED", timeout=120)
    assert site.domain_state(uuid) == "shut off"
    assert site.console_log(uuid).count("going down") > downs  # a clean (ACPI) shutdown
    assert site.disks(uuid) == [disk]
    site.action(uuid, {"restore": None})
    site.wait_status(uuid, "ACTIVE")
    assert site.domain_state(uuid) == "running"  # powered on again (its boot is not awaited)
    assert site.disks(uuid) == [disk]


def test_force_delete_leaves_no_domain_no_disk_and_no_console_log(site, guest):
    uuid = guest("g-three")
    site.action(uuid, {"forceDelete": None})
    site.wait_gone(uuid)
    assert site.domain_state(uuid) == "absent"
    assert site.disks(uuid) == []
    assert not Path(INSTANCES_PATH, uuid).exists()


def test_a_server_from_an_image_without_a_file_fails_with_the_reason(site):
    cirros = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0001"  # seeded catalogue entry: no bytes
    uuid = site.create("g-no-file", image=cirros)
    site.wait_status(uuid, "ERROR", timeout=60)
    fault = site.server(uuid)["fault"]
    assert "has no file" in fault["message"]
    assert site.domain_state(uuid) == "absent"  # nothing left behind on the host
    site.request("DELETE", f"/v2.1/servers/{uuid}")  # an ordinary delete removes it
    site.wait_gone(uuid, timeout=30)
