"""``/v2.1/servers/{id}/ips`` (+ ``/ips/{network}``) and ``/servers/{id}/os-server-password``,
as Nova serves them: the addresses by network label (version and address only, Nova's
``ips`` view), and the password the metadata service would have stored
(``compute.services.server_password``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute.selectors import instance_get
from compute.services.server_password import server_password_clear, server_password_get
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault

_DOC = {"parameters": [VERSION_HEADER], "tags": ["servers"]}


def _addresses(view: ComputeView, server_id: str) -> dict[str, list[dict[str, Any]]]:
    instance = instance_get(context=view.context, instance_uuid=server_id, joined=())
    return {
        label: [{"version": a.get("version", 4), "addr": a.get("addr")} for a in addresses]
        for label, addresses in (instance.addresses or {}).items()
        if isinstance(addresses, list)
    }


class ServerIPs(ComputeView):
    @extend_schema(operation_id="serverIPs", summary="A server's addresses by network",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, server_id: str) -> Response:
        return Response({"addresses": _addresses(self, server_id)})


class ServerIPsOfNetwork(ComputeView):
    @extend_schema(operation_id="serverIPsOfNetwork", summary="A server's addresses on a network",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, server_id: str, network: str) -> Response:
        addresses = _addresses(self, server_id)
        if network not in addresses:
            raise APIFault(404, "Instance is not a member of specified network")
        return Response({network: addresses[network]})


class ServerPassword(ComputeView):
    @extend_schema(operation_id="serverPasswordShow",
                   summary="The encrypted password a guest posted (empty: none was)",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, server_id: str) -> Response:
        password = server_password_get(context=self.context, instance_uuid=server_id)
        return Response({"password": password})

    @extend_schema(operation_id="serverPasswordClear", summary="Clear the stored password",
                   responses=compute_responses({204: None}, 404), **_DOC)  # fmt: skip
    def delete(self, request: Request, server_id: str) -> Response:
        server_password_clear(context=self.context, instance_uuid=server_id)
        return Response(status=204)
