"""Nova's server view (``nova/api/openstack/compute/views/servers.py``), for a
negotiated microversion and a caller.

No per-instance queries: a view reads a ``ServerRow`` (a page's value rows, or one model
instance with host and flavor joined); host_status and liveness are computed once per host per
request; the latest faults of a page are read in one query; the allowed actions come from a
request's ``compute.preconditions.Evaluator`` with the host's liveness passed in. What depends
only on the microversion is decided once per request, what depends on the settings read once.
Attributes this dashboard does not store (kernel, ramdisk, config drive) are shown with the
value Nova shows for a server without them; access IPs, disk config, key name, user data and
tags come from ``compute.services.server_extras``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from compute import policy, preconditions
from compute.conf import conf
from compute.context import RequestContext
from compute.models import Instance, InstanceFault
from compute.networks import addresses_shown
from compute.policy import host_status_shown, opaque_host_id
from compute.selectors.server_extras import security_groups_of
from compute.services.server_groups import groups_of
from compute.status import PROGRESS_STATUSES, HostStatus, Status, host_status_and_liveness
from dashboard.api.formats import isotime, naive
from dashboard.api.microversions import APIVersion
from dashboard.api.presenters.rows import HostFacts, ServerRow

#: The namespaced key with what the caller may do now, and why not: only for a request that
#: asked for the extras (``dashboard.api.base.EXTRAS_HEADER``); Nova's schemas forbid it.
ACTIONS_KEY = "vmdash:actions"

#: Extended attributes not stored here, with the value Nova shows when a server has none.
ROOT_DEVICE_NAME = "/dev/vda"


#: Nova's ``hostId``: the same key the pages and the live deltas use (``compute.policy``).


def hostname(name: str) -> str:
    """Nova's ``sanitize_hostname`` of the display name."""
    text = re.sub(r"[ _]", "-", name.lower())
    text = re.sub(r"[^\w.-]+", "", text, flags=re.ASCII).strip(".-")
    return text[:63] or "server"


def reservation_id(instance: Instance | ServerRow) -> str:
    """The create request's id: stored when it made several servers, else the server's own."""
    stored = instance.extras.get("reservation_id") if isinstance(instance, ServerRow) else None
    return stored or f"r-{instance.uuid.hex[:8]}"


