"""The project's drain extension under ``/v2.1/vmdash/``: a host's drain plan — before anything
moves, what a drain would meet for each instance (``compute.selectors.drain``) — and drains
(``compute.services.drains``): start one, show it with its steps, cancel it.

Admins only (rule ``vmdash:hosts:drain``). Every refusal is Nova's text, as the guard words it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.models import DrainJob
from compute.selectors import host_get
from compute.selectors.drain import CHOICES, DrainPlan, drain_get, drain_plan, drain_steps
from compute.services.drains import drain_cancel, drain_start
from dashboard.api import formats
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses, ref
from dashboard.api.faults import APIFault

HOST_NAME = OpenApiParameter("host_name", str, OpenApiParameter.PATH)
RULE = "vmdash:hosts:drain"


def plan_body(plan: DrainPlan) -> dict[str, Any]:
    return {
        "host": plan.host.host,
        "host_status": str(plan.host.host_status),
        "destinations": plan.destinations,
        "choices": list(CHOICES),
        "instances": [
            {
                "id": row.uuid,
                "name": row.instance.name,
                "status": str(row.instance.status),
                "vm_state": row.instance.vm_state,
                "task_state": row.instance.task_state,
                "locked": row.instance.locked,
                "verdict": row.verdict,
                "reason": row.reason,
                "default": row.default,
                "destination": row.destination,
                "choices": row.choices,
            }
            for row in plan.rows
        ],
    }


class HostDrainPlan(ComputeView):
    @extend_schema(
        operation_id="hostDrainPlan",
        tags=["drain (vmdash extension)"],
        summary="What draining a host would meet, per instance (admins)",
        description=(
            "For each instance on the host: every drain choice (live-migrate, cold-migrate, "
            "stop, shelve, leave) with null if it may start now or Nova's refusal text; the "
            "verdict, its reason and the default choice. Moves need another host UP and "
            "enabled with room; a locked instance is not moved even by an admin."
        ),
        parameters=[HOST_NAME, VERSION_HEADER],
        responses=compute_responses({200: ref("DrainPlan")}, 403, 404),
    )
    def get(self, request: Request, host_name: str) -> Response:
        policy.authorize(self.context, RULE)
        host = host_get(host=host_name)
        return Response({"drain_plan": plan_body(drain_plan(context=self.context, host=host))})


DRAIN_ID = OpenApiParameter("drain_id", str, OpenApiParameter.PATH)


def drain_body(job: DrainJob) -> dict[str, Any]:
    steps = []
    for step in drain_steps(job):
        migration = step.migration
        steps.append(
            {
                "id": step.pk,
                "server_id": str(step.instance.uuid),
                "name": step.instance.name,
                "choice": step.choice,
                "state": step.state,
                "attempts": step.attempts,
                "message": step.message or None,
                "request_id": step.request_id or None,
                "migration": None
                if migration is None
                else {
                    "id": migration.pk,
                    "status": migration.status,
                    "memory_total_bytes": migration.memory_total,
                    "memory_processed_bytes": migration.memory_processed,
                    "disk_total_bytes": migration.disk_total,
                    "disk_processed_bytes": migration.disk_processed,
                },
            }
        )
    return {
        "id": job.pk,
        "host": job.host.host,
        "state": job.state,
        "created_at": formats.naive(job.created_at),
        "finished_at": formats.naive(job.finished_at),
        "user_name": job.user_name,
        "steps": steps,
    }


class HostDrains(ComputeView):
    @extend_schema(
        operation_id="hostDrainStart",
        tags=["drain (vmdash extension)"],
        summary="Start draining a host (admins): disables it, one step per instance",
        description=(
            'Body: {"drain": {"choices": {"<server id>": "live-migrate" | "cold-migrate" | '
            '"stop" | "shelve" | "leave"}}}; an instance not named gets the plan\'s default. '
            "The host stays disabled until an admin enables it."
        ),
        parameters=[HOST_NAME, VERSION_HEADER],
        request={
            "application/json": {
                "type": "object",
                "properties": {
                    "drain": {
                        "type": "object",
                        "properties": {
                            "choices": {
                                "type": "object",
                                "additionalProperties": {
                                    "type": "string",
                                    "enum": [
                                        "live-migrate",
                                        "cold-migrate",
                                        "stop",
                                        "shelve",
                                        "leave",
                                    ],
                                },
                            }
                        },
                    }
                },
                "required": ["drain"],
                "additionalProperties": False,
            }
        },
        responses=compute_responses({202: ref("Drain")}, 403, 404, 409, 415),
    )
    def post(self, request: Request, host_name: str) -> Response:
        policy.authorize(self.context, RULE)
        body = request.data if isinstance(request.data, dict) else None
        wrapper = (body or {}).get("drain", {})
        choices = wrapper.get("choices", {}) if isinstance(wrapper, dict) else None
        if body is None or not isinstance(choices, dict) or set(body) - {"drain"}:
            raise APIFault(400, 'Malformed request body: expected {"drain": {"choices": {…}}}')
        if not all(isinstance(v, str) for v in choices.values()):
            raise APIFault(400, "Each drain choice must be a string.")
        host = host_get(host=host_name)
        job = drain_start(context=self.context, host=host, choices=choices)
        return Response({"drain": drain_body(job)}, status=202)


class Drain(ComputeView):
    @extend_schema(
        operation_id="drainShow",
        tags=["drain (vmdash extension)"],
        summary="Show a drain with its steps (admins)",
        parameters=[DRAIN_ID, VERSION_HEADER],
        responses=compute_responses({200: ref("Drain")}, 403, 404),
    )
    def get(self, request: Request, drain_id: str) -> Response:
        policy.authorize(self.context, RULE)
        return Response({"drain": drain_body(drain_get(drain_id))})


class DrainCancel(ComputeView):
    @extend_schema(
        operation_id="drainCancel",
        tags=["drain (vmdash extension)"],
        summary="Cancel a drain (admins): queued steps dropped, live migrations aborted",
        parameters=[DRAIN_ID, VERSION_HEADER],
        request=None,
        responses=compute_responses({202: ref("Drain")}, 403, 404),
    )
    def post(self, request: Request, drain_id: str) -> Response:
        policy.authorize(self.context, RULE)
        job = drain_cancel(context=self.context, job=drain_get(drain_id))
        return Response({"drain": drain_body(job)}, status=202)
