"""Hypervisor drivers. ``load_driver`` picks one by name; only ``compute.drivers.libvirt``
imports libvirt, and only when asked for (an import contract checks it)."""

from __future__ import annotations

from compute.drivers.base import ComputeDriver


def load_driver(name: str, *, host: str, uri: str = "") -> ComputeDriver:
    if name == "fake":
        from compute.drivers.fake import FakeDriver

        return FakeDriver(host=host)
    if name == "libvirt":
        from compute.conf import conf
        from compute.drivers.libvirt import LibvirtDriver

        settings = conf()
        return LibvirtDriver(
            host=host,
            uri=uri or "qemu:///system",
            virt_type=settings.libvirt_virt_type,
            instances_path=settings.libvirt_instances_path,
            peers=settings.libvirt_peers,
        )
    raise ValueError(f"Unknown driver {name!r}: expected 'fake' or 'libvirt'")
