"""``/v2.1/servers/{id}/os-instance-actions``: the action log, with Nova's visibility rules.

From 2.21 the log of a deleted server is still readable; from 2.51 every caller sees the
events (before, only admins), but the traceback stays admin-only; 2.58 adds ``updated_at`` and
``limit`` / ``marker`` / ``changes-since`` paging, 2.66 ``changes-before``; 2.62 adds each
event's ``hostId`` (and ``host`` for admins); 2.84 the failed event's ``details`` for admins.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.models import InstanceAction, InstanceActionEvent
from compute.policy import opaque_host_id
from compute.selectors import instance_actions, instance_get
from dashboard.api import formats
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses, ref
from dashboard.api.faults import APIFault
from dashboard.api.queries import MAX_LIMIT, moment
from dashboard.api.views.servers import SERVER_ID

REQUEST_ID = OpenApiParameter("request_id", str, OpenApiParameter.PATH)
_PAGING = [OpenApiParameter(n, str) for n in ("limit", "marker", "changes-since", "changes-before")]


class InstanceActionsBase(ComputeView):
    def actions_of(self, server_id: str) -> tuple[Any, QuerySet[InstanceAction]]:
        instance = instance_get(
            context=self.context, instance_uuid=server_id, include_deleted=self.since("2.21")
        )
        return instance, instance_actions(context=self.context, instance=instance)

    def action_body(self, action: InstanceAction) -> dict[str, Any]:
        body = {
            "action": action.action,
            "instance_uuid": str(action.instance.uuid),
            "message": action.message,
            "project_id": action.project_id,
            "request_id": action.request_id,
            "start_time": formats.naive(action.start_time),
            "user_id": str(action.user_id) if action.user_id is not None else None,
        }
        if self.since("2.58"):
            body["updated_at"] = formats.naive(action.updated_at)
        return body

    def event_body(self, event: InstanceActionEvent, project_id: str) -> dict[str, Any]:
        admin = policy.allowed(
            self.context, "os_compute_api:os-instance-actions:events:details", project_id
        )
        body: dict[str, Any] = {
            "event": event.event,
            "start_time": formats.naive(event.start_time),
            "finish_time": formats.naive(event.finish_time),
            "result": event.result,
        }
        if admin:
            body["traceback"] = event.traceback
        if self.since("2.62"):
            body["hostId"] = opaque_host_id(project_id, event.host or None)
            if admin:
                body["host"] = event.host
        if self.since("2.84") and admin:
            body["details"] = event.details
        return body


class InstanceActionList(InstanceActionsBase):
    @extend_schema(
        operation_id="instanceActionList",
        tags=["instance actions"],
        summary="List a server's actions, newest first",
        parameters=[SERVER_ID, VERSION_HEADER, *_PAGING],
        responses=compute_responses({200: ref("InstanceActionList")}, 404),
    )
    def get(self, request: Request, server_id: str) -> Response:
        instance, rows = self.actions_of(server_id)
        limit = None
        if self.since("2.58"):
            rows, limit = self._filtered(request, rows)
        page = list(rows[:limit] if limit is not None else rows)
        for action in page:
            action.instance = instance
        body: dict[str, Any] = {"instanceActions": [self.action_body(a) for a in page]}
        if limit and len(page) == limit:
            params = {**request.query_params.dict(), "marker": page[-1].request_id}
            href = request.build_absolute_uri(request.path) + "?" + urlencode(params)
            body["links"] = [{"rel": "next", "href": href}]
        return Response(body)

    def _filtered(
        self, request: Request, rows: QuerySet[InstanceAction]
    ) -> tuple[QuerySet[InstanceAction], int]:
        params = request.query_params
        if "changes-since" in params:
            rows = rows.filter(updated_at__gte=moment("changes-since", params["changes-since"]))
        if "changes-before" in params and self.since("2.66"):
            before = moment("changes-before", params["changes-before"])
            rows = rows.filter(updated_at__lte=before)
        marker = params.get("marker")
        if marker is not None:
            found = rows.filter(request_id=marker).first()
            if found is None:
                raise APIFault(400, f"Marker {marker} could not be found.")
            rows = rows.filter(start_time__lte=found.start_time).exclude(
                start_time=found.start_time, id__gte=found.id
            )
        try:
            limit = min(int(params.get("limit", MAX_LIMIT)), MAX_LIMIT)
        except ValueError:
            raise APIFault(400, "limit param must be an integer") from None
        if limit < 0:
            raise APIFault(400, "limit param must be positive")
        return rows, limit


class InstanceActionShow(InstanceActionsBase):
    @extend_schema(
        operation_id="instanceActionShow",
        tags=["instance actions"],
        summary="Show one action of a server, with its events",
        parameters=[SERVER_ID, REQUEST_ID, VERSION_HEADER],
        responses=compute_responses({200: ref("InstanceActionShow")}, 404),
    )
    def get(self, request: Request, server_id: str, request_id: str) -> Response:
        instance, rows = self.actions_of(server_id)
        action = rows.filter(request_id=request_id).first()
        if action is None:
            raise APIFault(
                404, f"Action for request_id {request_id} on instance {server_id} not found"
            )
        action.instance = instance
        body = self.action_body(action)
        if self.since("2.51") or policy.allowed(
            self.context, "os_compute_api:os-instance-actions:events", instance.project_id
        ):
            body["events"] = [self.event_body(e, instance.project_id) for e in action.events.all()]
        return Response({"instanceAction": body})
