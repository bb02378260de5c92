"""The deprecated ``/v2.1/os-hosts`` (admin, microversions 2.1–2.42; 404 from 2.43), and
``/v2.1/os-availability-zone`` (+ ``/detail``).

os-hosts as Nova serves it: the list holds the enabled services (``?zone=``), a host's show its
resources — ``(total)``, ``(used_now)``, ``(used_max)``, then one row per project — from
``compute.selectors.inventory``. ``PUT`` switches the service's status as os-services does; maintenance
mode and the power actions (startup, shutdown, reboot) are what the libvirt driver does not
implement in Nova either: 501.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy, services
from compute.models import Host
from compute.selectors import host_list
from compute.selectors.inventory import HOST_CAPACITY, host_usage, project_usage_on_host
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault
from dashboard.api.validation import validate

NOT_FOUND = "The resource could not be found."
NOT_IMPLEMENTED = "Feature not supported by this cloud."
_ENABLE = {
    "type": "string",
    "enum": ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"],
}
UPDATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"status": _ENABLE, "maintenance_mode": _ENABLE},
    "anyOf": [{"required": ["status"]}, {"required": ["maintenance_mode"]}],
    "additionalProperties": False,
}
_DOC = {"tags": ["hosts"], "parameters": [VERSION_HEADER]}
_RESPONSES = compute_responses({200: None}, 403, 404)


class HostsBase(ComputeView):
    rule = "list"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.since("2.43"):
            raise APIFault(404, NOT_FOUND)
        rule = "update" if request.method == "PUT" else self.rule
        policy.authorize(self.context, f"os_compute_api:os-hosts:{rule}")

    def host(self, name: str) -> Host:
        found = Host.objects.filter(host=name).first()
        if found is None:
            raise APIFault(404, f"Compute host {name} could not be found.")
        return found


class HostList(HostsBase):
    @extend_schema(operation_id="hostList", summary="List hosts (deprecated; < 2.43)",
                   responses=_RESPONSES, **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        hosts = host_list().filter(disabled=False)
        zone = request.query_params.get("zone")
        if zone:
            hosts = hosts.filter(zone=zone)
        return Response(
            {"hosts": [{"host_name": h.host, "service": "compute", "zone": h.zone} for h in hosts]}
        )


def _resource(host: str, project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict[str, Any]:
    return {
        "resource": {
            "host": host,
            "project": project,
            "cpu": cpu,
            "memory_mb": memory_mb,
            "disk_gb": disk_gb,
        }
    }


class HostItem(HostsBase):
    rule = "show"

    @extend_schema(operation_id="hostShow", summary="A host's resources (deprecated; < 2.43)",
                   responses=_RESPONSES, **_DOC)  # fmt: skip
    def get(self, request: Request, host_name: str) -> Response:
        host = self.host(host_name)
        used = host_usage([host])[host.pk]
        cap = HOST_CAPACITY
        rows = [
            _resource(host.host, "(total)", cap.vcpus, cap.memory_mb, cap.local_gb),
            _resource(
                host.host, "(used_now)", used.vcpus_used, used.memory_mb_used, used.local_gb_used
            ),
            _resource(
                host.host, "(used_max)", used.vcpus_used, used.memory_mb_used, used.local_gb_used
            ),
        ]
        for project, usage in project_usage_on_host(host).items():
            rows.append(
                _resource(
                    host.host,
                    project,
                    usage.vcpus_used,
                    usage.memory_mb_used,
                    usage.local_gb_used,
                )
            )
        return Response({"host": rows})

    @extend_schema(operation_id="hostUpdate", request={"application/json": UPDATE_SCHEMA}, summary="Enable or disable a host (< 2.43)",
                   responses=compute_responses({200: None}, 403, 404, 415), **_DOC)  # fmt: skip
    def put(self, request: Request, host_name: str) -> Response:
        validate(request.data, UPDATE_SCHEMA)
        host = self.host(host_name)
        result: dict[str, Any] = {"host": host.host}
        status = request.data.get("status")
        if request.data.get("maintenance_mode") is not None:
            raise APIFault(501, NOT_IMPLEMENTED)
        if status is not None:
            enable = status.lower() == "enable"
            services.host_update(
                context=self.context, host=host, status="enabled" if enable else "disabled"
            )
            result["status"] = "enabled" if enable else "disabled"
        return Response(result)


class HostPowerAction(HostsBase):
    """``/os-hosts/{host}/startup|shutdown|reboot``: not implemented by the drivers here."""

    rule = "start"

    @extend_schema(operation_id="hostPowerAction", summary="Host power action (< 2.43)",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, host_name: str, action: str) -> Response:
        self.host(host_name)
        raise APIFault(501, NOT_IMPLEMENTED)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Nova's rule names: os-hosts:start, :shutdown, :reboot.
        self.rule = {"startup": "start"}.get(kwargs.get("action", ""), kwargs.get("action", ""))
        super().initial(request, *args, **kwargs)


class AvailabilityZones(ComputeView):
    """``GET /os-availability-zone`` (anyone: the available zones) and ``/detail`` (admin:
    every zone with its hosts and their services, the ``internal`` one included)."""

    detail = False

    @extend_schema(operation_id="availabilityZoneList", tags=["availability zones"],
                   summary="Availability zones", parameters=[VERSION_HEADER],
                   responses=compute_responses({200: None}, 403))  # fmt: skip
    def get(self, request: Request) -> Response:
        hosts = list(host_list())
        if not self.detail:
            zones = sorted({h.zone for h in hosts if not h.disabled})
            unavailable = sorted({h.zone for h in hosts if h.disabled} - set(zones))
            info = [{"zoneName": z, "zoneState": {"available": True}, "hosts": None} for z in zones]
            info += [
                {"zoneName": z, "zoneState": {"available": False}, "hosts": None}
                for z in unavailable
            ]
            return Response({"availabilityZoneInfo": info})
        policy.authorize(self.context, "os_compute_api:os-availability-zone:detail")
        by_zone: dict[str, dict[str, Any]] = {}
        for h in hosts:
            by_zone.setdefault(h.zone, {})[h.host] = {
                "nova-compute": {
                    "available": h.is_up and not h.disabled,
                    "active": not h.disabled,
                    "updated_at": h.updated_at.isoformat() if h.updated_at else None,
                }
            }
        info = [
            {
                "zoneName": zone,
                "zoneState": {
                    "available": any(s["nova-compute"]["active"] for s in members.values())
                },
                "hosts": members,
            }
            for zone, members in sorted(by_zone.items())
        ]
        return Response({"availabilityZoneInfo": info})


class AvailabilityZonesDetail(AvailabilityZones):
    detail = True

    @extend_schema(operation_id="availabilityZoneDetail", tags=["availability zones"],
                   summary="Availability zones with their hosts (admin)",
                   parameters=[VERSION_HEADER],
                   responses=compute_responses({200: None}, 403))  # fmt: skip
    def get(self, request: Request) -> Response:
        return super().get(request)
