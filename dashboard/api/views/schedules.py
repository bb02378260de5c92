"""``/api/schedules``: the caller's scheduled actions (issue 15, point 3).

- ``GET /api/schedules``; ``POST /api/schedules`` — ``action``, ``params``, a target (``instance``,
  ``filter`` — the instances list's ``name``/``status``/``host``/``project_id`` — or
  ``saved_view``, the id of one of the caller's saved views, whose filter is copied), and when
  (``run_at`` once, or ``cron``), read in ``time_zone``.
- ``GET /api/schedules/{id}`` (with its last runs), ``DELETE`` cancels a pending or paused one;
  ``POST /api/schedules/{id}/pause`` and ``…/resume``; ``GET /api/schedules/{id}/runs``.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from compute.context import RequestContext
from compute.exceptions import Invalid, NotFound
from compute.models import ScheduledAction, ScheduleRun
from compute.selectors.schedules import FILTER_KEYS, schedule_runs, schedules_of
from compute.services.schedules import (
    SCHEDULABLE,
    schedule_cancel,
    schedule_create,
    schedule_pause,
    schedule_resume,
)
from dashboard.api.base import AuthenticatedView
from dashboard.models import SavedView

TAGS = ["schedules"]
RUNS_SHOWN = 20


def schedule_body(s: ScheduledAction) -> dict[str, Any]:
    return {
        "id": s.pk,
        "instance_uuid": str(s.instance.uuid) if s.instance else None,
        "filter": s.target_filter,
        "action": s.action,
        "params": s.params,
        "cron": s.cron or None,
        "run_at": s.run_at.isoformat(),
        "time_zone": s.time_zone,
        "state": s.state,
        "ran_at": s.ran_at.isoformat() if s.ran_at else None,
        "last_outcome": s.last_outcome or None,
        "result": s.result or None,
    }


def run_body(r: ScheduleRun) -> dict[str, Any]:
    return {
        "id": r.pk,
        "due_at": r.due_at.isoformat(),
        "ran_at": r.ran_at.isoformat(),
        "outcome": r.outcome,
        "request_id": r.request_id or None,
        "result": r.result,
        "instances": r.outcomes,
    }


def saved_view_filter(context: RequestContext, view_id: object) -> dict[str, str]:
    """The filter of one of the caller's saved views (its list query's filter parameters, and
    its project)."""
    if not isinstance(view_id, int) or isinstance(view_id, bool):
        raise Invalid("'saved_view' must be an integer.")
    view = SavedView.objects.filter(pk=view_id, user_id=context.user_id).first()
    if view is None:
        raise NotFound(f"Saved view {view_id} could not be found.")
    query = QueryDict(view.query)
    kept = {k: query.get(k, "") for k in FILTER_KEYS if query.get(k)}
    if view.project_id:
        kept["project_id"] = view.project_id
    return kept


OUTCOME_HELP = "accepted, refused, skipped, partial (a filter run partly accepted) or empty"


class ScheduleFilterSerializer(serializers.Serializer):
    """The instances list's filter parameters (one component, however often it is used)."""

    name = serializers.CharField(required=False, help_text="Nova's name regex")
    status = serializers.CharField(required=False, help_text="A Nova status, e.g. ACTIVE")
    host = serializers.CharField(required=False, help_text="Admins")
    project_id = serializers.CharField(required=False)


class ScheduleRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    due_at = serializers.DateTimeField()
    ran_at = serializers.DateTimeField()
    outcome = serializers.CharField(help_text=OUTCOME_HELP)
    request_id = serializers.CharField(allow_null=True)
    result = serializers.CharField()
    instances = serializers.ListField(
        child=serializers.DictField(), help_text="uuid, name, outcome, request_id, result"
    )


class ScheduledActionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    instance_uuid = serializers.UUIDField(allow_null=True)
    filter = ScheduleFilterSerializer(allow_null=True)
    action = serializers.ChoiceField(SCHEDULABLE)
    params = serializers.DictField()
    cron = serializers.CharField(allow_null=True)
    run_at = serializers.DateTimeField(help_text="The next run, in UTC")
    time_zone = serializers.CharField()
    state = serializers.ChoiceField(ScheduledAction.State.values)
    ran_at = serializers.DateTimeField(allow_null=True)
    last_outcome = serializers.CharField(allow_null=True, help_text=OUTCOME_HELP)
    result = serializers.CharField(allow_null=True)


class ScheduledActionOneSerializer(serializers.Serializer):
    schedule = ScheduledActionSerializer()


def filter_schema(**kwargs: Any) -> serializers.Serializer:
    return ScheduleFilterSerializer(**kwargs)


