"""``/v2.1/os-security-groups``, ``/v2.1/os-security-group-rules`` (both before 2.36) and
``/v2.1/servers/{id}/os-security-groups``: Nova's proxy API over ``compute.services.security_groups``,
its bodies (``tenant_id``, ``rules`` with ``ip_protocol``, ``ip_range`` or ``group``) and its
answers to Neutron's refusals."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute.models import SecurityGroup, SecurityGroupRule
from compute.selectors import instance_get
from compute.selectors.server_extras import security_groups_of, server_extras_of
from compute.services import security_groups as sg
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault
from dashboard.api.schemas import types as t
from dashboard.api.validation import validate

_DOC = {"parameters": [VERSION_HEADER], "tags": ["security groups"]}
_TEXT = {"type": "string", "minLength": 0, "maxLength": 255}
GROUP_BODY = t.wrapped(
    "security_group",
    {"type": "object", "properties": {"name": _TEXT, "description": _TEXT},
     "required": ["name", "description"]},
)  # fmt: skip
RULE_BODY = t.wrapped(
    "security_group_rule",
    {"type": "object",
     "properties": {"group_id": {"type": ["string", "null"], "format": "uuid"},
                    "parent_group_id": {"type": "string", "format": "uuid"}},
     "required": ["parent_group_id"]},
)  # fmt: skip


def rule_view(rule: SecurityGroupRule) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(rule.uuid),
        "parent_group_id": str(rule.group.uuid),
        "ip_protocol": rule.protocol,
        "from_port": rule.from_port,
        "to_port": rule.to_port,
        "group": {},
        "ip_range": {},
    }
    if rule.remote_group is not None:
        body["group"] = {"name": rule.remote_group.name, "tenant_id": rule.remote_group.project_id}
    else:
        body["ip_range"] = {"cidr": rule.cidr}
    return body


def group_view(group: SecurityGroup) -> dict[str, Any]:
    return {
        "id": str(group.uuid),
        "name": group.name,
        "description": group.description,
        "tenant_id": group.project_id,
        "rules": [rule_view(r) for r in group.rules.all()],
    }


def _sorted(groups: list[SecurityGroup]) -> list[dict[str, Any]]:
    return sorted((group_view(g) for g in groups), key=lambda g: (g["tenant_id"], g["name"]))


class ProxyView(ComputeView):
    """Nova's proxy to Neutron: gone from 2.36."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.since("2.36"):
            raise APIFault(404, f"API version {self.version} is not supported on this method.")


class SecurityGroupList(ProxyView):
    @extend_schema(operation_id="securityGroupList",
                   summary="The project's security groups (deprecated; before 2.36)",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        groups = sg.security_group_list(
            context=self.context, all_tenants="all_tenants" in request.query_params
        )
        return Response({"security_groups": _sorted(groups)})

    @extend_schema(operation_id="securityGroupCreate",
                   summary="Create a security group (deprecated; before 2.36)",
                   request={"application/json": GROUP_BODY},
                   responses=compute_responses({200: None}, 403, 404, 415), **_DOC)  # fmt: skip
    def post(self, request: Request) -> Response:
        validate(request.data, GROUP_BODY)
        body = request.data["security_group"]
        group = sg.security_group_create(
            context=self.context, name=body["name"], description=body["description"]
        )
        return Response({"security_group": group_view(group)})

    @extend_schema(operation_id="securityGroupDeleteNoId",
                   summary="Delete with no group id: 404, as Nova (before 2.36)",
                   responses=compute_responses({}, 404), **_DOC)  # fmt: skip
    def delete(self, request: Request) -> Response:
        raise APIFault(404, "The resource could not be found.")


class SecurityGroupItem(ProxyView):
    @extend_schema(operation_id="securityGroupShow",
                   summary="A security group (deprecated; before 2.36)",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, group_id: str) -> Response:
        group = sg.security_group_get(context=self.context, group_id=group_id)
        return Response({"security_group": group_view(group)})

    @extend_schema(operation_id="securityGroupUpdate",
                   summary="Rename or describe a security group (deprecated; before 2.36)",
                   request={"application/json": GROUP_BODY},
                   responses=compute_responses({200: None}, 404, 415), **_DOC)  # fmt: skip
    def put(self, request: Request, group_id: str) -> Response:
        group = sg.security_group_get(context=self.context, group_id=group_id)
        validate(request.data, GROUP_BODY)
        body = request.data["security_group"]
        group = sg.security_group_update(
            context=self.context, group=group, name=body["name"], description=body["description"]
        )
        return Response({"security_group": group_view(group)})

    @extend_schema(operation_id="securityGroupDelete",
                   summary="Delete a security group no server uses (deprecated; before 2.36)",
                   responses=compute_responses({202: None}, 404), **_DOC)  # fmt: skip
    def delete(self, request: Request, group_id: str) -> Response:
        group = sg.security_group_get(context=self.context, group_id=group_id)
        sg.security_group_delete(context=self.context, group=group)
        return Response(status=202)


class SecurityGroupRuleCreate(ProxyView):
    @extend_schema(operation_id="securityGroupRuleCreate",
                   summary="Add an ingress rule to a group (deprecated; before 2.36)",
                   request={"application/json": RULE_BODY},
                   responses=compute_responses({200: None}, 404, 415), **_DOC)  # fmt: skip
    def post(self, request: Request) -> Response:
        validate(request.data, RULE_BODY)
        body = request.data["security_group_rule"]
        rule = sg.rule_create(
            context=self.context,
            parent_group_id=body["parent_group_id"],
            group_id=body.get("group_id"),
            protocol=body.get("ip_protocol"),
            from_port=body.get("from_port"),
            to_port=body.get("to_port"),
            cidr=body.get("cidr"),
        )
        return Response({"security_group_rule": rule_view(rule)})


class SecurityGroupRuleItem(ProxyView):
    @extend_schema(operation_id="securityGroupRuleDelete",
                   summary="Delete a rule (deprecated; before 2.36)",
                   responses=compute_responses({202: None}, 404), **_DOC)  # fmt: skip
    def delete(self, request: Request, rule_id: str) -> Response:
        sg.rule_delete(context=self.context, rule_id=rule_id)
        return Response(status=202)


class ServerSecurityGroups(ComputeView):
    @extend_schema(operation_id="serverSecurityGroups", summary="A server's security groups",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, server_id: str) -> Response:
        instance = instance_get(context=self.context, instance_uuid=server_id, joined=())
        names = security_groups_of(server_extras_of(instance))
        groups = sg.server_security_groups(instance=instance, names=names)
        return Response({"security_groups": _sorted(groups)})
