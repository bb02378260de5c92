"""Draining a libvirt host with real guests: the plan, the durable drain job moving a running
guest to the other host by live migration, a cancel during a real live migration, and
"Evacuate all" from a forced-down host (the guest rebuilt on the other host from its image,
the old copy destroyed when the host's agent comes back).

Two libvirtds on this machine (``tests.guests.two_hosts``). The drain job is carried on by the
web process's watchdog, as in production; the tests speak only HTTP to the product and check
the hypervisors with ``virsh``. The figures of the migration record are read from the
database the product writes (a shell of ``manage.py``), as nothing in the API shows a finished
migration's memory figures (Nova's ``/servers/{id}/migrations`` lists only running ones).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.guests.site import GuestSite, virsh
from tests.guests.two_hosts import DEST, PATHS, SOURCE, URIS, host_of, two_host_site

#: libvirt's migration bandwidth cap for the cancelled move, MiB/s: the guest's ≈ 30 MiB of
#: used memory then take tens of seconds to copy, where unbounded they take ≈ 3 s.
SLOW_MIB_S = 1
#: Copied before the cancel: seconds of copying at that speed, so the migration is surely
#: running (not starting or ending) when it is aborted.
COPIED = 3 << 20
#: What ``virsh migrate-setspeed`` restores (libvirt's "unlimited" for QEMU).
UNLIMITED_MIB_S = 8796093022207


@pytest.fixture(scope="module")
def site(second_libvirtd: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestSite]:
    yield from two_host_site(tmp_path_factory)


def set_service(site: GuestSite, host: str, **changes: Any) -> None:
    """Nova's ``PUT /os-services/{id}`` (2.53): ``status``, ``forced_down``."""
    services = site.get("/v2.1/os-services")["services"]
    (service,) = [s for s in services if s["host"] == host]
    site.request("PUT", f"/v2.1/os-services/{service['id']}", changes)


def set_enabled(site: GuestSite, host: str) -> None:
    """Enable ``host`` (a drain leaves it disabled until an admin does)."""
    set_service(site, host, status="enabled")


def others_left(site: GuestSite, host: str, uuid: str) -> dict[str, str]:
    """ "leave" for every other server on ``host`` (earlier tests' guests)."""
    servers = site.get(f"/v2.1/servers?all_tenants=1&host={host}")["servers"]
    return {s["id"]: "leave" for s in servers if s["id"] != uuid}


def drain_start(site: GuestSite, host: str, choices: dict[str, str]) -> dict[str, Any]:
    body = {"drain": {"choices": choices}}
    return dict(site.post(f"/v2.1/vmdash/hosts/{host}/drains", body)["drain"])


def drain(site: GuestSite, job: int) -> dict[str, Any]:
    return dict(site.get(f"/v2.1/vmdash/drains/{job}")["drain"])


def step_of(site: GuestSite, job: int, uuid: str) -> dict[str, Any]:
    (step,) = [s for s in drain(site, job)["steps"] if s["server_id"] == uuid]
    return dict(step)


def migration_rows(site: GuestSite, uuid: str) -> list[dict[str, Any]]:
    """The instance's migration records as the database holds them, oldest first."""
    out = site.manage(
        "shell",
        "-c",
        "import json\n"
        "from compute.models import Migration\n"
        "print(json.dumps(list(Migration.objects.filter("
        f"instance__uuid={uuid!r}).order_by('id').values("
        "'status', 'migration_type', 'source_compute', 'dest_compute', 'memory_total', "
        "'memory_processed', 'memory_remaining', 'disk_total', 'disk_processed'))))",
    )
    return list(json.loads(out.strip().splitlines()[-1]))


def instance_row(site: GuestSite, uuid: str) -> dict[str, Any]:
    server = site.server(uuid)
    return {
        "host": server["OS-EXT-SRV-ATTR:host"],
        "status": server["status"],
        "vm_state": server["OS-EXT-STS:vm_state"],
        "task_state": server["OS-EXT-STS:task_state"],
    }


