"""``/api/tasks``: the task centre for scripts (issue 15). Not a Nova API: Nova's per-server
``os-instance-actions`` is the nearest; this lists across every instance the caller may see.

- ``GET /api/tasks?outcome=&action=&instance=&limit=&offset=``
- ``POST /api/tasks/{id}/cancel``: a queued action no agent has taken (409 otherwise).
- ``POST /api/tasks/{id}/abort``: a live migration in progress (Nova's abort: 409 otherwise).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from compute.exceptions import Invalid
from compute.selectors.tasks import OUTCOMES, TaskRow, task_rows, visible_actions
from compute.services.tasks import action_abort, action_cancel
from dashboard.api.base import AuthenticatedView
from dashboard.api.validation import query_int

MAX_LIMIT = 1000
TAGS = ["tasks"]


def task_body(t: TaskRow) -> dict[str, Any]:
    a = t.action
    return {
        "id": a.pk,
        "action": a.action,
        "instance_uuid": str(a.instance.uuid),
        "instance_name": a.instance.name,
        "project_id": a.project_id,
        "user_name": a.user_name,
        "request_id": a.request_id,
        "start_time": a.start_time.isoformat(),
        "finish_time": a.finish_time.isoformat() if a.finish_time else None,
        "outcome": t.outcome,
        "progress": a.instance.progress if t.outcome == "running" else None,
        "task_state": a.instance.task_state if t.outcome == "running" else None,
        "elapsed": round(t.elapsed, 3),
        "limit": t.limit,
        "limit_name": t.limit_name,
        "fault": t.fault or None,
        "reaped": t.reaped,
        "can_cancel": t.can_cancel,
        "can_reset": t.can_reset,
        "can_abort": t.can_abort,
        "migration_id": t.abort_migration_id,
    }


TASK = inline_serializer(
    "Task",
    {
        "id": serializers.IntegerField(),
        "action": serializers.CharField(),
        "instance_uuid": serializers.UUIDField(),
        "instance_name": serializers.CharField(),
        "project_id": serializers.CharField(),
        "user_name": serializers.CharField(),
        "request_id": serializers.CharField(),
        "start_time": serializers.DateTimeField(),
        "finish_time": serializers.DateTimeField(allow_null=True),
        "outcome": serializers.ChoiceField(OUTCOMES),
        "progress": serializers.IntegerField(allow_null=True),
        "task_state": serializers.CharField(allow_null=True),
        "elapsed": serializers.FloatField(),
        "limit": serializers.FloatField(),
        "limit_name": serializers.CharField(),
        "fault": serializers.CharField(allow_null=True),
        "reaped": serializers.BooleanField(),
        "can_cancel": serializers.BooleanField(),
        "can_reset": serializers.BooleanField(),
        "can_abort": serializers.BooleanField(),
        "migration_id": serializers.IntegerField(allow_null=True),
    },
)


class TaskList(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        parameters=[
            OpenApiParameter("outcome", str, enum=list(OUTCOMES)),
            OpenApiParameter("action", str),
            OpenApiParameter("instance", str, description="name or uuid"),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={
            200: inline_serializer("TaskList", {"tasks": serializers.ListField(child=TASK)})
        },
    )
    def get(self, request: Request) -> Response:
        outcome = request.query_params.get("outcome", "")
        if outcome and outcome not in OUTCOMES:
            raise Invalid(f"Invalid outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}.")
        limit = min(query_int(request, "limit", 100), MAX_LIMIT)
        offset = query_int(request, "offset", 0)
        rows = visible_actions(
            context=self.context,
            outcome=outcome,
            action=request.query_params.get("action", ""),
            instance=request.query_params.get("instance", ""),
        )[offset : offset + limit]
        found = task_rows(context=self.context, actions_page=list(rows))
        return Response({"tasks": [task_body(t) for t in found]})


class TaskCancel(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses={
            202: OpenApiResponse(description="Cancelled: the task is cleared"),
            404: OpenApiResponse(description="No such action the caller may see"),
            409: OpenApiResponse(description="Already taken by its agent, or not a queued action"),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        action_cancel(context=self.context, action_id=pk)
        return Response(status=202)


class TaskAbort(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses={
            202: OpenApiResponse(description="Abort asked: the migration ends cancelled"),
            404: OpenApiResponse(description="No such action the caller may see"),
            409: OpenApiResponse(description="Not a live migration in progress"),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        action_abort(context=self.context, action_id=pk)
        return Response(status=202)
