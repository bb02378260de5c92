"""``GET /v2.1/servers/{id}/diagnostics`` (admin): the 2.48 standard format from 2.48, the
driver's free-form dictionary before, as Nova's libvirt driver gives them.

The figures are the host's driver's, now (``compute.consoles.client.guest_diagnostics``: the
host's agent in this process, or through the channel layer): libvirt's domain info and stats,
the fake hypervisor's load model. A host nobody can reach from here (no shared channel layer,
its agent elsewhere) is answered from the flavor, the counters 0, and says so in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.consoles.client import guest_diagnostics
from compute.drivers.diagnostics import CpuDetail, DiskDetail, GuestDiagnostics
from compute.exceptions import ConsoleNotAvailable, InstanceNotFoundOnHypervisor, NotFound
from compute.models import Instance
from compute.selectors import instance_get
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault

log = logging.getLogger(__name__)

#: Nova's power_state codes as the diagnostics' ``state`` names them.
STATES = {0: "pending", 1: "running", 3: "paused", 4: "shutdown", 6: "crashed", 7: "suspended"}


def _from_flavor(instance: Instance) -> GuestDiagnostics:
    """What is known without the host: the flavor's sizes, counters at 0."""
    flavor = instance.flavor
    return GuestDiagnostics(
        state=instance.power_state,
        driver="libvirt",  # what Nova's fake says too: the 2.48 schema knows no other here
        hypervisor="fake" if instance.host and instance.host.driver == "fake" else "qemu",
        hypervisor_os="linux",
        uptime=-1,
        memory_maximum_mb=flavor.ram,
        memory_used_mb=0,
        cpu_details=[CpuDetail(id=n, time=0, utilisation=None) for n in range(flavor.vcpus)],
        disk_details=[DiskDetail()],
    )


class ServerDiagnostics(ComputeView):
    @extend_schema(operation_id="serverDiagnostics", tags=["servers"],
                   summary="A server's diagnostics (admin)", parameters=[VERSION_HEADER],
                   responses=compute_responses({200: None}, 403, 404, 409))  # fmt: skip
    def get(self, request: Request, server_id: str) -> Response:
        instance = instance_get(context=self.context, instance_uuid=server_id)
        policy.authorize(self.context, "os_compute_api:os-server-diagnostics", instance.project_id)
        if instance.host_id is None:
            raise APIFault(
                409,
                f"Cannot 'get_diagnostics' instance {instance.uuid} while it is in vm_state "
                f"{instance.vm_state}",
            )
        assert instance.host is not None
        try:
            found = guest_diagnostics(instance.host.host, str(instance.uuid))
        except InstanceNotFoundOnHypervisor:
            raise NotFound(f"Instance {instance.uuid} could not be found.") from None
        except ConsoleNotAvailable:
            log.info(
                "diagnostics of %s from its flavor: %s unreachable",
                instance.uuid,
                instance.host.host,
            )
            found = _from_flavor(instance)
        uptime = found.uptime
        if uptime < 0:  # the hypervisor does not know: since the launch, as Nova's libvirt
            started = instance.launched_at or instance.created_at
            uptime = int((timezone.now() - started).total_seconds())
        if not self.since("2.48"):
            return Response(_legacy(found))
        return Response(
            {
                "state": STATES.get(found.state, "pending"),
                "driver": found.driver,
                "hypervisor": found.hypervisor,
                "hypervisor_os": found.hypervisor_os,
                "uptime": uptime,
                "config_drive": found.config_drive,
                "num_cpus": len(found.cpu_details),
                "num_nics": len(found.nic_details),
                "num_disks": len(found.disk_details),
                "memory_details": {
                    "maximum": found.memory_maximum_mb,
                    "used": found.memory_used_mb,
                },
                "cpu_details": [vars(c) for c in found.cpu_details],
                "nic_details": [vars(n) for n in found.nic_details],
                "disk_details": [vars(d) for d in found.disk_details],
            }
        )


def _legacy(found: GuestDiagnostics) -> dict[str, Any]:
    """Before 2.48: the libvirt driver's dictionary (cpuN_time, memory in KiB, per disk and
    per interface counters)."""
    body: dict[str, Any] = {f"cpu{c.id}_time": c.time for c in found.cpu_details}
    body["memory"] = found.memory_maximum_mb * 1024
    for n, disk in enumerate(found.disk_details):
        name = "vd" + chr(ord("a") + n)
        body.update({f"{name}_read": disk.read_bytes, f"{name}_read_req": disk.read_requests,
                     f"{name}_write": disk.write_bytes, f"{name}_write_req": disk.write_requests,
                     f"{name}_errors": disk.errors_count or -1})  # fmt: skip
    for n, nic in enumerate(found.nic_details):
        name = f"tap{n}"
        body.update({f"{name}_rx": nic.rx_octets, f"{name}_rx_packets": nic.rx_packets,
                     f"{name}_rx_errors": nic.rx_errors, f"{name}_rx_drop": nic.rx_drop,
                     f"{name}_tx": nic.tx_octets, f"{name}_tx_packets": nic.tx_packets,
                     f"{name}_tx_errors": nic.tx_errors, f"{name}_tx_drop": nic.tx_drop})  # fmt: skip
    return body
