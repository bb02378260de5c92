"""``/v2.1/os-services``: the compute hosts' service records, admin only.

``GET`` lists them (``?host=``, ``?binary=``); ``PUT /os-services/{uuid}`` (2.53+) sets
``status``, ``disabled_reason`` and ``forced_down`` through ``compute.services.host_update``,
which holds Nova's validation. Before 2.53 the same switches are ``PUT /os-services/enable``,
``/disable``, ``/disable-log-reason`` and (2.11+) ``/force-down`` with host and binary in the
body. Asked for with ``X-Vmdash-Extras: 1``, each record also carries the host's host_status
under ``vmdash:host_status`` and its last power-state sync under ``vmdash:last_sync``.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy, services
from compute.exceptions import NotFound
from compute.models import Host, PowerSyncPass
from compute.selectors import host_get, host_list, hosts_last_sync
from dashboard.api import formats
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import EXTRAS_PARAMETER, VERSION_HEADER, compute_responses, ref
from dashboard.api.faults import APIFault
from dashboard.api.schemas import types as t
from dashboard.api.validation import validate

SERVICE_ID = OpenApiParameter(
    "service_id",
    str,
    OpenApiParameter.PATH,
    description="Service UUID (2.53+); before 2.53 one of enable, disable, "
    "disable-log-reason, force-down",
)
UPDATE_253 = t.obj(
    {
        "status": {"type": "string", "enum": ["enabled", "disabled"]},
        "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255},
        "forced_down": t.BOOLEAN,
    }
)
_LEGACY = t.obj(
    {
        "host": t.NAME,
        "binary": t.NAME,
        "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255},
        "forced_down": t.BOOLEAN,
    },
    required=("host", "binary"),
)
LEGACY_ACTIONS = ("enable", "disable", "disable-log-reason", "force-down")


def _sync(sync: PowerSyncPass | None) -> dict[str, Any] | None:
    if sync is None:
        return None
    return {
        "started_at": formats.naive(sync.started_at),
        "duration_ms": sync.duration_ms,
        "checked": sync.checked,
        "changes": len(sync.changes or []),
        "unknown_guests": len(sync.unknown_guests or []),
        "error": sync.error or None,
    }


class ServicesBase(ComputeView):
    def require_admin(self, rule: str) -> None:
        policy.authorize(self.context, f"os_compute_api:os-services:{rule}")

    def service_body(self, host: Host, sync: PowerSyncPass | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(host.uuid) if self.since("2.53") else host.pk,
            "binary": host.binary,
            "host": host.host,
            "zone": host.zone,
            "status": "disabled" if host.disabled else "enabled",
            "state": "up" if host.is_up else "down",
            "updated_at": formats.naive(host.updated_at),
            "disabled_reason": host.disabled_reason,
        }
        if self.since("2.11"):
            body["forced_down"] = host.forced_down
        if self.extras:
            body["vmdash:host_status"] = str(host.host_status)
            body["vmdash:last_sync"] = _sync(sync)
        return body


class ServiceList(ServicesBase):
    @extend_schema(
        operation_id="serviceList",
        tags=["services"],
        summary="List compute services (admin)",
        parameters=[
            VERSION_HEADER,
            EXTRAS_PARAMETER,
            OpenApiParameter("host", str),
            OpenApiParameter("binary", str),
        ],
        responses=compute_responses({200: ref("ServiceList")}, 403),
    )
    def get(self, request: Request) -> Response:
        self.require_admin("list")
        hosts = host_list()
        if "host" in request.query_params:
            hosts = hosts.filter(host=request.query_params["host"])
        if "binary" in request.query_params:
            hosts = hosts.filter(binary=request.query_params["binary"])
        rows = list(hosts)
        syncs = hosts_last_sync(rows)
        return Response({"services": [self.service_body(h, syncs.get(h.pk)) for h in rows]})


class ServiceUpdate(ServicesBase):
    @extend_schema(
        operation_id="serviceUpdate",
        tags=["services"],
        summary="Enable, disable (with a reason) or force down a compute service (admin)",
        parameters=[SERVICE_ID, VERSION_HEADER],
        request={"application/json": UPDATE_253},
        responses=compute_responses({200: ref("ServiceUpdated")}, 403, 404, 415),
    )
    def put(self, request: Request, service_id: str) -> Response:
        self.require_admin("update")
        if not self.since("2.53"):
            return self._legacy(request, service_id)
        try:
            uuid.UUID(service_id)
        except ValueError:
            raise APIFault(400, f"Invalid uuid {service_id}") from None
        validate(request.data, UPDATE_253)
        body = request.data
        try:
            host = host_get(host_uuid=service_id)
        except NotFound:
            raise APIFault(404, f"Service {service_id} could not be found.") from None
        forced = body.get("forced_down")
        host = services.host_update(
            context=self.context,
            host=host,
            status=body.get("status"),
            disabled_reason=body.get("disabled_reason"),
            forced_down=None if forced is None else t.truthy(forced),
        )
        sync = hosts_last_sync([host]).get(host.pk)
        return Response({"service": self.service_body(host, sync)})

    def _legacy(self, request: Request, action: str) -> Response:
        if action not in LEGACY_ACTIONS or (action == "force-down" and not self.since("2.11")):
            raise APIFault(404, "Unknown action")
        validate(request.data, _LEGACY)
        body = request.data
        try:
            host = host_get(host=body["host"])
            if host.binary != body["binary"]:
                raise NotFound("")
        except NotFound:
            raise APIFault(
                404,
                f"Compute host {body['host']} with binary {body['binary']} could not be found.",
            ) from None
        answer: dict[str, Any] = {"host": host.host, "binary": host.binary}
        if action == "force-down":
            if "forced_down" not in body:
                raise APIFault(400, "Invalid input: 'forced_down' is a required property")
            forced = t.truthy(body["forced_down"])
            services.host_update(context=self.context, host=host, forced_down=forced)
            return Response({"service": {**answer, "forced_down": forced}})
        status = "enabled" if action == "enable" else "disabled"
        reason = body.get("disabled_reason") if action == "disable-log-reason" else None
        if action == "disable-log-reason" and not reason:
            raise APIFault(400, "Missing disabled reason field")
        services.host_update(context=self.context, host=host, status=status, disabled_reason=reason)
        answer["status"] = status
        if reason:
            answer["disabled_reason"] = reason
        return Response({"service": answer})
