"""``python -m bench.guests [--sizes 1,5,10] [--out FILE]``: real QEMU guests, product vs libvirt.

For N guests started at once on one host (``qemu:///system``, ``LIBVIRT_VIRT_TYPE=qemu`` unless
set): create → ACTIVE and create → boot banner, through the API of a live dashboard with a
libvirt agent (the product), against the floor — the same guests started directly through
libvirt in this process (an overlay volume on the same base, the same domain XML, ``create()``;
ACTIVE is ``create()`` returning, the banner the same console-log line). Then guest poweroff →
SHUTOFF: ``poweroff -f`` typed at a guest's console until an open page's badge says SHUTOFF
(lifecycle events, STOPPED held 0 s here; Nova holds it 15 s), against the floor of libvirt's
own STOPPED event for the same keystroke.

Times are the slowest guest of each batch (the batch is done when its last guest is). Boots
are CPU-bound under TCG: N guests on two cores take about N/2 times one boot, product and floor
alike. The site is ``tests/guests/site.py``'s, on its own SQLite database.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid as uuidlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import Result, machine, table  # noqa: E402
from tests.guests.site import (  # noqa: E402
    GUEST_IMAGE,
    INSTANCES_PATH,
    URI,
    GuestSite,
    libvirt_available,
    virsh,
)

HOST = "vmdash-bench-1"
TARGET = "≤ 1.5× floor + 1 s"


def _within(figure: float, floor: float) -> bool:
    return figure <= 1.5 * floor + 1.0


# --- the product ---------------------------------------------------------------------------
def product_batch(site: GuestSite, n: int) -> tuple[float, float, list[str]]:
    started = time.monotonic()
    made = [site.create(f"bench-{n}-{i}") for i in range(n)]
    for uuid in made:
        site.wait_status(uuid, "ACTIVE", timeout=300)
    active = time.monotonic() - started
    for uuid in made:
        site.wait_boots(uuid, 1, timeout=600)
    return active, time.monotonic() - started, made


def delete_all(site: GuestSite, uuids: list[str]) -> None:
    for uuid in uuids:
        site.request("DELETE", f"/v2.1/servers/{uuid}")
    for uuid in uuids:
        site.wait(lambda u=uuid: site.domain_state(u) == "absent", timeout=120, what="delete")


# --- the floor: the same guests, straight through libvirt ----------------------------------
class Floor:
    def __init__(self) -> None:
        import libvirt

        from compute.drivers.base import GuestSpec
        from compute.drivers.libvirt_storage import DiskPool, ImageFile
        from compute.drivers.libvirt_xml import domain_xml, volume_name

        self.libvirt = libvirt
        libvirt.registerErrorHandler(lambda _c, _e: None, None)
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=self._loop, daemon=True).start()
        self.conn = libvirt.open(URI)
        self.pool = DiskPool(INSTANCES_PATH)
        self.GuestSpec, self.ImageFile = GuestSpec, ImageFile
        self.domain_xml, self.volume_name = domain_xml, volume_name

    def _loop(self) -> None:
        while True:
            self.libvirt.virEventRunDefaultImpl()

    def batch(self, n: int, image_file: str) -> tuple[float, float, list[str]]:
        uuids = [str(uuidlib.uuid4()) for _ in range(n)]
        started = time.monotonic()
        for u in uuids:
            guest = self.GuestSpec(u, f"floor-{u[:8]}", 1, 128, 1, "vmdash-guest", image_file)
            self.pool.create_overlay(
                self.conn, self.volume_name(u), self.ImageFile(image_file), size_gb=1
            )
            log_dir = Path(INSTANCES_PATH) / u
            log_dir.mkdir(parents=True, exist_ok=True)
            xml = self.domain_xml(
                guest,
                virt_type=os.environ.get("LIBVIRT_VIRT_TYPE", "qemu"),
                disk_dir=str(self.pool.path),
                console_log=str(log_dir / "console.log"),
            )
            self.conn.defineXML(xml).create()
        active = time.monotonic() - started
        for u in uuids:
            log = Path(INSTANCES_PATH) / u / "console.log"
            while " booted (uuid " not in (log.read_text(errors="replace") if log.exists() else ""):
                time.sleep(0.1)
        return active, time.monotonic() - started, uuids

    def stopped_after_poweroff(self, site: GuestSite, uuid: str) -> float:
        stopped = threading.Event()
        dom = self.conn.lookupByUUIDString(uuid)

        def on_event(_c: object, d: object, event: int, _detail: int, _o: object) -> None:
            if event == self.libvirt.VIR_DOMAIN_EVENT_STOPPED:
                stopped.set()

        callback = self.conn.domainEventRegisterAny(
            dom, self.libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event, None
        )
        try:
            typed = time.monotonic()
            site.type_into_console(uuid, "poweroff -f")
            stopped.wait(60)
            return time.monotonic() - typed
        finally:
            self.conn.domainEventDeregisterAny(callback)

    def remove(self, uuids: list[str]) -> None:
        import shutil

        for u in uuids:
            virsh("destroy", u, check=False)
            virsh("undefine", u, check=False)
            self.pool.delete(self.conn, self.volume_name(u))
            shutil.rmtree(Path(INSTANCES_PATH) / u, ignore_errors=True)


# --- poweroff → SHUTOFF on a page ----------------------------------------------------------
def page_shutoff_after_poweroff(site: GuestSite, uuid: str) -> float:
    with site.instances_page() as page:
        return site.poweroff_until_page_says_shutoff(page, uuid)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.guests", description=__doc__)
    parser.add_argument("--sizes", default="1,5,10", help="Guests started at once, per batch.")
    parser.add_argument("--out", type=Path, help="Also write the table (Markdown) here.")
    args = parser.parse_args(argv)
    why = libvirt_available()
    if why:
        print(f"bench.guests: not run: {why}")
        return 0
    os.environ.setdefault("LIBVIRT_VIRT_TYPE", "qemu")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()
    workdir = Path(tempfile.mkdtemp(prefix="vmdash-bench-guests-"))
    site = GuestSite(workdir, hosts={HOST: {}}, env_extra={"LIFECYCLE_STOPPED_DELAY": "0"})
    results: list[Result] = []
    began, load = time.monotonic(), os.getloadavg()[0]
    floor = Floor()
    try:
        site.start()
        image_file = str(workdir / "images" / f"{GUEST_IMAGE}.qcow2")
        for n in (int(s) for s in args.sizes.split(",")):
            print(f"bench.guests: {n} guest(s) through the product …", flush=True)
            active, banner, made = product_batch(site, n)
            print(f"bench.guests: {n} guest(s) through libvirt …", flush=True)
            f_active, f_banner, floor_made = floor.batch(n, image_file)
            floor.remove(floor_made)
            results += [
                Result(
                    "guests",
                    f"{n} at once: create → ACTIVE",
                    active,
                    f_active,
                    "s",
                    "—",
                    None,
                    note="" if n > 1 else "floor: libvirt create() returning",
                ),
                Result(
                    "guests",
                    f"{n} at once: create → banner",
                    banner,
                    f_banner,
                    "s",
                    TARGET,
                    _within(banner, f_banner),
                ),
            ]
            if n == 1:
                print("bench.guests: poweroff → SHUTOFF …", flush=True)
                on_page = page_shutoff_after_poweroff(site, made[0])
                site.request("POST", f"/v2.1/servers/{made[0]}/action", {"os-start": None})
                site.wait_status(made[0], "ACTIVE")
                site.wait_boots(made[0], 2)
                floor_event = floor.stopped_after_poweroff(site, made[0])
                results.append(
                    Result(
                        "guests",
                        "poweroff -f → SHUTOFF on a page",
                        on_page,
                        floor_event,
                        "s",
                        TARGET,
                        _within(on_page, floor_event),
                        note="floor: libvirt's STOPPED event; STOPPED held 0 s (Nova: 15 s)",
                    )
                )
            delete_all(site, made)
    finally:
        site.stop()
    header = (
        f"vmdash real-guest benchmark ({time.monotonic() - began:.0f} s)\n"
        f"Machine: {machine()}\nLoad average at start {load:.2f}, at end "
        f"{os.getloadavg()[0]:.2f}\nCommand: python -m bench.guests --sizes {args.sizes}\n"
        f"Logs: {workdir}\n"
    )
    print()
    print(header)
    print(table(results))
    if args.out:
        args.out.write_text(header + "\n" + table(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
