"""Nova's server view (``nova/api/openstack/compute/views/servers.py``, reference §11), for a
negotiated microversion and a caller.

No per-instance queries: instances come with host, flavor and image joined; host_status and
liveness are computed once per host per request; the latest faults of a page are read in one
query; the allowed actions come from ``compute.preconditions.evaluate`` with the host's
liveness passed in. Attributes this dashboard does not store (kernel, ramdisk, key pair, config
drive, access IPs, user data) are shown with the value Nova shows for a server without them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from compute import preconditions
from compute.conf import conf
from compute.context import RequestContext
from compute.models import Host, Instance, InstanceFault
from compute.policy import host_status_shown
from compute.status import PROGRESS_STATUSES, HostStatus, Status, host_status, service_is_up
from dashboard.api.formats import isotime, naive
from dashboard.api.microversions import APIVersion

#: The namespaced key with what the caller may do now, and why not (stock clients ignore it).
ACTIONS_KEY = "vmdash:actions"

#: Extended attributes not stored here, with the value Nova shows when a server has none.
ROOT_DEVICE_NAME = "/dev/vda"


def host_id(project_id: str, host: str | None) -> str:
    """Nova's ``hostId``: an opaque per-project hash of the host."""
    return hashlib.sha224((project_id + host).encode()).hexdigest() if host else ""


def hostname(name: str) -> str:
    """Nova's ``sanitize_hostname`` of the display name."""
    text = re.sub(r"[ _]", "-", name.lower())
    text = re.sub(r"[^\w.-]+", "", text, flags=re.ASCII).strip(".-")
    return text[:63] or "server"


def reservation_id(instance: Instance) -> str:
    return f"r-{instance.uuid.hex[:8]}"


