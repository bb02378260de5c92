"""``/v2.1/os-simple-tenant-usage`` and ``/v2.1/os-instance_usage_audit_log``, as Nova's.

Usage is Nova's arithmetic over the instances that existed in [start, end): each one's hours in
the window times its flavor's vcpus, memory and disk. The audit log reports the periodic
``instance_usage_audit`` task, which this cloud does not run: every host is listed as not run
and no instance was audited, which is what Nova reports with ``instance_usage_audit = False``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.models import Instance
from compute.selectors import host_list
from compute.selectors.inventory import instances_overlapping
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault
from dashboard.api.schemas.types import truthy

_DOC = {"parameters": [VERSION_HEADER], "tags": ["usage"]}
FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f",
           "%Y-%m-%d %H:%M:%S")  # fmt: skip


def _parse(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    text = value.rstrip("Z")
    for form in FORMATS:
        try:
            return datetime.strptime(text, form).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise APIFault(400, f"Invalid start time or end time: {value}")


def _naive(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def _window(request: Request) -> tuple[datetime, datetime]:
    now = timezone.now()
    start = _parse(request.query_params.get("start"), now)
    end = _parse(request.query_params.get("end"), now)
    if start > end:
        raise APIFault(400, "Invalid start time. The start time cannot occur after the end time.")
    return start, min(end, now) if end > now else end


def server_usage(instance: Instance, start: datetime, end: datetime) -> dict[str, Any]:
    began = max(instance.created_at, start)
    ended = min(instance.deleted_at or end, end)
    hours = max((ended - began).total_seconds(), 0) / 3600
    flavor = instance.flavor
    gone = instance.deleted_at
    return {
        "instance_id": str(instance.uuid),
        "name": instance.name,
        "hours": hours,
        "memory_mb": flavor.ram,
        "local_gb": flavor.disk + flavor.ephemeral,
        "vcpus": flavor.vcpus,
        "tenant_id": instance.project_id,
        "flavor": flavor.name,
        "started_at": _naive(instance.created_at),
        "ended_at": _naive(gone) if gone else None,
        "state": "terminated" if gone else instance.vm_state,
        "uptime": int(((gone or timezone.now()) - instance.created_at).total_seconds()),
    }


def tenant_usage(
    project_id: str, rows: list[Instance], start: datetime, end: datetime, *, detailed: bool
) -> dict[str, Any]:
    servers = [server_usage(i, start, end) for i in rows]
    body: dict[str, Any] = {
        "tenant_id": project_id,
        "total_local_gb_usage": sum(s["local_gb"] * s["hours"] for s in servers),
        "total_vcpus_usage": sum(s["vcpus"] * s["hours"] for s in servers),
        "total_memory_mb_usage": sum(s["memory_mb"] * s["hours"] for s in servers),
        "total_hours": sum(s["hours"] for s in servers),
        "start": _naive(start),
        "stop": _naive(end),
    }
    if detailed:
        body["server_usages"] = servers
    return body


class TenantUsageList(ComputeView):
    @extend_schema(operation_id="tenantUsageList", summary="Usage of every project (admin)",
                   responses=compute_responses({200: None}, 403), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        policy.authorize(self.context, "os_compute_api:os-simple-tenant-usage:list")
        start, end = _window(request)
        detailed = truthy(request.query_params.get("detailed", "0"))
        by_project: dict[str, list[Instance]] = {}
        for instance in instances_overlapping(start=start, end=end):
            by_project.setdefault(instance.project_id, []).append(instance)
        return Response(
            {
                "tenant_usages": [
                    tenant_usage(p, rows, start, end, detailed=detailed)
                    for p, rows in by_project.items()
                ]
            }
        )


class TenantUsageShow(ComputeView):
    @extend_schema(operation_id="tenantUsageShow", summary="Usage of one project",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, project_id: str) -> Response:
        policy.authorize(self.context, "os_compute_api:os-simple-tenant-usage:show", project_id)
        start, end = _window(request)
        rows = instances_overlapping(start=start, end=end, project_id=project_id)
        if not rows:
            return Response({"tenant_usage": {}})
        return Response({"tenant_usage": tenant_usage(project_id, rows, start, end, detailed=True)})


def _audit(before: datetime) -> dict[str, Any]:
    ending = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    beginning = (ending - timedelta(days=1)).replace(day=1)
    hosts = [h.host for h in host_list()]
    return {
        "hosts_not_run": hosts,
        "log": {},
        "num_hosts": len(hosts),
        "num_hosts_done": 0,
        "num_hosts_not_run": len(hosts),
        "num_hosts_running": 0,
        "overall_status": f"0 of {len(hosts)} hosts done. 0 errors.",
        "period_beginning": str(beginning.replace(tzinfo=None)),
        "period_ending": str(ending.replace(tzinfo=None)),
        "total_errors": 0,
        "total_instances": 0,
    }


class AuditLogBase(ComputeView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        policy.authorize(self.context, "os_compute_api:os-instance-usage-audit-log:list")


class AuditLogList(AuditLogBase):
    @extend_schema(operation_id="auditLogList", summary="Instance usage audit (admin)",
                   responses=compute_responses({200: None}, 403), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response({"instance_usage_audit_logs": _audit(timezone.now())})


class AuditLogShow(AuditLogBase):
    @extend_schema(operation_id="auditLogShow", summary="Instance usage audit before a moment",
                   responses=compute_responses({200: None}, 403), **_DOC)  # fmt: skip
    def get(self, request: Request, before: str) -> Response:
        for form in FORMATS:
            try:
                moment = datetime.strptime(before, form).replace(tzinfo=UTC)
                break
            except ValueError:
                continue
        else:
            raise APIFault(400, f"Invalid timestamp for date {before}")
        return Response({"instance_usage_audit_log": _audit(moment)})
