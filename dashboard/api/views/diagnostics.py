"""``GET /v2.1/servers/{id}/diagnostics`` (admin): the 2.48 standard format from 2.48, the
driver's free-form dictionary before, as Nova's libvirt driver gives them. Figures come from the
server's flavor and power state; counters this dashboard does not collect are 0 (disk) or
absent (no NICs are modelled).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.selectors import instance_get
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault

#: Nova's power_state codes as the diagnostics' ``state`` names them.
STATES = {0: "pending", 1: "running", 3: "paused", 4: "shutdown", 6: "crashed", 7: "suspended"}


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
        flavor = instance.flavor
        started = instance.launched_at or instance.created_at
        uptime = int((timezone.now() - started).total_seconds())
        if not self.since("2.48"):
            legacy: dict[str, Any] = {f"cpu{n}_time": 0 for n in range(flavor.vcpus)}
            legacy.update({"memory": flavor.ram * 1024, "vda_read": 0, "vda_read_req": 0,
                           "vda_write": 0, "vda_write_req": 0, "vda_errors": -1})  # fmt: skip
            return Response(legacy)
        return Response(
            {
                "state": STATES.get(instance.power_state, "pending"),
                "driver": "libvirt",
                "hypervisor": "kvm" if instance.host.driver == "libvirt" else "qemu",
                "hypervisor_os": "linux",
                "uptime": uptime,
                "config_drive": False,
                "num_cpus": flavor.vcpus,
                "num_nics": 0,
                "num_disks": 1,
                "memory_details": {"maximum": flavor.ram, "used": 0},
                "cpu_details": [
                    {"id": n, "time": 0, "utilisation": None} for n in range(flavor.vcpus)
                ],
                "nic_details": [],
                "disk_details": [
                    {
                        "read_bytes": 0,
                        "read_requests": 0,
                        "write_bytes": 0,
                        "write_requests": 0,
                        "errors_count": 0,
                    }
                ],
            }
        )