def drain_ended(site: GuestSite, job: int, what: str) -> Any:
    """Wait until the job is no longer running; what ``site.wait`` returns."""
    return site.wait(lambda: drain(site, job)["state"] != "running", timeout=120, what=what)


def active_on(host: str) -> dict[str, Any]:
    """An instance row settled on ``host``: ACTIVE, no task."""
    return {"host": host, "status": "ACTIVE", "vm_state": "active", "task_state": None}


def booted(site: GuestSite, name: str, *, prompt: bool = False) -> str:
    """A guest on the source, ACTIVE; with ``prompt``, booted to its shell prompt (its memory
    in use, not only zeros)."""
    uuid = site.create(name, host=SOURCE)
    site.wait_status(uuid, "ACTIVE")
    if prompt:
        site.wait(
            lambda: f"root@{name}:/#" in site.console_log(uuid),
            timeout=120,
            what="the guest's shell prompt",
        )
    return uuid


def test_the_drain_plans_a_live_migration_and_its_job_moves_the_running_guest(site):
    set_enabled(site, SOURCE)
    uuid = booted(site, "g-drain")
    domid = virsh("domid", uuid, uri=URIS[SOURCE]).strip()
    plan = site.get(f"/v2.1/vmdash/hosts/{SOURCE}/drain-plan")["drain_plan"]
    (row,) = [r for r in plan["instances"] if r["id"] == uuid]
    assert (row["verdict"], row["default"], row["destination"]) == (
        "live-migrate",
        "live-migrate",
        DEST,
    )
    started = time.monotonic()
    job = drain_start(site, SOURCE, {})
    took = drain_ended(site, job["id"], "the drain to end")
    print(f"\ndrain of {SOURCE} (one live migration): {time.monotonic() - started:.1f} s")
    done = drain(site, job["id"])
    assert done["state"] == "done", done
    assert step_of(site, job["id"], uuid)["state"] == "done"
    # The database says it is on the other host, running …
    assert instance_row(site, uuid) == active_on(DEST)
    # … and so do both libvirtds: defined and running there, gone from here.
    assert site.domain_state(uuid, uri=URIS[DEST]) == "running"
    assert site.domain_state(uuid, uri=URIS[SOURCE]) == "absent"
    assert site.disks(uuid, instances_path=PATHS[SOURCE]) == []
    assert len(site.disks(uuid, instances_path=PATHS[DEST])) == 1
    (migration,) = migration_rows(site, uuid)
    print(f"migration record: {migration} ({took:.1f} s)")
    assert migration["status"] == "completed"
    assert migration["migration_type"] == "live-migration"
    assert (migration["source_compute"], migration["dest_compute"]) == (SOURCE, DEST)
    # Real figures from libvirt's job: a 128 MiB guest's memory, all of it copied.
    assert 100 << 20 <= migration["memory_total"] <= 160 << 20
    assert migration["memory_processed"] > 0
    assert migration["memory_remaining"] == 0
    # The maintenance stays: the host is disabled until an admin enables it.
    services = site.get("/v2.1/os-services")["services"]
    assert [s["status"] for s in services if s["host"] == SOURCE] == ["disabled"]
    assert virsh("domid", uuid, uri=URIS[DEST]).strip() != "" and domid != ""


