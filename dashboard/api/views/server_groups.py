"""``/v2.1/os-server-groups``: Nova's server groups per microversion (``policies`` before 2.64,
``policy`` and ``rules`` from 2.64; ``project_id``/``user_id`` from 2.13; soft policies from
2.15). Membership comes from the ``group`` scheduler hint at create (``compute.services.server_groups``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.models import ServerGroup
from compute.services.server_groups import live_members, server_group_create, server_group_get
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, Latest, compute_responses
from dashboard.api.faults import APIFault
from dashboard.api.schemas import types as t
from dashboard.api.validation import validate

_DOC = {"parameters": [VERSION_HEADER], "tags": ["server groups"]}


def create_schema(view: ComputeView) -> t.Schema:
    hard = ["affinity", "anti-affinity"]
    policies = hard + (["soft-affinity", "soft-anti-affinity"] if view.since("2.15") else [])
    group: t.Schema = {"name": t.NAME}
    required: tuple[str, ...]
    if view.since("2.64"):
        group["policy"] = {"type": "string", "enum": policies}
        group["rules"] = {
            "type": "object",
            "properties": {"max_server_per_host": t.POSITIVE_INTEGER},
            "additionalProperties": False,
        }
        required = ("name", "policy")
    else:
        group["policies"] = {
            "type": "array",
            "items": {"type": "string", "enum": policies},
            "uniqueItems": True,
            "minItems": 1,
            "maxItems": 1,
        }
        required = ("name", "policies")
    return t.wrapped("server_group", t.obj(group, required=required))


class ServerGroupsBase(ComputeView):
    def view(self, group: ServerGroup) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(group.uuid),
            "name": group.name,
            "members": live_members(group),
        }
        if self.since("2.64"):
            body["policy"] = group.policy
            body["rules"] = dict(group.rules or {})
        else:
            body["policies"] = [group.policy]
            body["metadata"] = {}
        if self.since("2.13"):
            body["project_id"] = group.project_id
            body["user_id"] = group.user_id
        return body

    def visible(self) -> frozenset[str] | None:
        return None if self.context.is_admin else self.context.project_ids


class ServerGroupList(ServerGroupsBase):
    @extend_schema(operation_id="serverGroupList", summary="List server groups",
                   responses=compute_responses({200: None}, 403), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        rows = ServerGroup.objects.order_by("created_at", "id")
        all_projects = request.query_params.get("all_projects")
        if all_projects is None or not policy.allowed(
            self.context, "os_compute_api:os-server-groups:index:all_projects"
        ):
            rows = rows.filter(project_id=self.context.project_id)
        groups = list(rows)
        offset = int(request.query_params.get("offset", 0) or 0)
        limit = request.query_params.get("limit")
        groups = groups[offset : offset + int(limit)] if limit else groups[offset:]
        return Response({"server_groups": [self.view(g) for g in groups]})

    @extend_schema(operation_id="serverGroupCreate", request={"application/json": create_schema(Latest())},
                    summary="Create a server group",
                   responses=compute_responses({200: None}, 403, 415), **_DOC)  # fmt: skip
    def post(self, request: Request) -> Response:
        validate(request.data, create_schema(self))
        given = request.data["server_group"]
        policy = given["policy"] if self.since("2.64") else given["policies"][0]
        rules = dict(given.get("rules") or {})
        if rules and policy != "anti-affinity":
            raise APIFault(400, "Only anti-affinity policy supports rules.")
        if self.context.project_id is None:
            raise APIFault(400, "A project-scoped token is required.")
        group = server_group_create(
            project_id=self.context.project_id,
            user_id=str(self.context.user_id),
            name=given["name"],
            policy=policy,
            rules=rules,
        )
        return Response({"server_group": self.view(group)})


class ServerGroupItem(ServerGroupsBase):
    @extend_schema(operation_id="serverGroupShow", summary="Show a server group",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, group_id: str) -> Response:
        group = server_group_get(group_id=group_id, project_ids=self.visible())
        return Response({"server_group": self.view(group)})

    @extend_schema(operation_id="serverGroupDelete", summary="Delete a server group",
                   responses=compute_responses({204: None}, 404), **_DOC)  # fmt: skip
    def delete(self, request: Request, group_id: str) -> Response:
        server_group_get(group_id=group_id, project_ids=self.visible()).delete()
        return Response(status=204)
