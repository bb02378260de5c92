"""``/v2.1/os-aggregates`` (admin): list, create, show, update, delete, and the actions
``add_host``, ``remove_host`` and ``set_metadata``; ``uuid`` shown from 2.41. Rules and texts
are ``compute.services.aggregates``'.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.models import Aggregate
from compute.services import aggregates
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault
from dashboard.api.formats import naive
from dashboard.api.schemas import types as t
from dashboard.api.validation import validate

_DOC = {"parameters": [VERSION_HEADER], "tags": ["aggregates"]}
ZONE = {"oneOf": [t.NAME, {"type": "null"}]}
CREATE = t.wrapped(
    "aggregate", t.obj({"name": t.NAME, "availability_zone": ZONE}, required=("name",))
)
UPDATE = t.wrapped(
    "aggregate",
    {**t.obj({"name": t.NAME, "availability_zone": ZONE}), "minProperties": 1},
)
HOST = t.obj({"host": t.NAME}, required=("host",))
METADATA = t.obj(
    {
        "metadata": {
            "type": "object",
            "patternProperties": {
                r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": ["string", "null"], "maxLength": 255}
            },
            "additionalProperties": False,
        }
    },
    required=("metadata",),
)
ACTION = {
    "oneOf": [
        t.wrapped("add_host", HOST),
        t.wrapped("remove_host", HOST),
        t.wrapped("set_metadata", METADATA),
    ]
}


class AggregatesBase(ComputeView):
    rule = "index"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        rule = {"GET": self.rule, "POST": "create", "PUT": "update", "DELETE": "delete"}.get(
            request.method or "GET", self.rule
        )
        policy.authorize(self.context, f"os_compute_api:os-aggregates:{rule}")

    def view(self, aggregate: Aggregate, *, full: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "availability_zone": aggregate.availability_zone,
            "created_at": naive(aggregate.created_at),
            "deleted": False,
            "deleted_at": None,
            "id": aggregate.pk,
            "name": aggregate.name,
            "updated_at": naive(aggregate.updated_at),
        }
        if full:
            body["hosts"] = list(aggregate.hosts or [])
            body["metadata"] = dict(aggregate.metadata or {})
        if self.since("2.41"):
            body["uuid"] = str(aggregate.uuid)
        return body


class AggregateList(AggregatesBase):
    @extend_schema(operation_id="aggregateList", summary="List host aggregates (admin)",
                   responses=compute_responses({200: None}, 403), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        rows = Aggregate.objects.order_by("id")
        return Response({"aggregates": [self.view(a) for a in rows]})

    @extend_schema(operation_id="aggregateCreate", summary="Create a host aggregate (admin)",
                   request={"application/json": CREATE},
                   responses=compute_responses({200: None}, 403, 409, 415), **_DOC)  # fmt: skip
    def post(self, request: Request) -> Response:
        validate(request.data, CREATE)
        given = request.data["aggregate"]
        aggregate = aggregates.aggregate_create(
            name=given["name"].strip(), availability_zone=given.get("availability_zone")
        )
        return Response({"aggregate": self.view(aggregate, full=False)})


class AggregateItem(AggregatesBase):
    rule = "show"

    @extend_schema(operation_id="aggregateShow", summary="Show a host aggregate (admin)",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, aggregate_id: str) -> Response:
        return Response(
            {"aggregate": self.view(aggregates.aggregate_get(aggregate_id=aggregate_id))}
        )

    @extend_schema(operation_id="aggregateUpdate", summary="Rename or re-zone an aggregate",
                   request={"application/json": UPDATE},
                   responses=compute_responses({200: None}, 403, 404, 409, 415), **_DOC)  # fmt: skip
    def put(self, request: Request, aggregate_id: str) -> Response:
        validate(request.data, UPDATE)
        aggregate = aggregates.aggregate_get(aggregate_id=aggregate_id)
        given = request.data["aggregate"]
        aggregate = aggregates.aggregate_update(
            aggregate=aggregate,
            name=given.get("name"),
            availability_zone=given.get("availability_zone", ...),
        )
        return Response({"aggregate": self.view(aggregate)})

    @extend_schema(operation_id="aggregateDelete", summary="Delete an empty aggregate (admin)",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def delete(self, request: Request, aggregate_id: str) -> Response:
        aggregates.aggregate_delete(aggregate=aggregates.aggregate_get(aggregate_id=aggregate_id))
        return Response(status=200)


class AggregateAction(AggregatesBase):
    rule = "add_host"

    @extend_schema(operation_id="aggregateAction",
                   summary="add_host, remove_host or set_metadata (admin)",
                   request={"application/json": ACTION},
                   responses=compute_responses({200: None}, 403, 404, 409, 415), **_DOC)  # fmt: skip
    def post(self, request: Request, aggregate_id: str) -> Response:
        body = request.data
        if not isinstance(body, dict) or len(body) != 1:
            raise APIFault(400, "Malformed request body")
        validate(body, ACTION)
        aggregate = aggregates.aggregate_get(aggregate_id=aggregate_id)
        key, value = next(iter(body.items()))
        if key == "add_host":
            aggregate = aggregates.aggregate_add_host(aggregate=aggregate, host=value["host"])
        elif key == "remove_host":
            aggregate = aggregates.aggregate_remove_host(aggregate=aggregate, host=value["host"])
        else:
            aggregate = aggregates.aggregate_set_metadata(
                aggregate=aggregate, metadata=value["metadata"]
            )
        return Response({"aggregate": self.view(aggregate)})