def test_cancelling_the_drain_during_a_real_live_migration_aborts_it_and_the_guest_stays(site):
    set_enabled(site, SOURCE)
    uuid = booted(site, "g-stay", prompt=True)
    domid = virsh("domid", uuid, uri=URIS[SOURCE]).strip()
    virsh("migrate-setspeed", uuid, str(SLOW_MIB_S), uri=URIS[SOURCE])
    try:
        job = drain_start(site, SOURCE, others_left(site, SOURCE, uuid))

        def copying() -> bool:
            migration = step_of(site, job["id"], uuid)["migration"]
            return bool(migration and (migration["memory_processed_bytes"] or 0) >= COPIED)

        site.wait(copying, timeout=90, what="the live migration to copy memory")
        running = step_of(site, job["id"], uuid)
        assert running["state"] == "running"
        assert running["migration"]["status"] == "running"
        progress = running["migration"]["memory_processed_bytes"]
        assert progress < running["migration"]["memory_total_bytes"]
        started = time.monotonic()
        site.post(f"/v2.1/vmdash/drains/{job['id']}/cancel", {})
        site.wait(
            lambda: drain(site, job["id"])["state"] == "cancelled",
            timeout=60,
            what="the drain to be cancelled",
        )
        print(
            f"\ncancel during the live migration ({progress / (1 << 20):.1f} MiB copied): the "
            f"drain cancelled in {time.monotonic() - started:.1f} s"
        )
        site.wait(
            lambda: instance_row(site, uuid)["task_state"] is None,
            timeout=30,
            what="the task to be cleared",
        )
        assert instance_row(site, uuid) == active_on(SOURCE)
        (migration,) = migration_rows(site, uuid)
        assert migration["status"] == "cancelled"
        assert step_of(site, job["id"], uuid)["state"] == "cancelled"
        # libvirt's abortJob: the same QEMU process still runs the guest here; nothing there.
        assert site.domain_state(uuid, uri=URIS[SOURCE]) == "running"
        assert virsh("domid", uuid, uri=URIS[SOURCE]).strip() == domid
        assert site.domain_state(uuid, uri=URIS[DEST]) == "absent"
        assert site.disks(uuid, instances_path=PATHS[DEST]) == []
        assert host_of(site, uuid) == SOURCE
    finally:
        virsh("migrate-setspeed", uuid, str(UNLIMITED_MIB_S), uri=URIS[SOURCE], check=False)


def boots_on(site: GuestSite, uuid: str, host: str) -> int:
    return site.console_log(uuid, instances_path=PATHS[host]).count(" booted (uuid ")


def test_evacuate_all_from_a_forced_down_host_rebuilds_the_guest_on_the_other_host(site):
    set_enabled(site, SOURCE)
    uuid = booted(site, "g-evac")
    set_service(site, SOURCE, forced_down=True)
    try:
        plan = site.get(f"/v2.1/vmdash/hosts/{SOURCE}/drain-plan")["drain_plan"]
        (row,) = [r for r in plan["instances"] if r["id"] == uuid]
        assert (plan["host_status"], row["verdict"], row["default"]) == (
            "DOWN",
            "evacuate",
            "evacuate",
        )
        started = time.monotonic()
        job = drain_start(site, SOURCE, others_left(site, SOURCE, uuid))  # "Evacuate all"
        drain_ended(site, job["id"], "the evacuation to end")
        assert drain(site, job["id"])["state"] == "done"
        took = time.monotonic() - started
        assert instance_row(site, uuid) == active_on(DEST)
        # Rebuilt there from its image: a new disk in that host's pool, a fresh boot.
        assert site.domain_state(uuid, uri=URIS[DEST]) == "running"
        assert len(site.disks(uuid, instances_path=PATHS[DEST])) == 1
        site.wait(
            lambda: boots_on(site, uuid, DEST) == 1, timeout=120, what="the rebuilt guest's boot"
        )
        print(f"\nevacuate all from a forced-down host: {took:.1f} s to ACTIVE, then the boot")
        (migration,) = migration_rows(site, uuid)
        assert (migration["migration_type"], migration["status"]) == ("evacuation", "done")
        assert (migration["source_compute"], migration["dest_compute"]) == (SOURCE, DEST)
        # Down only by the admin's word, the source still runs the old copy …
        assert site.domain_state(uuid, uri=URIS[SOURCE]) == "running"
    finally:
        set_service(site, SOURCE, forced_down=False)
    # … until its agent comes back: Nova's clean-up of evacuated instances destroys it.
    site.restart_agent(SOURCE)
    site.wait(
        lambda: site.domain_state(uuid, uri=URIS[SOURCE]) == "absent",
        timeout=60,
        what="the old copy to be destroyed on the source",
    )
    assert site.disks(uuid, instances_path=PATHS[SOURCE]) == []
    assert migration_rows(site, uuid)[0]["status"] == "completed"
    assert site.domain_state(uuid, uri=URIS[DEST]) == "running"
    assert host_of(site, uuid) == DEST
