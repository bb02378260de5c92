"""``/v2.1/os-networks`` and ``/v2.1/os-tenant-networks`` (deprecated; before 2.36): Nova's proxy
views of the networks, here the one network of ``compute.networks``. The nova-network fields
Neutron cannot fill are null, as Nova shows them in front of Neutron.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute.networks import NETWORKS, Network, network_get
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault

_DOC = {"parameters": [VERSION_HEADER], "tags": ["networks"]}
FIELDS = (
    "bridge", "bridge_interface", "broadcast", "cidr_v6", "dhcp_server", "dhcp_start", "dns1",
    "dns2", "enable_dhcp", "gateway", "gateway_v6", "host", "injected", "mtu", "multi_host",
    "netmask", "netmask_v6", "priority", "project_id", "rxtx_base", "share_address", "vlan",
    "vpn_private_address", "vpn_public_address", "vpn_public_port",
)  # fmt: skip
ADMIN_FIELDS = ("created_at", "deleted", "deleted_at", "updated_at")


class NetworksBase(ComputeView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.since("2.36"):
            raise APIFault(404, f"API version {self.version} is not supported on this method.")

    def view(self, network: Network) -> dict[str, Any]:
        body: dict[str, Any] = {"id": network.id, "label": network.label, "cidr": network.cidr}
        body.update({field: None for field in FIELDS})
        if self.context.is_admin:
            body.update({field: None for field in ADMIN_FIELDS})
        return body


class NetworkList(NetworksBase):
    @extend_schema(operation_id="networkList", summary="Networks (deprecated; before 2.36)",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response({"networks": [self.view(n) for n in NETWORKS]})


class NetworkShow(NetworksBase):
    @extend_schema(operation_id="networkShow", summary="A network (deprecated; before 2.36)",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, network_id: str) -> Response:
        network = network_get(network_id)
        if network is None:
            raise APIFault(404, "Network not found.")
        return Response({"network": self.view(network)})


def tenant_network(network: Network) -> dict[str, Any]:
    """Nova's ``os-tenant-networks`` body in front of Neutron: ``cidr`` is the string "None"
    (``str(None)``, which Nova has always answered there), ``label`` the network's name."""
    return {"id": network.id, "cidr": str(None), "label": network.label}


class TenantNetworkList(NetworksBase):
    @extend_schema(operation_id="tenantNetworkList",
                   summary="The caller's networks (deprecated; before 2.36)",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response({"networks": [tenant_network(n) for n in NETWORKS]})


class TenantNetworkShow(NetworksBase):
    @extend_schema(operation_id="tenantNetworkShow",
                   summary="One of the caller's networks (deprecated; before 2.36)",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, network_id: str) -> Response:
        network = network_get(network_id)
        if network is None or network.id != network_id:
            raise APIFault(404, "Network not found")
        return Response({"network": tenant_network(network)})