class ServerViews:
    """Builds server dicts for one request."""

    def __init__(
        self, *, request: HttpRequest, context: RequestContext, version: APIVersion
    ) -> None:
        self.context = context
        self.version = version
        self.compute_url = request.build_absolute_uri(reverse("compute-version"))
        self.bookmark_url = request.build_absolute_uri(reverse("api-root"))
        self.now = timezone.now()
        self.down_time = conf().effective_service_down_time()
        self._hosts: dict[int, tuple[HostStatus, bool]] = {}

    # --- pieces ---------------------------------------------------------------------------
    def links(self, collection: str, ident: str) -> list[dict[str, str]]:
        return [
            {"rel": "self", "href": f"{self.compute_url}{collection}/{ident}"},
            {"rel": "bookmark", "href": f"{self.bookmark_url}{collection}/{ident}"},
        ]

    def bookmark(self, collection: str, ident: str) -> list[dict[str, str]]:
        return [{"rel": "bookmark", "href": f"{self.bookmark_url}{collection}/{ident}"}]

    def _host(self, host: Host) -> tuple[HostStatus, bool]:
        """(host_status, is_up) of a host, computed once per request."""
        if host.pk not in self._hosts:
            seen = {"last_seen_up": host.last_seen_up, "created_at": host.created_at}
            status = host_status(
                forced_down=host.forced_down,
                disabled=host.disabled,
                now=self.now,
                service_down_time=self.down_time,
                **seen,
            )
            up = service_is_up(
                forced_down=host.forced_down,
                now=self.now,
                service_down_time=self.down_time,
                **seen,
            )
            self._hosts[host.pk] = (status, up)
        return self._hosts[host.pk]

    def _flavor(self, instance: Instance) -> dict[str, Any]:
        flavor = instance.flavor
        if not self.version.at_least("2.47"):
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

    def _image(self, instance: Instance) -> dict[str, Any] | str:
        if instance.image_id is None:
            return ""
        ident = str(instance.image_id)
        return {"id": ident, "links": self.bookmark("images", ident)}

    def _fault(self, fault: InstanceFault) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": fault.code,
            "created": isotime(fault.created_at),
            "message": fault.message,
        }
        # Nova hides the details of an internal error (500) from non-admins.
        if fault.details and (self.context.is_admin or fault.code != 500):
            body["details"] = fault.details
        return body

    def actions(self, instance: Instance) -> dict[str, Any]:
        up = self._host(instance.host)[1] if instance.host_id is not None else None
        answer = preconditions.evaluate(instance, self.context, host_up=up)
        return {
            "allowed": sorted(key for key, reason in answer.items() if reason is None),
            "refused": {key: reason for key, reason in sorted(answer.items()) if reason},
        }

    # --- views ------------------------------------------------------------------------------
    def basic(self, instance: Instance) -> dict[str, Any]:
        ident = str(instance.uuid)
        return {"id": ident, "name": instance.name, "links": self.links("servers", ident)}

    def core(self, instance: Instance) -> dict[str, Any]:
        """The fields of every full server view, PUT and rebuild answers included."""
        status = instance.status
        host = instance.host.host if instance.host_id is not None else None
        body = {
            **self.basic(instance),
            "status": str(status),
            "tenant_id": instance.project_id,
            "user_id": str(instance.user_id or ""),
            "metadata": dict(instance.metadata or {}),
            "hostId": host_id(instance.project_id, host),
            "image": self._image(instance),
            "flavor": self._flavor(instance),
            "created": isotime(instance.created_at),
            "updated": isotime(instance.updated_at),
            "addresses": {} if status == Status.BUILD else dict(instance.addresses or {}),
            "accessIPv4": "",
            "accessIPv6": "",
            "OS-DCF:diskConfig": "MANUAL",
        }
        if status in PROGRESS_STATUSES:
            body["progress"] = instance.progress or 0
        if self.version.at_least("2.9"):
            body["locked"] = instance.locked
        if self.version.at_least("2.19"):
            body["description"] = instance.description
        if self.version.at_least("2.26"):
            body["tags"] = []
        if self.version.at_least("2.63"):
            body["trusted_image_certificates"] = None
        if self.version.at_least("2.73"):
            body["locked_reason"] = instance.locked_reason
        return body

    def detail(
        self, instance: Instance, *, fault: InstanceFault | None = None, show: bool = False
    ) -> dict[str, Any]:
        body = self.core(instance)
        host = instance.host.host if instance.host_id is not None else None
        body.update(
            {
                "OS-EXT-STS:vm_state": instance.vm_state,
                "OS-EXT-STS:task_state": instance.task_state,
                "OS-EXT-STS:power_state": instance.power_state,
                "OS-EXT-AZ:availability_zone": instance.availability_zone,
                "OS-SRV-USG:launched_at": naive(instance.launched_at),
                "OS-SRV-USG:terminated_at": naive(instance.terminated_at),
                "config_drive": "",
                "key_name": None,
                "security_groups": [{"name": "default"}],
                "os-extended-volumes:volumes_attached": [],
            }
        )
        if fault is not None and body["status"] in (Status.ERROR, Status.DELETED):
            body["fault"] = self._fault(fault)
        if self.context.is_admin:
            body.update(self._extended_attributes(instance, host))
        if self.version.at_least("2.16"):
            status = (
                self._host(instance.host)[0] if instance.host_id is not None else HostStatus.NONE
            )
            shown = host_status_shown(
                context=self.context, project_id=instance.project_id, status=status
            )
            if shown is not None:
                body["host_status"] = shown
        if show and self.version.at_least("2.71"):
            body["server_groups"] = []
        if instance.deleted_at is None:
            body[ACTIONS_KEY] = self.actions(instance)
        return body

    def _extended_attributes(self, instance: Instance, host: str | None) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "OS-EXT-SRV-ATTR:host": host,
            "OS-EXT-SRV-ATTR:instance_name": f"instance-{instance.pk:08x}",
            "OS-EXT-SRV-ATTR:hypervisor_hostname": host,
        }
        if self.version.at_least("2.3"):
            attrs.update(
                {
                    "OS-EXT-SRV-ATTR:hostname": hostname(instance.name),
                    "OS-EXT-SRV-ATTR:kernel_id": "",
                    "OS-EXT-SRV-ATTR:launch_index": 0,
                    "OS-EXT-SRV-ATTR:ramdisk_id": "",
                    "OS-EXT-SRV-ATTR:reservation_id": reservation_id(instance),
                    "OS-EXT-SRV-ATTR:root_device_name": ROOT_DEVICE_NAME,
                    "OS-EXT-SRV-ATTR:user_data": None,
                }
            )
        return attrs

    def updated(self, instance: Instance) -> dict[str, Any]:
        """The answer to PUT and rebuild: the show view from 2.75, the core fields before."""
        if self.version.at_least("2.75"):
            return self.show(instance)
        return self.core(instance)

    def show(self, instance: Instance) -> dict[str, Any]:
        return self.detail(instance, fault=latest_faults([instance]).get(instance.pk), show=True)

    def detail_many(self, instances: Iterable[Instance]) -> list[dict[str, Any]]:
        rows = list(instances)
        faults = latest_faults(rows)
        return [self.detail(i, fault=faults.get(i.pk)) for i in rows]


def latest_faults(instances: list[Instance]) -> dict[int, InstanceFault]:
    """The newest fault of each ERROR or DELETED instance among ``instances``: one query."""
    wanted = [i.pk for i in instances if i.status in (Status.ERROR, Status.DELETED)]
    if not wanted:
        return {}
    latest: dict[int, InstanceFault] = {}
    for fault in InstanceFault.objects.filter(instance_id__in=wanted).order_by(
        "instance_id", "-created_at", "-id"
    ):
        latest.setdefault(fault.instance_id, fault)
    return latest
