"""``/api/schedules``: the caller's scheduled actions (issue 15, point 3; one-off runs only).

- ``GET /api/schedules``; ``POST /api/schedules`` (``instance``, ``action``, ``run_at``,
  ``time_zone``, ``params``); ``DELETE /api/schedules/{id}`` cancels a pending one.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from compute.exceptions import Invalid
from compute.models import ScheduledAction
from compute.services.schedules import SCHEDULABLE, schedule_cancel, schedule_create
from dashboard.api.base import AuthenticatedView

TAGS = ["schedules"]


def schedule_body(s: ScheduledAction) -> dict[str, Any]:
    return {
        "id": s.pk,
        "instance_uuid": str(s.instance.uuid),
        "action": s.action,
        "params": s.params,
        "run_at": s.run_at.isoformat(),
        "time_zone": s.time_zone,
        "state": s.state,
        "ran_at": s.ran_at.isoformat() if s.ran_at else None,
        "result": s.result or None,
    }


SCHEDULE = inline_serializer(
    "ScheduledAction",
    {
        "id": serializers.IntegerField(),
        "instance_uuid": serializers.UUIDField(),
        "action": serializers.ChoiceField(SCHEDULABLE),
        "params": serializers.DictField(),
        "run_at": serializers.DateTimeField(),
        "time_zone": serializers.CharField(),
        "state": serializers.ChoiceField(ScheduledAction.State.values),
        "ran_at": serializers.DateTimeField(allow_null=True),
        "result": serializers.CharField(allow_null=True),
    },
)


class ScheduleList(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        responses={
            200: inline_serializer(
                "ScheduledActionList", {"schedules": serializers.ListField(child=SCHEDULE)}
            )
        },
    )
    def get(self, request: Request) -> Response:
        rows = ScheduledAction.objects.select_related("instance").filter(
            owner_id=self.context.user_id
        )
        return Response({"schedules": [schedule_body(s) for s in rows.order_by("-id")[:500]]})

    @extend_schema(
        tags=TAGS,
        request=inline_serializer(
            "ScheduledActionRequest",
            {
                "instance": serializers.CharField(),
                "action": serializers.ChoiceField(SCHEDULABLE),
                "run_at": serializers.CharField(help_text="ISO date and time, in time_zone"),
                "time_zone": serializers.CharField(required=False),
                "params": serializers.DictField(required=False),
            },
        ),
        responses={
            201: OpenApiResponse(description="Scheduled"),
            404: OpenApiResponse(description="An instance the caller may not see"),
        },
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise Invalid("The request body must be a JSON object.")
        for key in ("instance", "action", "run_at", "time_zone"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise Invalid(f"'{key}' must be a string.")
        params = body.get("params")
        if params is not None and not isinstance(params, dict):
            raise Invalid("'params' must be an object.")
        created = schedule_create(
            context=self.context,
            instance_uuid=body.get("instance") or "",
            action=body.get("action") or "",
            run_at=body.get("run_at") or "",
            time_zone=body.get("time_zone") or "UTC",
            params=params,
        )
        return Response({"schedule": schedule_body(created)}, status=201)


class ScheduleDetail(AuthenticatedView):
    @extend_schema(tags=TAGS, responses={204: None, 404: OpenApiResponse(description="None such")})
    def delete(self, request: Request, pk: int) -> Response:
        schedule_cancel(context=self.context, schedule_id=pk)
        return Response(status=204)
