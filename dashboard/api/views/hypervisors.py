"""``/v2.1/os-hypervisors`` (admin): one hypervisor per compute host, as Nova's compute nodes.

Shapes per microversion as Nova's ``hypervisors.py``: integer ids before 2.53 and the host's
UUID from 2.53 (when ``/search`` and ``/servers`` give way to ``hypervisor_hostname_pattern``
and ``with_servers``); ``cpu_info`` an object from 2.28; paging from 2.33; from 2.88 no resource
figures, ``uptime`` in the detail view, and no ``/statistics`` or ``/uptime``. Sizes come from
``compute.selectors.inventory`` (a fixed capacity, used = the flavors of the host's live instances).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.models import Host
from compute.selectors import host_list
from compute.selectors.inventory import HOST_CAPACITY, HostUsage, host_servers, host_usage
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault
from dashboard.api.schemas.types import TRUE_STRINGS

HOST_IP = "127.0.0.1"
HYPERVISOR_VERSION = 8002000  # libvirt's QEMU 8.2.0 as Nova reports it
CPU_INFO = {
    "arch": "x86_64",
    "model": "qemu64",
    "vendor": "QEMU",
    "topology": {"sockets": 1, "cores": HOST_CAPACITY.vcpus, "threads": 1},
    "features": [],
}


def _bool_param(value: str | None, name: str) -> bool:
    if value is None:
        return False
    lowered = value.lower()
    if lowered in TRUE_STRINGS:
        return True
    if lowered in {"false", "0", "off", "no", "n", "f"}:
        return False
    raise APIFault(400, f"Invalid input for query parameters {name}. Value: {value}.")


class HypervisorsBase(ComputeView):
    rule = "list"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        policy.authorize(self.context, f"os_compute_api:os-hypervisors:{self.rule}")

    def ident(self, host: Host) -> int | str:
        return str(host.uuid) if self.since("2.53") else host.pk

    def view(
        self,
        host: Host,
        usage: HostUsage,
        *,
        detail: bool,
        servers: list[tuple[str, str]] | None = None,
        with_servers: bool = False,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.ident(host),
            "hypervisor_hostname": host.host,
            "state": "up" if host.is_up else "down",
            "status": "disabled" if host.disabled else "enabled",
        }
        if detail:
            body.update(
                {
                    "hypervisor_type": "QEMU" if host.driver == "libvirt" else "fake",
                    "hypervisor_version": HYPERVISOR_VERSION,
                    "host_ip": HOST_IP,
                    "service": {
                        "id": str(host.uuid) if self.since("2.53") else host.pk,
                        "host": host.host,
                        "disabled_reason": host.disabled_reason,
                    },
                }
            )
            if not self.since("2.88"):
                body.update(figures(usage))
                body["cpu_info"] = CPU_INFO if self.since("2.28") else _cpu_info_text()
            else:
                body["uptime"] = None
        if servers:
            body["servers"] = [{"name": name, "uuid": ident} for ident, name in servers]
        elif with_servers and self.since("2.75"):
            body["servers"] = []
        return body

    def listing(self, request: Request, *, detail: bool) -> Response:
        params = request.query_params
        pattern = params.get("hypervisor_hostname_pattern") if self.since("2.53") else None
        with_servers = (
            _bool_param(params.get("with_servers"), "with_servers") if self.since("2.53") else False
        )
        hosts = list(host_list().order_by("id"))
        links = False
        if pattern is not None:
            if "limit" in params or "marker" in params:
                raise APIFault(
                    400,
                    "Paging over hypervisors with the hypervisor_hostname_pattern query "
                    "parameter is not supported.",
                )
            hosts = [h for h in hosts if pattern in h.host]
            if not hosts:
                raise APIFault(404, f"No hypervisor matching '{pattern}' could be found.")
        elif self.since("2.33"):
            hosts, links = self._page(hosts, params.get("limit"), params.get("marker"))
        usage = host_usage(hosts)
        servers = host_servers(hosts) if with_servers else {}
        body: dict[str, Any] = {
            "hypervisors": [
                self.view(
                    h,
                    usage[h.pk],
                    detail=detail,
                    servers=servers.get(h.pk),
                    with_servers=with_servers,
                )
                for h in hosts
            ]
        }
        if links and hosts:
            href = request.build_absolute_uri(request.path)
            body["hypervisors_links"] = [
                {"rel": "next", "href": f"{href}?limit={len(hosts)}&marker={self.ident(hosts[-1])}"}
            ]
        return Response(body)

    def _page(
        self, hosts: list[Host], limit: str | None, marker: str | None
    ) -> tuple[list[Host], bool]:
        if marker is not None:
            ids = [str(self.ident(h)) for h in hosts]
            if marker not in ids:
                raise APIFault(400, f"marker [{marker}] not found")
            hosts = hosts[ids.index(marker) + 1 :]
        if limit is None:
            return hosts, False
        try:
            count = int(limit)
        except ValueError:
            raise APIFault(400, "limit param must be an integer") from None
        if count < 0:
            raise APIFault(400, "limit param must be positive")
        return hosts[:count], len(hosts) > count

    def host_by_id(self, hypervisor_id: str) -> Host:
        if self.since("2.53"):
            try:
                uuid.UUID(hypervisor_id)
            except ValueError:
                raise APIFault(400, f"Invalid uuid {hypervisor_id}") from None
            host = host_list().filter(uuid=hypervisor_id).first()
        else:
            host = (
                host_list().filter(pk=int(hypervisor_id)).first()
                if re.fullmatch(r"[0-9]{1,18}", hypervisor_id)
                else None
            )
        if host is None:
            raise APIFault(404, f"Hypervisor with ID '{hypervisor_id}' could not be found.")
        return host


def _cpu_info_text() -> str:
    import json

    return json.dumps(CPU_INFO)


def figures(usage: HostUsage) -> dict[str, Any]:
    cap = HOST_CAPACITY
    return {
        "vcpus": cap.vcpus,
        "memory_mb": cap.memory_mb,
        "local_gb": cap.local_gb,
        "vcpus_used": usage.vcpus_used,
        "memory_mb_used": usage.memory_mb_used,
        "local_gb_used": usage.local_gb_used,
        "free_ram_mb": cap.memory_mb - usage.memory_mb_used,
        "free_disk_gb": cap.local_gb - usage.local_gb_used,
        "current_workload": 0,
        "running_vms": usage.running_vms,
        "disk_available_least": cap.local_gb - usage.local_gb_used,
    }


_DOC = {"tags": ["hypervisors"], "parameters": [VERSION_HEADER]}


class HypervisorList(HypervisorsBase):
    @extend_schema(operation_id="hypervisorList", summary="List hypervisors (admin)",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        return self.listing(request, detail=False)


class HypervisorDetailList(HypervisorsBase):
    rule = "list-detail"

    @extend_schema(operation_id="hypervisorListDetail", summary="List hypervisors in detail",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        return self.listing(request, detail=True)


class HypervisorShow(HypervisorsBase):
    rule = "show"

    @extend_schema(operation_id="hypervisorShow", summary="Show a hypervisor (admin)",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, hypervisor_id: str) -> Response:
        host = self.host_by_id(hypervisor_id)
        with_servers = (
            _bool_param(request.query_params.get("with_servers"), "with_servers")
            if self.since("2.53")
            else False
        )
        servers = host_servers([host])[host.pk] if with_servers else None
        usage = host_usage([host])[host.pk]
        return Response(
            {
                "hypervisor": self.view(
                    host, usage, detail=True, servers=servers, with_servers=with_servers
                )
            }
        )


class HypervisorUptime(HypervisorsBase):
    rule = "uptime"

    @extend_schema(operation_id="hypervisorUptime", summary="A hypervisor's uptime (< 2.88)",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, hypervisor_id: str) -> Response:
        if self.since("2.88"):
            raise APIFault(404, "The resource could not be found.")
        host = self.host_by_id(hypervisor_id)
        body = self.view(host, host_usage([host])[host.pk], detail=False)
        body["uptime"] = " 00:00:00 up 0 min,  0 users,  load average: 0.00, 0.00, 0.00"
        return Response({"hypervisor": body})


class HypervisorStatistics(HypervisorsBase):
    rule = "statistics"

    @extend_schema(operation_id="hypervisorStatistics", summary="Totals over hypervisors (< 2.88)",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        if self.since("2.88"):
            raise APIFault(404, "The resource could not be found.")
        hosts = list(host_list())
        usage = host_usage(hosts)
        total: dict[str, Any] = {"count": len(hosts)}
        for host in hosts:
            for key, value in figures(usage[host.pk]).items():
                total[key] = total.get(key, 0) + value
        for key in figures(HostUsage(0, 0, 0, 0)):
            total.setdefault(key, 0)
        return Response({"hypervisor_statistics": total})


class HypervisorSearch(HypervisorsBase):
    """``/os-hypervisors/{pattern}/search`` and ``…/servers``: before 2.53 only."""

    rule = "search"
    servers = False

    @extend_schema(operation_id="hypervisorSearch", summary="Hypervisors by name (< 2.53)",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, pattern: str) -> Response:
        if self.since("2.53"):
            raise APIFault(404, "The resource could not be found.")
        hosts = [h for h in host_list().order_by("id") if pattern in h.host]
        if not hosts:
            raise APIFault(404, f"No hypervisor matching '{pattern}' could be found.")
        usage = host_usage(hosts)
        servers = host_servers(hosts) if self.servers else {}
        return Response(
            {
                "hypervisors": [
                    self.view(h, usage[h.pk], detail=False, servers=servers.get(h.pk))
                    for h in hosts
                ]
            }
        )


class HypervisorServers(HypervisorSearch):
    rule = "servers"
    servers = True

    @extend_schema(operation_id="hypervisorServers", summary="Hypervisors' servers (< 2.53)",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, pattern: str) -> Response:
        return super().get(request, pattern)