class ServerViews:
    """Builds server dicts for one request."""

    def __init__(
        self,
        *,
        request: HttpRequest,
        context: RequestContext,
        version: APIVersion,
        extras: bool = False,
    ) -> None:
        self.context = context
        self.extras = extras
        self.version = version
        self.compute_url = request.build_absolute_uri(reverse("compute-version"))
        self.bookmark_url = request.build_absolute_uri(reverse("api-root"))
        self.now = timezone.now()
        self.down_time = conf().effective_service_down_time()
        self._hosts: dict[int, tuple[HostStatus, bool]] = {}
        self._shown: dict[tuple[str, str], str | None] = {}
        self._evaluate = preconditions.Evaluator(context)
        # What the microversion decides, once per request rather than per server.
        at = version.at_least
        self._v2_3, self._v2_9, self._v2_16 = at("2.3"), at("2.9"), at("2.16")
        self._v2_19, self._v2_26, self._v2_47 = at("2.19"), at("2.26"), at("2.47")
        self._v2_63, self._v2_71, self._v2_73 = at("2.63"), at("2.71"), at("2.73")
        self._v2_75 = at("2.75")

    # --- pieces ---------------------------------------------------------------------------
    def links(self, collection: str, ident: str) -> list[dict[str, str]]:
        return [
            {"rel": "self", "href": f"{self.compute_url}{collection}/{ident}"},
            {"rel": "bookmark", "href": f"{self.bookmark_url}{collection}/{ident}"},
        ]

    def bookmark(self, collection: str, ident: str) -> list[dict[str, str]]:
        return [{"rel": "bookmark", "href": f"{self.bookmark_url}{collection}/{ident}"}]

    def _host(self, host: HostFacts) -> tuple[HostStatus, bool]:
        """(host_status, is_up) of a host, computed once per request."""
        known = self._hosts.get(host.pk)
        if known is None:
            known = self._hosts[host.pk] = host_status_and_liveness(
                forced_down=host.forced_down,
                disabled=host.disabled,
                last_seen_up=host.last_seen_up,
                created_at=host.created_at,
                now=self.now,
                service_down_time=self.down_time,
            )
        return known

    def _host_status_shown(self, project_id: str, status: HostStatus) -> str | None:
        """The policy's answer, asked once per (project, status) per request, not per server."""
        key = (project_id, status)
        if key not in self._shown:
            self._shown[key] = host_status_shown(
                context=self.context, project_id=project_id, status=status
            )
        return self._shown[key]

    def _flavor(self, server: ServerRow) -> dict[str, Any]:
        flavor = server.flavor
        if not self._v2_47:
            return {"id": flavor.flavorid, "links": self.bookmark("flavors", flavor.flavorid)}
        return {
            "vcpus": flavor.vcpus,
            "ram": flavor.ram,
            "disk": flavor.disk,
            "ephemeral": flavor.ephemeral,
            "swap": flavor.swap,
            "original_name": flavor.name,
            "extra_specs": dict(flavor.extra_specs or {}),
        }

    def _image(self, server: ServerRow) -> dict[str, Any] | str:
        if server.image_id is None:
            return ""
        ident = str(server.image_id)
        return {"id": ident, "links": self.bookmark("images", ident)}

    def _fault(self, fault: InstanceFault) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": fault.code,
            "created": isotime(fault.created_at),
            "message": fault.message,
        }
        if fault.details and policy.fault_details_visible(self.context, fault.code):
            body["details"] = fault.details
        return body

    def actions(self, server: ServerRow) -> dict[str, Any]:
        up = self._host(server.host)[1] if server.host is not None else None
        allowed, refused = self._evaluate.sorted(server, host_up=up)  # type: ignore[arg-type]
        return {"allowed": allowed, "refused": refused}

    # --- views ------------------------------------------------------------------------------
    def basic(self, instance: Instance | ServerRow) -> dict[str, Any]:
        ident = str(instance.uuid)
        return {"id": ident, "name": instance.name, "links": self.links("servers", ident)}

    def core(self, server: ServerRow) -> dict[str, Any]:
        """The fields of every full server view, PUT and rebuild answers included."""
        status = server.status
        host = server.host.host if server.host is not None else None
        extras = server.extras
        body = {
            **self.basic(server),
            "status": str(status),
            "tenant_id": server.project_id,
            "user_id": str(server.user_id or ""),
            "metadata": dict(server.metadata or {}),
            "hostId": opaque_host_id(server.project_id, host),
            "image": self._image(server),
            "flavor": self._flavor(server),
            "created": isotime(server.created_at),
            "updated": isotime(server.updated_at),
            "addresses": {}
            if status == Status.BUILD
            else addresses_shown(str(server.uuid), server.addresses),
            "accessIPv4": extras["access_ip_v4"] or "",
            "accessIPv6": extras["access_ip_v6"] or "",
            "OS-DCF:diskConfig": extras["disk_config"] or "MANUAL",
        }
        if status in PROGRESS_STATUSES:
            body["progress"] = server.progress or 0
        if self._v2_9:
            body["locked"] = server.locked
        if self._v2_19:
            body["description"] = server.description
        if self._v2_26:
            body["tags"] = list(extras["tags"] or [])
        if self._v2_63:
            body["trusted_image_certificates"] = None
        if self._v2_73:
            body["locked_reason"] = server.locked_reason
        return body

    def detail(
        self, server: ServerRow, *, fault: InstanceFault | None = None, show: bool = False
    ) -> dict[str, Any]:
        body = self.core(server)
        host = server.host.host if server.host is not None else None
        body.update(
            {
                "OS-EXT-STS:vm_state": server.vm_state,
                "OS-EXT-STS:task_state": server.task_state,
                "OS-EXT-STS:power_state": server.power_state,
                "OS-EXT-AZ:availability_zone": server.availability_zone,
                "OS-SRV-USG:launched_at": naive(server.launched_at),
                "OS-SRV-USG:terminated_at": naive(server.terminated_at),
                "config_drive": "",
                "key_name": server.extras["key_name"],
                "os-extended-volumes:volumes_attached": [],
            }
        )
        groups = security_groups_of(server.extras)
        if groups:  # Nova leaves the key out for a server in no group
            body["security_groups"] = [{"name": g} for g in groups]
        if fault is not None and body["status"] in (Status.ERROR, Status.DELETED):
            body["fault"] = self._fault(fault)
        if policy.allowed(self.context, "os_compute_api:os-extended-server-attributes"):
            body.update(self._extended_attributes(server, host))
        if self._v2_16:
            status = self._host(server.host)[0] if server.host is not None else HostStatus.NONE
            shown = self._host_status_shown(server.project_id, status)
            if shown is not None:
                body["host_status"] = shown
        if show and self._v2_71:
            body["server_groups"] = groups_of(str(server.uuid))
        if self.extras and server.deleted_at is None:
            body[ACTIONS_KEY] = self.actions(server)
        return body

    def _extended_attributes(self, server: ServerRow, host: str | None) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "OS-EXT-SRV-ATTR:host": host,
            "OS-EXT-SRV-ATTR:instance_name": f"instance-{server.pk:08x}",
            "OS-EXT-SRV-ATTR:hypervisor_hostname": host,
        }
        if self._v2_3:
            attrs.update(
                {
                    "OS-EXT-SRV-ATTR:hostname": hostname(server.name),
                    "OS-EXT-SRV-ATTR:kernel_id": "",
                    "OS-EXT-SRV-ATTR:launch_index": 0,
                    "OS-EXT-SRV-ATTR:ramdisk_id": "",
                    "OS-EXT-SRV-ATTR:reservation_id": reservation_id(server),
                    "OS-EXT-SRV-ATTR:root_device_name": ROOT_DEVICE_NAME,
                    "OS-EXT-SRV-ATTR:user_data": server.extras["user_data"],
                }
            )
        return attrs

    def updated(self, instance: Instance) -> dict[str, Any]:
        """The answer to PUT and rebuild: the show view from 2.75, the core fields before."""
        if self._v2_75:
            return self.show(instance)
        body = self.core(ServerRow.of(instance))
        if self.version.at_least("2.71"):
            body["server_groups"] = groups_of(str(instance.uuid))
        return body

    def show(self, instance: Instance) -> dict[str, Any]:
        server = ServerRow.of(instance)
        return self.detail(server, fault=latest_faults([server]).get(server.pk), show=True)

    def detail_many(self, servers: Iterable[ServerRow]) -> list[dict[str, Any]]:
        rows = list(servers)
        faults = latest_faults(rows)
        return [self.detail(s, fault=faults.get(s.pk)) for s in rows]


def latest_faults(servers: list[ServerRow]) -> dict[int, InstanceFault]:
    """The newest fault of each ERROR or DELETED server among ``servers``: one query."""
    wanted = [s.pk for s in servers if s.status in (Status.ERROR, Status.DELETED)]
    if not wanted:
        return {}
    latest: dict[int, InstanceFault] = {}
    for fault in InstanceFault.objects.filter(instance_id__in=wanted).order_by(
        "instance_id", "-created_at", "-id"
    ):
        latest.setdefault(fault.instance_id, fault)
    return latest
