"""What the libvirt driver writes for a real host (no hypervisor needed: pure XML and settings)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("libvirt")

from compute.drivers.base import GuestSpec
from compute.drivers.libvirt import LibvirtDriver
from compute.drivers.libvirt_xml import domain_xml

UUID = "6f1f7d7e-4a4b-4d0e-9d55-1c1e1a1b0001"
GUEST = GuestSpec(UUID, "web one", 1, 128, 1, "vmdash-guest", "/images/g.qcow2")


def real_domain(**kwargs: object) -> ET.Element:
    xml = domain_xml(
        GUEST,
        virt_type="qemu",
        disk_dir="/pool/disks",
        console_log=f"/pool/{UUID}/console.log",
        **kwargs,  # type: ignore[arg-type]
    )
    return ET.fromstring(xml)


def test_a_real_domain_has_the_configured_type_and_its_disk_in_the_pool():
    domain = real_domain()
    assert domain.get("type") == "qemu"
    assert [d.find("source").get("file") for d in domain.iterfind("devices/disk")] == [
        f"/pool/disks/{UUID}-disk.qcow2"
    ]


def test_a_rescued_domain_boots_the_rescue_overlay_first():
    domain = real_domain(rescue_image="vmdash-guest")
    assert [d.find("source").get("file") for d in domain.iterfind("devices/disk")] == [
        f"/pool/disks/{UUID}-rescue.qcow2",
        f"/pool/disks/{UUID}-disk.qcow2",
    ]


def test_a_real_domain_logs_its_serial_console_and_tells_the_guest_its_name():
    domain = real_domain()
    assert domain.find("devices/serial/log").get("file") == f"/pool/{UUID}/console.log"
    assert domain.find("devices/console/target").get("type") == "serial"
    assert domain.find("os/smbios").get("mode") == "sysinfo"
    assert domain.findtext("sysinfo/oemStrings/entry") == "vmdash-name:web one"


def test_a_real_domain_has_vnc_on_loopback_only_and_a_guest_agent_channel():
    domain = real_domain()
    assert domain.find("devices/graphics/listen").get("address") == "127.0.0.1"
    channel = domain.find("devices/channel/target")
    assert (channel.get("type"), channel.get("name")) == ("virtio", "org.qemu.guest_agent.0")


def test_a_test_domain_has_none_of_the_real_devices():
    domain = ET.fromstring(domain_xml(GUEST, virt_type="test"))
    assert domain.find("devices/serial") is None and domain.find("sysinfo") is None


def test_an_unknown_virt_type_is_refused_when_the_driver_is_made():
    with pytest.raises(ValueError, match="virt_type"):
        LibvirtDriver(host="h", uri="qemu:///system", virt_type="xen")


def test_load_driver_takes_virt_type_and_instances_path_from_the_settings(settings):
    from compute.drivers import load_driver

    settings.COMPUTE = {"libvirt_virt_type": "qemu", "libvirt_instances_path": "/srv/vms"}
    driver = load_driver("libvirt", host="h", uri="qemu:///system")
    assert (driver._configured_virt_type, driver.instances_path) == ("qemu", "/srv/vms")


def test_a_soft_reboot_the_guest_ignores_falls_back_to_a_hard_one(monkeypatch):
    import uuid

    from compute.states import PowerState

    driver = LibvirtDriver(host="h", uri="test:///default")
    guest = GuestSpec(str(uuid.uuid4()), "deaf", 1, 128, 1, "img")
    driver.spawn(guest)
    # The guest never answers the power button within the wait (Nova: wait_soft_reboot_seconds).
    monkeypatch.setattr(LibvirtDriver, "_shut_down", staticmethod(lambda dom, timeout: False))
    hard: list[str] = []
    redefine = driver._redefine
    monkeypatch.setattr(
        driver, "_redefine", lambda g, **kw: (hard.append(g.uuid), redefine(g, **kw))[1]
    )
    try:
        driver.reboot_soft(guest.uuid)
        assert hard == [guest.uuid]
        assert driver.get_power_state(guest.uuid) == PowerState.RUNNING
    finally:
        driver.destroy(guest.uuid)
        driver.close()
