"""The libvirt driver's watch over a live migration (``_migrate_watched``), with stand-ins for
libvirt's domain and destination connection: libvirt's test hypervisor cannot migrate, and the
real-guest suite (tests/guests/test_guest_drain.py) runs the same code against QEMU."""

from __future__ import annotations

import threading

import libvirt
import pytest

from compute.drivers import libvirt as driver_module
from compute.exceptions import MigrationAborted

RUNNING = {"type": 2, "memory_total": 100, "memory_processed": 40, "memory_remaining": 60}
DONE = {"type": 3, "memory_total": 100, "memory_processed": 120, "memory_remaining": 0}


class Domain:
    """A source domain whose ``migrate3`` runs until it is let go or its job aborted."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.aborted = False

    def UUIDString(self) -> str:
        return "11111111-2222-3333-4444-555555555555"

    def migrate3(self, dconn: object, params: object, flags: int) -> None:
        while not self.release.wait(0.01):
            if self.aborted:
                raise libvirt.libvirtError(
                    "operation aborted: migration out job: canceled by client"
                )

    def jobStats(self, flags: int = 0) -> dict[str, int]:
        return dict(RUNNING)

    def abortJob(self) -> None:
        self.aborted = True


class Destination:
    """The destination's connection, where the moved domain keeps the completed job's figures."""

    class Moved:
        def jobStats(self, flags: int = 0) -> dict[str, int]:
            assert flags == libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED
            return dict(DONE)

        def info(self) -> list[int]:
            return [libvirt.VIR_DOMAIN_RUNNING]

    def lookupByUUIDString(self, uuid: str) -> Destination.Moved:
        return Destination.Moved()


class Monitor:
    def __init__(self, wanted: str = "") -> None:
        self.reports: list[dict[str, int]] = []
        self.wanted = wanted

    def report(self, figures: dict[str, int]) -> None:
        self.reports.append(dict(figures))

    def requested(self) -> str:
        return self.wanted if self.reports else ""


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(driver_module, "MIGRATION_POLL", 0.02)


def test_a_completed_migration_ends_with_the_completed_jobs_figures():
    dom, monitor = Domain(), Monitor()
    threading.Timer(0.2, dom.release.set).start()
    aborted = driver_module._migrate_watched(dom, Destination(), {}, 0, monitor)
    assert aborted is False
    assert monitor.reports[0] == {k: v for k, v in RUNNING.items() if k != "type"}
    assert monitor.reports[-1] == {k: v for k, v in DONE.items() if k != "type"}


def test_an_abort_asked_while_it_runs_is_libvirts_abort_job_and_raised_as_aborted():
    dom, monitor = Domain(), Monitor("abort")
    with pytest.raises(libvirt.libvirtError) as raised:
        driver_module._migrate_watched(dom, Destination(), {}, 0, monitor)
    assert dom.aborted
    assert isinstance(raised.value.__cause__, MigrationAborted)
    # An aborted job's figures stay those it had: no completed figures are reported.
    assert all(report["memory_remaining"] == 60 for report in monitor.reports)
