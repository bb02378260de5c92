"""The libvirt driver against libvirt's in-process ``test://`` hypervisor; no database.

``test:///default`` is one hypervisor shared by every connection in the process (and reset when
the last one closes), so each test works on guests with fresh uuids and reads them back through
its own connection. The node file
``tests/fixtures/libvirt-node.xml`` gives every connection a private copy of 50 preloaded guests.
"""

from __future__ import annotations

import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from compute.drivers.base import GuestSpec, LifecycleEvent, Transition
from compute.exceptions import DriverError, InstanceNotFoundOnHypervisor
from compute.states import PowerState

pytestmark = pytest.mark.libvirt

libvirt = pytest.importorskip("libvirt")

from compute.drivers.libvirt import LibvirtDriver, lifecycle_transition  # noqa: E402

HOST = "node-1"
NODE_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "libvirt-node.xml"
TEST_NS = "{http://libvirt.org/schemas/domain/test/1.0}"
META = "{https://vmdash.invalid/xmlns/libvirt/instance/1.0}"
#: §9 of nova-states.md, written out independently of the driver's own table.
NOVA_POWER_STATE_OF_LIBVIRT_STATE = {0: 0, 1: 1, 2: 1, 3: 3, 4: 4, 5: 4, 6: 6, 7: 7}


def make_guest(*, vcpus: int = 1, memory_mb: int = 512, image: str = "cirros-0.6") -> GuestSpec:
    guest_uuid = str(uuid.uuid4())
    return GuestSpec(
        uuid=guest_uuid,
        name=f"vm-{guest_uuid[:8]}",
        vcpus=vcpus,
        memory_mb=memory_mb,
        disk_gb=10,
        image=image,
    )


def resized(guest: GuestSpec, *, vcpus: int, memory_mb: int) -> GuestSpec:
    return GuestSpec(guest.uuid, guest.name, vcpus, memory_mb, guest.disk_gb, guest.image)


@pytest.fixture
def driver():
    driver = LibvirtDriver(host=HOST, uri="test:///default")
    yield driver
    driver.close()


@pytest.fixture
def hypervisor():
    """A second connection to the same test hypervisor, to see what the driver did."""
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


@pytest.fixture
def running(driver):
    guest = make_guest()
    driver.spawn(guest)
    return guest


def domain_tree(conn, guest_uuid: str) -> ET.Element:
    dom = conn.lookupByUUIDString(guest_uuid)
    return ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def disks(conn, guest_uuid: str) -> list[tuple[str, str]]:
    return [
        (disk.find("target").get("dev"), disk.find("source").get("file"))
        for disk in domain_tree(conn, guest_uuid).iterfind("devices/disk")
    ]


# --- spawn and the domain it defines ---------------------------------------------------------
def test_driver_reports_the_test_hypervisor_type(driver):
    assert driver.hypervisor_type == "test"


def test_driver_for_a_qemu_uri_reports_qemu_without_connecting():
    assert LibvirtDriver(host=HOST, uri="qemu:///system").hypervisor_type == "QEMU"


def test_driver_reopens_its_connection_after_close(driver, hypervisor, running):
    # ``hypervisor`` keeps test:///default alive: it forgets its guests when the last
    # connection to it closes.
    driver.close()
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_spawned_guest_reports_running(driver, running):
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_spawned_domain_is_named_and_identified_by_the_instance_uuid(driver, hypervisor, running):
    dom = hypervisor.lookupByName(running.uuid)
    assert dom.UUIDString() == running.uuid
    tree = domain_tree(hypervisor, running.uuid)
    assert tree.findtext("vcpu") == "1"
    assert int(tree.findtext("memory")) == 512 * 1024
    assert disks(hypervisor, running.uuid) == [
        ("vda", f"/var/lib/libvirt/vmdash/disks/{running.uuid}-disk.qcow2")
    ]


def test_spawn_without_power_on_leaves_guest_shut_down(driver):
    guest = make_guest()
    driver.spawn(guest, power_on=False)
    assert driver.get_power_state(guest.uuid) == PowerState.SHUTDOWN


def test_spawn_of_existing_guest_replaces_it(driver, hypervisor, running):
    driver.spawn(resized(running, vcpus=2, memory_mb=1024))
    assert domain_tree(hypervisor, running.uuid).findtext("vcpu") == "2"
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


# --- power -----------------------------------------------------------------------------------
def test_power_off_of_running_guest_reports_shutdown(driver, running):
    driver.power_off(running.uuid, timeout=5)
    assert driver.get_power_state(running.uuid) == PowerState.SHUTDOWN