def run_schema() -> serializers.Serializer:
    return ScheduleRunSerializer()


def schedule_schema() -> serializers.Serializer:
    return ScheduledActionSerializer()


def one_schema() -> serializers.Serializer:
    return ScheduledActionOneSerializer()


class ScheduleList(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        responses={
            200: inline_serializer(
                "ScheduledActionList", {"schedules": serializers.ListField(child=schedule_schema())}
            )
        },
    )
    def get(self, request: Request) -> Response:
        rows = schedules_of(context=self.context)[:500]
        return Response({"schedules": [schedule_body(s) for s in rows]})

    @extend_schema(
        tags=TAGS,
        request=inline_serializer(
            "ScheduledActionRequest",
            {
                "action": serializers.ChoiceField(SCHEDULABLE),
                "instance": serializers.CharField(required=False, help_text="An instance uuid"),
                "filter": filter_schema(required=False),
                "saved_view": serializers.IntegerField(required=False),
                "run_at": serializers.CharField(
                    required=False, help_text="Once: an ISO date and time, in time_zone"
                ),
                "cron": serializers.CharField(
                    required=False, help_text="Recurring: minute hour day month weekday"
                ),
                "time_zone": serializers.CharField(required=False),
                "params": serializers.DictField(required=False),
            },
        ),
        responses={
            201: one_schema(),
            400: OpenApiResponse(description="A bad target, moment, cron or action"),
            404: OpenApiResponse(description="An instance or saved view the caller may not see"),
        },
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise Invalid("The request body must be a JSON object.")
        for key in ("instance", "action", "run_at", "cron", "time_zone"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise Invalid(f"'{key}' must be a string.")
        params, target_filter = body.get("params"), body.get("filter")
        if params is not None and not isinstance(params, dict):
            raise Invalid("'params' must be an object.")
        if target_filter is not None and not isinstance(target_filter, dict):
            raise Invalid("'filter' must be an object.")
        if body.get("saved_view") is not None:
            if target_filter is not None:
                raise Invalid("Give either 'filter' or 'saved_view', not both.")
            target_filter = saved_view_filter(self.context, body["saved_view"])
        created = schedule_create(
            context=self.context,
            action=body.get("action") or "",
            instance_uuid=body.get("instance") or "",
            target_filter=target_filter,
            run_at=body.get("run_at") or "",
            cron=body.get("cron") or "",
            time_zone=body.get("time_zone") or "UTC",
            params=params,
        )
        return Response({"schedule": schedule_body(created)}, status=201)


def _own(context: RequestContext, pk: int) -> ScheduledAction:
    found = schedules_of(context=context).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"Scheduled action {pk} could not be found.")
    return found


class ScheduleDetail(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        operation_id="scheduleShow",
        responses={
            200: inline_serializer(
                "ScheduledActionDetail",
                {"schedule": schedule_schema(), "runs": serializers.ListField(child=run_schema())},
            ),
            404: OpenApiResponse(description="None such"),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        found = _own(self.context, pk)
        runs = schedule_runs(context=self.context, schedule_id=pk)[:RUNS_SHOWN]
        return Response({"schedule": schedule_body(found), "runs": [run_body(r) for r in runs]})

    @extend_schema(tags=TAGS, responses={204: None, 404: OpenApiResponse(description="None such")})
    def delete(self, request: Request, pk: int) -> Response:
        schedule_cancel(context=self.context, schedule_id=pk)
        return Response(status=204)


class ScheduleRuns(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        operation_id="scheduleRuns",
        responses={
            200: inline_serializer(
                "ScheduleRunList", {"runs": serializers.ListField(child=run_schema())}
            ),
            404: OpenApiResponse(description="None such"),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        _own(self.context, pk)
        runs = schedule_runs(context=self.context, schedule_id=pk)[:500]
        return Response({"runs": [run_body(r) for r in runs]})


class SchedulePause(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        operation_id="schedulePause",
        request=None,
        responses={200: one_schema(), 404: OpenApiResponse(description="No pending schedule")},
    )
    def post(self, request: Request, pk: int) -> Response:
        return Response(
            {"schedule": schedule_body(schedule_pause(context=self.context, schedule_id=pk))}
        )


class ScheduleResume(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        operation_id="scheduleResume",
        request=None,
        responses={200: one_schema(), 404: OpenApiResponse(description="No paused schedule")},
    )
    def post(self, request: Request, pk: int) -> Response:
        resumed = schedule_resume(context=self.context, schedule_id=pk)
        return Response({"schedule": schedule_body(resumed)})
