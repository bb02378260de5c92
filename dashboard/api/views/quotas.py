"""``/v2.1/limits``, ``/v2.1/os-quota-sets`` and ``/v2.1/os-quota-class-sets``, as Nova's.

The keys shown depend on the microversion: the network quotas go in 2.36 (quota sets, limits)
and 2.50 (class sets, which gain the server-group ones then), the injected-file ones in 2.57.
Limits and usage come from ``compute.services.quotas``; the create, resize and unshelve checks too.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.models import Project
from compute.services import quotas
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault
from dashboard.api.microversions import MAX_VERSION, APIVersion
from dashboard.api.schemas.types import truthy
from dashboard.api.validation import validate

NETWORK = ("fixed_ips", "floating_ips", "security_group_rules", "security_groups")
INJECTED = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
SERVER_GROUPS = ("server_groups", "server_group_members")
_DOC = {"parameters": [VERSION_HEADER]}


def quota_keys(version: APIVersion) -> list[str]:
    keys = list(quotas.DEFAULTS)
    if version.at_least("2.36"):
        keys = [k for k in keys if k not in NETWORK]
    if version.at_least("2.57"):
        keys = [k for k in keys if k not in INJECTED]
    return keys


def class_keys(version: APIVersion) -> list[str]:
    keys = list(quotas.DEFAULTS)
    if version.at_least("2.50"):
        keys = [k for k in keys if k not in NETWORK]
    else:
        keys = [k for k in keys if k not in SERVER_GROUPS]
    if version.at_least("2.57"):
        keys = [k for k in keys if k not in INJECTED]
    return keys


def _update_schema(keys: list[str], wrapper: str, *, force: bool) -> dict[str, Any]:
    value = {"type": ["integer", "string"], "pattern": r"^-?[0-9]+$", "minimum": -1}
    properties: dict[str, Any] = {k: value for k in keys}
    if force:
        properties["force"] = {"type": ["boolean", "string"]}
    return {
        "type": "object",
        "properties": {
            wrapper: {"type": "object", "properties": properties, "additionalProperties": False}
        },
        "required": [wrapper],
        "additionalProperties": False,
    }


class Limits(ComputeView):
    @extend_schema(operation_id="limitsShow", tags=["limits"], summary="Absolute limits",
                   responses=compute_responses({200: None}, 403), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        project_id = request.query_params.get("tenant_id") or self.context.project_id
        if project_id != self.context.project_id:
            policy.authorize(self.context, "os_compute_api:limits:other_project")
        limit = quotas.project_limits(project_id)
        used = quotas.project_usage(project_id, user_id=str(self.context.user_id))
        absolute = {
            "maxImageMeta": limit["metadata_items"],
            "maxPersonality": limit["injected_files"],
            "maxPersonalitySize": limit["injected_file_content_bytes"],
            "maxSecurityGroupRules": limit["security_group_rules"],
            "maxSecurityGroups": limit["security_groups"],
            "maxServerMeta": limit["metadata_items"],
            "maxTotalCores": limit["cores"],
            "maxTotalFloatingIps": limit["floating_ips"],
            "maxTotalInstances": limit["instances"],
            "maxTotalKeypairs": limit["key_pairs"],
            "maxTotalRAMSize": limit["ram"],
            "maxServerGroups": limit["server_groups"],
            "maxServerGroupMembers": limit["server_group_members"],
            "totalCoresUsed": used["cores"],
            "totalInstancesUsed": used["instances"],
            "totalRAMUsed": used["ram"],
            "totalFloatingIpsUsed": 0,
            "totalSecurityGroupsUsed": 1,
            "totalServerGroupsUsed": used["server_groups"],
        }
        if self.since("2.36"):
            for key in ("maxSecurityGroupRules", "maxSecurityGroups", "maxTotalFloatingIps",
                        "totalFloatingIpsUsed", "totalSecurityGroupsUsed"):  # fmt: skip
                del absolute[key]
        if self.since("2.39"):  # the image metadata API is gone, and its limit with it
            del absolute["maxImageMeta"]
        if self.since("2.57"):
            del absolute["maxPersonality"], absolute["maxPersonalitySize"]
        return Response({"limits": {"rate": [], "absolute": absolute}})


class QuotaSetBase(ComputeView):
    def body(self, project_id: str, *, detail: bool = False, with_id: bool = True) -> dict:
        limits = quotas.project_limits(project_id)
        keys = quota_keys(self.version)
        if detail:
            used = quotas.project_usage(project_id, user_id=str(self.context.user_id))
            out: dict[str, Any] = {
                k: {"limit": limits[k], "in_use": used[k], "reserved": 0} for k in keys
            }
        else:
            out = {k: limits[k] for k in keys}
        if with_id:
            out["id"] = project_id
        return out

    def may_read(self, project_id: str) -> None:
        policy.authorize(self.context, "os_compute_api:os-quota-sets:show", project_id)


class QuotaSet(QuotaSetBase):
    @extend_schema(operation_id="quotaSetShow", tags=["quotas"], summary="A project's quotas",
                   responses=compute_responses({200: None}, 403), **_DOC)  # fmt: skip
    def get(self, request: Request, project_id: str) -> Response:
        self.may_read(project_id)
        return Response({"quota_set": self.body(project_id)})

    @extend_schema(operation_id="quotaSetUpdate", request={"application/json": _update_schema(quota_keys(MAX_VERSION), "quota_set", force=True)},
                    tags=["quotas"], summary="Set quotas (admin)",
                   responses=compute_responses({200: None}, 403, 415), **_DOC)  # fmt: skip
    def put(self, request: Request, project_id: str) -> Response:
        policy.authorize(self.context, "os_compute_api:os-quota-sets:update")
        keys = quota_keys(self.version)
        validate(request.data, _update_schema(keys, "quota_set", force=True))
        values = dict(request.data["quota_set"])
        force = truthy(values.pop("force", False))
        wanted = {k: int(v) for k, v in values.items()}
        if not force:
            used = quotas.project_usage(project_id)
            for resource, limit in wanted.items():
                if limit != -1 and limit < used.get(resource, 0):
                    raise APIFault(
                        400,
                        f"Quota limit {limit} for {resource} must be greater than or equal to "
                        f"already used and reserved {used[resource]}.",
                    )
        quotas.quota_update(project_id=project_id, values=wanted)
        return Response({"quota_set": self.body(project_id, with_id=False)})

    @extend_schema(operation_id="quotaSetDelete", tags=["quotas"],
                   summary="Revert a project's quotas to the defaults (admin)",
                   responses=compute_responses({202: None}, 403), **_DOC)  # fmt: skip
    def delete(self, request: Request, project_id: str) -> Response:
        policy.authorize(self.context, "os_compute_api:os-quota-sets:delete")
        quotas.quota_delete(project_id=project_id)
        return Response(status=202)


class QuotaSetDetail(QuotaSetBase):
    @extend_schema(operation_id="quotaSetDetail", tags=["quotas"],
                   summary="A project's quotas with usage",
                   responses=compute_responses({200: None}, 403), **_DOC)  # fmt: skip
    def get(self, request: Request, project_id: str) -> Response:
        self.may_read(project_id)
        return Response({"quota_set": self.body(project_id, detail=True)})


class QuotaSetDefaults(QuotaSetBase):
    @extend_schema(operation_id="quotaSetDefaults", tags=["quotas"], summary="Default quotas",
                   responses=compute_responses({200: None}), **_DOC)  # fmt: skip
    def get(self, request: Request, project_id: str) -> Response:
        limits = quotas.class_limits()
        body: dict[str, Any] = {k: limits[k] for k in quota_keys(self.version)}
        body["id"] = project_id
        return Response({"quota_set": body})


class QuotaClassSet(ComputeView):
    @extend_schema(operation_id="quotaClassShow", tags=["quotas"], summary="A quota class",
                   responses=compute_responses({200: None}, 403), **_DOC)  # fmt: skip
    def get(self, request: Request, class_name: str) -> Response:
        policy.authorize(self.context, "os_compute_api:os-quota-class-sets:show")
        limits = quotas.class_limits(class_name)
        body: dict[str, Any] = {k: limits[k] for k in class_keys(self.version)}
        body["id"] = class_name
        return Response({"quota_class_set": body})

    @extend_schema(operation_id="quotaClassUpdate", request={"application/json": _update_schema(class_keys(MAX_VERSION), "quota_class_set", force=False)},
                    tags=["quotas"], summary="Set a quota class",
                   responses=compute_responses({200: None}, 403, 415), **_DOC)  # fmt: skip
    def put(self, request: Request, class_name: str) -> Response:
        policy.authorize(self.context, "os_compute_api:os-quota-class-sets:update")
        keys = class_keys(self.version)
        validate(request.data, _update_schema(keys, "quota_class_set", force=False))
        values = {k: int(v) for k, v in request.data["quota_class_set"].items()}
        quotas.quota_class_update(class_name=class_name, values=values)
        limits = quotas.class_limits(class_name)
        return Response({"quota_class_set": {k: limits[k] for k in keys}})


def project_exists(project_id: str) -> bool:
    return Project.objects.filter(pk=project_id).exists()
