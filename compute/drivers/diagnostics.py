"""What a driver reports of a guest now: Nova's ``Diagnostics`` (``nova/virt/diagnostics.py``),
the figures of the 2.48 standard format. Counters are cumulative since the guest started."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CpuDetail:
    id: int
    #: Nanoseconds of CPU time used since the guest started.
    time: int
    #: Percent over the last measurement, or None where the driver cannot tell.
    utilisation: int | None


@dataclass(frozen=True)
class DiskDetail:
    read_bytes: int = 0
    read_requests: int = 0
    write_bytes: int = 0
    write_requests: int = 0
    errors_count: int = 0


@dataclass(frozen=True)
class NicDetail:
    mac_address: str
    rx_octets: int = 0
    rx_errors: int = 0
    rx_drop: int = 0
    rx_packets: int = 0
    rx_rate: int | None = None
    tx_octets: int = 0
    tx_errors: int = 0
    tx_drop: int = 0
    tx_packets: int = 0
    tx_rate: int | None = None


@dataclass(frozen=True)
class GuestDiagnostics:
    """Nova's ``Diagnostics`` object (``nova/virt/diagnostics.py``)."""

    state: int
    driver: str
    hypervisor: str
    hypervisor_os: str
    uptime: int
    memory_maximum_mb: int
    memory_used_mb: int
    cpu_details: list[CpuDetail] = field(default_factory=list)
    disk_details: list[DiskDetail] = field(default_factory=list)
    nic_details: list[NicDetail] = field(default_factory=list)
    config_drive: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "driver": self.driver,
            "hypervisor": self.hypervisor,
            "hypervisor_os": self.hypervisor_os,
            "uptime": self.uptime,
            "memory_maximum_mb": self.memory_maximum_mb,
            "memory_used_mb": self.memory_used_mb,
            "cpu_details": [vars(c) for c in self.cpu_details],
            "disk_details": [vars(d) for d in self.disk_details],
            "nic_details": [vars(n) for n in self.nic_details],
            "config_drive": self.config_drive,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GuestDiagnostics:
        return cls(
            **{
                **raw,
                "cpu_details": [CpuDetail(**c) for c in raw["cpu_details"]],
                "disk_details": [DiskDetail(**d) for d in raw["disk_details"]],
                "nic_details": [NicDetail(**n) for n in raw["nic_details"]],
            }
        )

    @property
    def cpu_ns(self) -> int:
        return sum(c.time for c in self.cpu_details)
