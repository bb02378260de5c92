"""``/v2.1/vmdash/hosts/{host}/drain-plan``: the project's extension that answers, before anything
moves, what a drain of the host would meet for each instance (``compute.selectors.drain``).

Admins only (rule ``vmdash:hosts:drain``). Every refusal is Nova's text, as the guard words it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.selectors import host_get
from compute.selectors.drain import CHOICES, DrainPlan, drain_plan
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses, ref

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