def test_power_off_of_paused_guest_pulls_the_plug(driver, running):
    driver.pause(running.uuid)
    driver.power_off(running.uuid, timeout=5)
    assert driver.get_power_state(running.uuid) == PowerState.SHUTDOWN


def test_power_off_of_shut_down_guest_is_harmless(driver, running):
    driver.power_off(running.uuid, timeout=0)
    driver.power_off(running.uuid, timeout=0)
    assert driver.get_power_state(running.uuid) == PowerState.SHUTDOWN


def test_power_on_of_shut_down_guest_reports_running(driver, running):
    driver.power_off(running.uuid, timeout=5)
    driver.power_on(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_power_on_of_running_guest_leaves_it_running(driver, running):
    driver.power_on(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


# --- pause and suspend -----------------------------------------------------------------------
def test_pause_of_running_guest_reports_paused(driver, running):
    driver.pause(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.PAUSED


def test_unpause_of_paused_guest_reports_running(driver, running):
    driver.pause(running.uuid)
    driver.unpause(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_suspend_saves_memory_and_reports_shutdown(driver, hypervisor, running):
    driver.suspend(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.SHUTDOWN
    assert hypervisor.lookupByUUIDString(running.uuid).hasManagedSaveImage(0)


def test_resume_of_suspended_guest_restores_it_running(driver, hypervisor, running):
    driver.suspend(running.uuid)
    driver.resume(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING
    assert not hypervisor.lookupByUUIDString(running.uuid).hasManagedSaveImage(0)


def test_resume_of_guest_suspended_while_paused_runs_it(driver, running):
    driver.pause(running.uuid)
    driver.suspend(running.uuid)
    driver.resume(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_pause_of_shut_down_guest_raises_driver_error(driver, running):
    driver.power_off(running.uuid, timeout=0)
    with pytest.raises(DriverError, match="could not pause"):
        driver.pause(running.uuid)


# --- reboot ----------------------------------------------------------------------------------
def test_soft_reboot_of_running_guest_keeps_it_running(driver, running):
    driver.reboot_soft(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_soft_reboot_of_shut_down_guest_raises_driver_error(driver, running):
    driver.power_off(running.uuid, timeout=0)
    with pytest.raises(DriverError, match="not running"):
        driver.reboot_soft(running.uuid)


def test_hard_reboot_of_running_guest_keeps_it_running(driver, running):
    driver.reboot_hard(running)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_hard_reboot_of_shut_down_guest_starts_it(driver, running):
    driver.power_off(running.uuid, timeout=0)
    driver.reboot_hard(running)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_hard_reboot_recreates_a_guest_the_hypervisor_lost(driver):
    guest = make_guest()
    driver.reboot_hard(guest)
    assert driver.get_power_state(guest.uuid) == PowerState.RUNNING


def test_hard_reboot_of_suspended_guest_discards_its_saved_memory(driver, hypervisor, running):
    driver.suspend(running.uuid)
    driver.reboot_hard(running)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING
    assert not hypervisor.lookupByUUIDString(running.uuid).hasManagedSaveImage(0)


# --- rescue and rebuild ----------------------------------------------------------------------
def test_rescue_boots_from_the_rescue_disk_with_the_own_disk_second(driver, hypervisor, running):
    driver.rescue(running.uuid, image="rescue-img")
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING
    assert disks(hypervisor, running.uuid) == [
        ("vda", f"/var/lib/libvirt/vmdash/disks/{running.uuid}-rescue.qcow2"),
        ("vdb", f"/var/lib/libvirt/vmdash/disks/{running.uuid}-disk.qcow2"),
    ]


def test_unrescue_boots_from_the_own_disk_again(driver, hypervisor, running):
    driver.rescue(running.uuid, image="rescue-img")
    driver.unrescue(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING
    assert disks(hypervisor, running.uuid) == [
        ("vda", f"/var/lib/libvirt/vmdash/disks/{running.uuid}-disk.qcow2")
    ]


def test_rescue_keeps_the_flavor(driver, hypervisor):
    guest = make_guest(vcpus=3, memory_mb=768)
    driver.spawn(guest)
    driver.rescue(guest.uuid, image="rescue-img")
    driver.unrescue(guest.uuid)
    tree = domain_tree(hypervisor, guest.uuid)
    assert (tree.findtext("vcpu"), int(tree.findtext("memory"))) == ("3", 768 * 1024)


def test_rescue_of_domain_not_defined_by_the_driver_raises_driver_error(driver, hypervisor):
    foreign = str(uuid.uuid4())
    hypervisor.defineXML(
        f"<domain type='test'><name>{foreign}</name><uuid>{foreign}</uuid>"
        "<memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>"
    )
    with pytest.raises(DriverError, match="no vmdash metadata"):
        driver.rescue(foreign, image="rescue-img")


def test_rebuild_switches_the_guest_to_the_new_image_and_runs(driver, hypervisor, running):
    driver.power_off(running.uuid, timeout=0)
    rebuilt = GuestSpec(running.uuid, running.name, 1, 512, 10, "debian-12")
    driver.rebuild(rebuilt)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING
    assert disks(hypervisor, running.uuid) == [
        ("vda", f"/var/lib/libvirt/vmdash/disks/{running.uuid}-disk.qcow2")
    ]
    # The new image is remembered: a later rescue/unrescue keeps it.
    driver.rescue(running.uuid, image="rescue-img")
    driver.unrescue(running.uuid)
    assert (
        domain_tree(hypervisor, running.uuid).findtext(f"metadata/{META}instance/{META}image")
        == "debian-12"
    )


# --- moving ----------------------------------------------------------------------------------
def test_same_host_resize_changes_vcpus_and_memory(driver, hypervisor, running):
    bigger = resized(running, vcpus=4, memory_mb=2048)
    driver.migrate_disk_and_power_off(bigger, dest_host=HOST)
    assert driver.get_power_state(running.uuid) == PowerState.SHUTDOWN
    driver.finish_migration(bigger, dest_host=HOST, power_on=True)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING
    dom = hypervisor.lookupByUUIDString(running.uuid)
    _state, max_kib, _mem, vcpus, _cpu_time = dom.info()
    assert (vcpus, max_kib) == (4, 2048 * 1024)


def test_same_host_resize_finished_without_power_on_stays_shut_down(driver, running):
    bigger = resized(running, vcpus=2, memory_mb=1024)
    driver.migrate_disk_and_power_off(bigger, dest_host=HOST)
    driver.finish_migration(bigger, dest_host=HOST, power_on=False)
    assert driver.get_power_state(running.uuid) == PowerState.SHUTDOWN


def test_revert_of_same_host_resize_restores_the_old_flavor(driver, hypervisor, running):
    bigger = resized(running, vcpus=4, memory_mb=2048)
    driver.migrate_disk_and_power_off(bigger, dest_host=HOST)
    driver.finish_migration(bigger, dest_host=HOST, power_on=True)
    driver.finish_revert_migration(running, source_host=HOST, power_on=True)
    tree = domain_tree(hypervisor, running.uuid)
    assert (tree.findtext("vcpu"), int(tree.findtext("memory"))) == ("1", 512 * 1024)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


@pytest.mark.parametrize(
    "move",
    [
        lambda d, g: d.migrate_disk_and_power_off(g, dest_host="node-2"),
        lambda d, g: d.finish_migration(g, dest_host="node-2", power_on=True),
        lambda d, g: d.finish_revert_migration(g, source_host="node-2", power_on=True),
        lambda d, g: d.live_migrate(g.uuid, dest_host="node-2"),
    ],
    ids=["migrate_disk_and_power_off", "finish_migration", "finish_revert", "live_migrate"],
)
def test_move_to_another_host_raises_driver_error_and_leaves_guest_alone(driver, running, move):
    with pytest.raises(DriverError, match="single host 'node-1'"):
        move(driver, running)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_live_migration_to_the_own_host_raises_driver_error(driver, running):
    with pytest.raises(DriverError, match="its own host"):
        driver.live_migrate(running.uuid, dest_host=HOST)


# --- destroy and unknown guests --------------------------------------------------------------
def test_destroy_removes_the_guest_and_is_idempotent(driver, hypervisor, running):
    driver.destroy(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.NOSTATE
    with pytest.raises(libvirt.libvirtError):
        hypervisor.lookupByUUIDString(running.uuid)
    driver.destroy(running.uuid)


def test_destroy_of_suspended_guest_removes_it_with_its_saved_memory(driver, running):
    driver.suspend(running.uuid)
    driver.destroy(running.uuid)
    assert running.uuid not in driver.list_power_states()


def test_power_state_of_unknown_uuid_is_nostate(driver):
    assert driver.get_power_state(str(uuid.uuid4())) == PowerState.NOSTATE == 0


def test_power_state_of_a_name_that_is_no_uuid_is_nostate(driver):
    assert driver.get_power_state("test") == PowerState.NOSTATE


@pytest.mark.parametrize(
    "call",
    [
        lambda d, u: d.power_off(u, timeout=0),
        lambda d, u: d.power_on(u),
        lambda d, u: d.reboot_soft(u),
        lambda d, u: d.pause(u),
        lambda d, u: d.unpause(u),
        lambda d, u: d.suspend(u),
        lambda d, u: d.resume(u),
        lambda d, u: d.rescue(u, image="rescue-img"),
        lambda d, u: d.unrescue(u),
        lambda d, u: d.live_migrate(u, dest_host="node-2"),
        lambda d, u: d.snapshot(u, image_name="snap"),
        lambda d, u: d.upload_image(u, image_name="snap"),
        lambda d, u: d.set_admin_password(u, password="s3cret"),
        lambda d, u: d.trigger_crash_dump(u),
    ],
)
def test_operation_on_unknown_guest_raises_instance_not_found(driver, call):
    with pytest.raises(InstanceNotFoundOnHypervisor):
        call(driver, str(uuid.uuid4()))


def test_missing_domain_lookup_prints_no_libvirt_error_to_stderr(driver, capfd):
    missing = str(uuid.uuid4())
    assert driver.get_power_state(missing) == PowerState.NOSTATE
    with pytest.raises(InstanceNotFoundOnHypervisor):
        driver.pause(missing)
    out, err = capfd.readouterr()
    assert "libvirt" not in err
    assert err == out == ""


# --- images and guest agents -----------------------------------------------------------------
def test_snapshot_records_a_libvirt_snapshot_named_after_the_image(driver, hypervisor, running):
    driver.snapshot(running.uuid, image_name="nightly backup")
    driver.snapshot(running.uuid, image_name="nightly backup")
    driver.upload_image(running.uuid, image_name="nightly backup")
    names = hypervisor.lookupByUUIDString(running.uuid).snapshotListNames()
    assert len(names) == 2
    assert all(name.startswith("nightly_backup-") for name in names)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_set_admin_password_of_running_guest_succeeds(driver, running):
    driver.set_admin_password(running.uuid, password="s3cret")


def test_set_admin_password_of_shut_down_guest_explains_the_guest_agent(driver, running):
    driver.power_off(running.uuid, timeout=0)
    with pytest.raises(DriverError, match="QEMU guest agent"):
        driver.set_admin_password(running.uuid, password="s3cret")


def test_crash_dump_of_running_guest_injects_an_nmi(driver, running):
    driver.trigger_crash_dump(running.uuid)
    assert driver.get_power_state(running.uuid) == PowerState.RUNNING


def test_crash_dump_of_shut_down_guest_raises_driver_error(driver, running):
    driver.power_off(running.uuid, timeout=0)
    with pytest.raises(DriverError, match="NMI"):
        driver.trigger_crash_dump(running.uuid)


# --- the whole host --------------------------------------------------------------------------
def expected_node_states() -> dict[str, int]:
    root = ET.parse(NODE_FILE).getroot()
    return {
        dom.findtext("name"): NOVA_POWER_STATE_OF_LIBVIRT_STATE[
            int(dom.findtext(f"{TEST_NS}runstate"))
        ]
        for dom in root.iterfind("domain")
        if dom.findtext("uuid")
    }


@pytest.fixture
def node_driver():
    driver = LibvirtDriver(host=HOST, uri=f"test://{NODE_FILE}")
    yield driver
    driver.close()


def test_list_power_states_over_the_node_file_returns_all_50_guests_mapped_as_nova(node_driver):
    expected = expected_node_states()
    assert len(expected) == 50
    assert set(expected.values()) == {0, 1, 3, 4, 6, 7}  # the fixture covers every state
    assert node_driver.list_power_states() == expected


def test_list_power_states_skips_domains_whose_names_are_not_uuids(node_driver):
    states = node_driver.list_power_states()
    assert "legacy-web" not in states
    assert "router" not in states


def test_node_file_guests_follow_operations(node_driver):
    first_running = next(u for u, s in expected_node_states().items() if s == PowerState.RUNNING)
    node_driver.pause(first_running)
    assert node_driver.list_power_states()[first_running] == PowerState.PAUSED


def test_spawned_guest_appears_in_list_power_states(driver, running):
    assert driver.list_power_states()[running.uuid] == PowerState.RUNNING


# --- lifecycle events ------------------------------------------------------------------------
class Recorder:
    """Collects one guest's events, from libvirt's event thread."""

    def __init__(self, guest_uuid: str, *, until: Transition) -> None:
        self.guest_uuid = guest_uuid
        self.until = until
        self.events: list[LifecycleEvent] = []
        self.done = threading.Event()

    def __call__(self, event: LifecycleEvent) -> None:
        if event.uuid != self.guest_uuid:
            return
        self.events.append(event)
        if event.transition == self.until:
            self.done.set()


def test_lifecycle_events_arrive_for_start_pause_resume_and_stop(driver):
    guest = make_guest()
    recorder = Recorder(guest.uuid, until=Transition.STOPPED)
    driver.start_events(recorder)
    before = time.monotonic()
    driver.spawn(guest)
    driver.pause(guest.uuid)
    driver.unpause(guest.uuid)
    driver.power_off(guest.uuid, timeout=5)
    assert recorder.done.wait(timeout=5)
    assert [e.transition for e in recorder.events] == [
        Transition.STARTED,
        Transition.PAUSED,
        Transition.RESUMED,
        Transition.STOPPED,
    ]
    assert all(before <= e.emitted_at <= time.monotonic() for e in recorder.events)


def test_stop_events_ends_delivery(driver):
    guest = make_guest()
    recorder = Recorder(guest.uuid, until=Transition.STARTED)
    driver.start_events(recorder)
    driver.spawn(guest)
    assert recorder.done.wait(timeout=5)
    driver.stop_events()
    driver.pause(guest.uuid)
    # A marker from a second driver proves libvirt has dispatched the pause by now.
    marker = Recorder(guest.uuid, until=Transition.RESUMED)
    other = LibvirtDriver(host=HOST, uri="test:///default")
    other.start_events(marker)
    other.unpause(guest.uuid)
    assert marker.done.wait(timeout=5)
    other.close()
    assert [e.transition for e in recorder.events] == [Transition.STARTED]


def test_closing_a_driver_right_after_an_event_keeps_events_flowing_for_others():
    # libvirt loses its event timer if the last callback goes away mid-dispatch while an
    # event is queued; close() avoids that. Each round closes right after being woken.
    for _ in range(20):
        guest = make_guest()
        driver = LibvirtDriver(host=HOST, uri="test:///default")
        recorder = Recorder(guest.uuid, until=Transition.STARTED)
        driver.start_events(recorder)
        driver.spawn(guest)
        assert recorder.done.wait(timeout=5)
        driver.close()


class StubDomain:
    """Just enough of ``virDomain`` for the migration check of ``lifecycle_transition``."""

    def __init__(self, job_type: int | None) -> None:
        self.job_type = job_type

    def jobStats(self, flags: int) -> dict[str, int]:
        if self.job_type is None:
            raise libvirt.libvirtError("this function is not supported")
        return {"type": self.job_type}


@pytest.mark.parametrize(
    ("event", "detail", "job_type", "expected"),
    [
        ("STOPPED", "STOPPED_SHUTDOWN", None, Transition.STOPPED),
        ("STOPPED", "STOPPED_SAVED", None, Transition.STOPPED),
        ("STARTED", "STARTED_BOOTED", None, Transition.STARTED),
        ("SUSPENDED", "SUSPENDED_PAUSED", None, Transition.PAUSED),
        ("SUSPENDED", "SUSPENDED_IOERROR", None, Transition.PAUSED),
        ("SUSPENDED", "SUSPENDED_POSTCOPY", None, Transition.POSTCOPY_STARTED),
        ("SUSPENDED", "SUSPENDED_MIGRATED", "JOB_COMPLETED", Transition.MIGRATION_COMPLETED),
        ("SUSPENDED", "SUSPENDED_MIGRATED", "JOB_FAILED", Transition.PAUSED),
        ("SUSPENDED", "SUSPENDED_MIGRATED", None, Transition.PAUSED),
        ("RESUMED", "RESUMED_UNPAUSED", None, Transition.RESUMED),
        ("DEFINED", "DEFINED_ADDED", None, None),
        ("UNDEFINED", "UNDEFINED_REMOVED", None, None),
        ("PMSUSPENDED", "PMSUSPENDED_MEMORY", None, None),
        ("CRASHED", "CRASHED_PANICKED", None, None),
        ("SHUTDOWN", "SHUTDOWN_FINISHED", None, None),
    ],
)
def test_libvirt_event_maps_to_novas_transition(event, detail, job_type, expected):
    dom = StubDomain(None if job_type is None else getattr(libvirt, f"VIR_DOMAIN_{job_type}"))
    transition = lifecycle_transition(
        getattr(libvirt, f"VIR_DOMAIN_EVENT_{event}"),
        getattr(libvirt, f"VIR_DOMAIN_EVENT_{detail}"),
        dom,
    )
    assert transition == expected
