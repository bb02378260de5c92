"""The ports a caller may see: one per (live server, network it has an address on).

Ports are derived, not stored (``compute.networks``): a server's port on ``private`` exists
from the moment the build gave it an address until the server is deleted, and shows the
server's address, project, host and security groups. The caller sees the ports of the servers
it may see: an admin every project's (Neutron shows admins every port), a member its
projects' (invariant 6).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from compute.context import RequestContext
from compute.models import Instance, Project, SecurityGroup
from compute.networks import Network, network_by_label, port_id, security_group_id
from compute.selectors.instances import uuid_or_none, visible_instances
from compute.selectors.server_extras import DEFAULT_GROUP
from compute.states import PowerState


@dataclass(frozen=True)
class Port:
    id: str
    network: Network
    device_id: str
    project_id: str
    host: str
    availability_zone: str
    #: (subnet id, address) of each fixed address on this network.
    fixed_ips: tuple[tuple[str, str], ...]
    #: Neutron's ACTIVE while the guest runs (its interface is plugged), else DOWN.
    active: bool
    #: The ids of the security groups the server names.
    security_groups: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


def _ports_of(instance: Instance, groups: Iterable[str]) -> list[Port]:
    ports = []
    for label, addresses in sorted((instance.addresses or {}).items()):
        network = network_by_label(label)
        if network is None or not isinstance(addresses, list):
            continue
        subnet = network.subnets[0].id if network.subnets else ""
        fixed = tuple(
            (subnet, str(a["addr"])) for a in addresses if isinstance(a, dict) and a.get("addr")
        )
        if not fixed:
            continue
        ports.append(
            Port(
                id=port_id(str(instance.uuid), network),
                network=network,
                device_id=str(instance.uuid),
                project_id=str(instance.project_id),
                host=instance.host.host if instance.host else "",
                availability_zone=instance.availability_zone,
                fixed_ips=fixed,
                active=instance.power_state == PowerState.RUNNING,
                security_groups=tuple(groups),
                created_at=instance.launched_at or instance.created_at,
                updated_at=instance.updated_at,
            )
        )
    return ports


def port_list(*, context: RequestContext, device_ids: Iterable[str] | None = None) -> list[Port]:
    """The caller's visible ports, oldest server first; ``device_ids`` narrows to those
    servers (ids that are not UUIDs match nothing)."""
    rows = visible_instances(context, all_tenants=True, joined=("host", "extras")).filter(
        deleted_at__isnull=True
    )
    if device_ids is not None:
        uuids = [u for u in (uuid_or_none(d) for d in device_ids) if u is not None]
        rows = rows.filter(uuid__in=uuids)
    instances = list(rows.order_by("created_at", "id"))
    # A group's id by (project, name); ``default`` has its derived id even before it is made.
    ids = {
        (project, name): str(ident)
        for project, name, ident in SecurityGroup.objects.filter(
            project_id__in={i.project_id for i in instances}
        ).values_list("project_id", "name", "uuid")
    }
    ports: list[Port] = []
    for instance in instances:
        extras = getattr(instance, "extras", None)
        names = getattr(extras, "security_groups", None)
        groups = [
            ids.get((instance.project_id, name)) or security_group_id(instance.project_id, name)
            for name in ([DEFAULT_GROUP] if names is None else names)
        ]
        ports.extend(_ports_of(instance, groups))
    return ports


def port_get(*, context: RequestContext, port: str) -> Port | None:
    return next((p for p in port_list(context=context) if p.id == port), None)


def network_owner_id() -> str:
    """The project the cloud's network belongs to: the admin project, as when an operator makes
    a shared network (empty before there is one)."""
    return Project.objects.filter(name="admin").values_list("id", flat=True).first() or ""
