"""Domain XML for the libvirt driver: writing a guest's domain and reading it back.

Everything needed to rebuild a domain lives in the domain itself, in a ``<metadata>`` element
(name, image, disk size and, while rescued, the rescue image); disk paths follow from the uuid.
Pure XML: no libvirt calls here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from compute.drivers.base import GuestSpec
from compute.exceptions import DriverError

#: XML namespace of the driver's ``<metadata>`` element.
METADATA_NS = "https://vmdash.invalid/xmlns/libvirt/instance/1.0"
ET.register_namespace("vmdash", METADATA_NS)

#: Where test:// guests' disks are said to be (nothing opens them there).
DISK_DIR = "/var/lib/libvirt/vmdash/disks"
#: The SMBIOS OEM string (type 11) that tells the guest its instance's name.
NAME_OEM_PREFIX = "vmdash-name:"
#: The virtio-serial channel the QEMU guest agent listens on (Nova's name).
GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "image"


def volume_name(uuid: str, *, rescue: bool = False) -> str:
    """A guest's volumes are named after its uuid alone (compute.drivers.libvirt_storage)."""
    return f"{uuid}-{'rescue' if rescue else 'disk'}.qcow2"


def disk_path(uuid: str, *, rescue: bool = False, disk_dir: str = DISK_DIR) -> str:
    return f"{disk_dir}/{volume_name(uuid, rescue=rescue)}"


def _meta(tag: str) -> str:
    return f"{{{METADATA_NS}}}{tag}"


def element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def domain_xml(
    guest: GuestSpec,
    *,
    virt_type: str,
    rescue_image: str | None = None,
    disk_dir: str = DISK_DIR,
    console_log: str | None = None,
) -> str:
    """The whole domain, rebuilt from scratch each time (as Nova regenerates its XML).

    ``console_log`` adds what a real guest needs and ``test://`` does without: SMBIOS with the
    instance's name, a serial console whose output virtlogd keeps in that file (Nova's
    console.log; QEMU's pty drops whatever nobody reads), VNC on loopback only and the
    guest-agent channel.
    """
    domain = ET.Element("domain", type=virt_type)
    element(domain, "name", guest.uuid)
    element(domain, "uuid", guest.uuid)
    element(domain, "title", " ".join(guest.name.split()))  # libvirt refuses newlines
    instance = ET.SubElement(ET.SubElement(domain, "metadata"), _meta("instance"))
    element(instance, _meta("name"), guest.name)
    element(instance, _meta("image"), guest.image)
    element(instance, _meta("disk-gb"), str(guest.disk_gb))
    if rescue_image is not None:
        element(instance, _meta("rescue-image"), rescue_image)
    element(domain, "memory", str(guest.memory_mb), unit="MiB")
    element(domain, "vcpu", str(guest.vcpus))
    real = console_log is not None
    if real:
        sysinfo = ET.SubElement(domain, "sysinfo", type="smbios")
        system = ET.SubElement(sysinfo, "system")
        element(system, "entry", "vmdash", name="manufacturer")
        element(system, "entry", "vmdash instance", name="product")
        element(system, "entry", guest.uuid, name="serial")
        element(system, "entry", "Virtual Machine", name="family")
        oem = ET.SubElement(sysinfo, "oemStrings")
        element(oem, "entry", NAME_OEM_PREFIX + " ".join(guest.name.split()))
    os_ = ET.SubElement(domain, "os")
    element(os_, "type", "hvm")
    ET.SubElement(os_, "boot", dev="hd")  # the first disk: the rescue disk while rescued
    if real:
        ET.SubElement(os_, "smbios", mode="sysinfo")
    features = ET.SubElement(domain, "features")
    ET.SubElement(features, "acpi")  # without it the guest never sees a clean shutdown request
    ET.SubElement(features, "apic")
    element(domain, "on_poweroff", "destroy")
    element(domain, "on_reboot", "restart")
    element(domain, "on_crash", "destroy")
    devices = ET.SubElement(domain, "devices")
    disks = [disk_path(guest.uuid, disk_dir=disk_dir)]
    if rescue_image is not None:
        disks.insert(0, disk_path(guest.uuid, rescue=True, disk_dir=disk_dir))
    for target, path in zip(("vda", "vdb"), disks, strict=False):
        disk = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type="qcow2")
        ET.SubElement(disk, "source", file=path)
        ET.SubElement(disk, "target", dev=target, bus="virtio")
    if real:
        serial = ET.SubElement(devices, "serial", type="pty")
        ET.SubElement(serial, "log", file=console_log, append="on")
        ET.SubElement(serial, "target", port="0")
        console = ET.SubElement(devices, "console", type="pty")
        ET.SubElement(console, "target", type="serial", port="0")
        channel = ET.SubElement(devices, "channel", type="unix")
        ET.SubElement(channel, "target", type="virtio", name=GUEST_AGENT_CHANNEL)
        graphics = ET.SubElement(devices, "graphics", type="vnc", autoport="yes")
        ET.SubElement(graphics, "listen", type="address", address="127.0.0.1")
    return ET.tostring(domain, encoding="unicode")


def guest_from_xml(xml: str, uuid: str) -> tuple[GuestSpec, str | None]:
    """The spec a domain was defined from, and its rescue image if it is rescued."""
    root = ET.fromstring(xml)
    instance = root.find(f"metadata/{_meta('instance')}")
    if instance is None:
        raise DriverError(f"Domain {uuid} has no vmdash metadata: this driver did not define it")
    guest = GuestSpec(
        uuid=uuid,
        name=instance.findtext(_meta("name"), ""),
        vcpus=int(root.findtext("vcpu", "1")),
        memory_mb=int(root.findtext("memory", "0")) // 1024,  # libvirt always reports KiB
        disk_gb=int(instance.findtext(_meta("disk-gb"), "0")),
        image=instance.findtext(_meta("image"), ""),
    )
    return guest, instance.findtext(_meta("rescue-image"))
