"""Reading a ``POST /servers`` body into the arguments of ``compute.services.instance_create``.

Nova's extras are accepted and kept (``compute.services.server_extras``): access IPs, the disk config,
the key pair's name (which must exist), user data; the scheduler hints Nova's filters know are
honoured (``same_host``, ``different_host``, ``group``: ``compute.scheduler.placement``). What
this dashboard cannot keep (file injection, block device mappings other than the image boot,
trusted certificates, a config drive) is refused with a 400 naming
it, never silently dropped. Networks other than none/auto and security groups other than
``default`` are refused with Nova's words.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any

from compute import policy
from compute.context import RequestContext
from compute.exceptions import NotFound
from compute.models import KeyPair
from compute.networks import network_get
from compute.selectors import host_get
from compute.services.security_groups import group_named
from dashboard.api.actions import id_from_href, unsupported
from dashboard.api.faults import APIFault
from dashboard.api.microversions import APIVersion
from dashboard.api.schemas import servers as schemas
from dashboard.api.schemas.types import truthy
from dashboard.api.validation import validate


@dataclass(frozen=True)
class CreateArgs:
    name: str
    flavor_ref: str
    image_ref: str
    host: str | None
    availability_zone: str | None
    description: str | None
    metadata: dict[str, str]
    admin_pass: str
    return_reservation_id: bool
    extras: dict[str, Any]
    hints: dict[str, Any]
    min_count: int = 1
    max_count: int = 1


def _is_image_boot(mapping: dict[str, Any], image_ref: str) -> bool:
    """The one mapping that says what ``imageRef`` says: boot from the image on local disk."""
    return (
        mapping.get("source_type") == "image"
        and mapping.get("destination_type", "local") == "local"
        and str(mapping.get("boot_index")) == "0"
        and id_from_href(mapping.get("uuid") or mapping.get("image_id") or "") == image_ref
    )


def _refuse_unsupported(body: dict[str, Any], server: dict[str, Any]) -> None:
    for name in ("personality", "block_device_mapping", "tags"):
        if server.get(name):
            raise unsupported(name)
    image_ref = id_from_href(server.get("imageRef") or "")
    for mapping in server.get("block_device_mapping_v2") or ():
        # Stock clients restate the image boot as a mapping; anything more needs volumes.
        if not _is_image_boot(mapping, image_ref):
            raise unsupported("block_device_mapping_v2 other than booting from imageRef")
    if server.get("trusted_image_certificates") is not None:
        raise unsupported("trusted_image_certificates")
    if "config_drive" in server and truthy(server["config_drive"]):
        raise unsupported("config_drive")


def access_ip(value: object, version: int) -> str | None:
    """An access IP as Nova keeps it, or Nova's 400."""
    if value in (None, ""):
        return None
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        address = None
    if address is None or address.version != version:
        field = "accessIPv4" if version == 4 else "accessIPv6"
        raise APIFault(
            400,
            f"Invalid input for field/attribute {field}. Value: {value}. "
            f"'{value}' is not a 'ipv{version}'",
        )
    return str(address)


def extras_of(server: dict[str, Any], context: RequestContext) -> dict[str, Any]:
    """The server extras a create (or a rebuild) body sets."""
    extras: dict[str, Any] = {}
    if "accessIPv4" in server:
        extras["access_ip_v4"] = access_ip(server["accessIPv4"], 4)
    if "accessIPv6" in server:
        extras["access_ip_v6"] = access_ip(server["accessIPv6"], 6)
    if "OS-DCF:diskConfig" in server:
        extras["disk_config"] = server["OS-DCF:diskConfig"]
    if server.get("user_data") is not None:
        extras["user_data"] = server["user_data"]
    if server.get("security_groups"):
        # The groups by their names (a group may be named by its id, as Neutron resolves it).
        named = (
            group_named(project_id=str(context.project_id), name=str(g.get("name")))
            for g in server["security_groups"]
        )
        extras["security_groups"] = list(dict.fromkeys(g.name for g in named if g is not None))
    key_name = server.get("key_name")
    if key_name is not None:
        if not KeyPair.objects.filter(user_id=str(context.user_id), name=key_name).exists():
            raise APIFault(400, "Invalid key_name provided.")
        extras["key_name"] = key_name
    return extras


def _refuse_missing_resources(server: dict[str, Any], context: RequestContext) -> None:
    for group in server.get("security_groups") or ():
        name = str(group.get("name"))
        if group_named(project_id=str(context.project_id), name=name) is None:
            raise APIFault(400, f"Security group {name} not found.")
    networks = server.get("networks")
    if isinstance(networks, list):
        for network in networks:
            if network.get("port"):
                raise APIFault(400, f"Port id {network['port']} could not be found.")
            if network_get(str(network.get("uuid"))) is None:
                raise APIFault(400, f"Network {network.get('uuid')} could not be found.")
            if network.get("fixed_ip"):
                raise unsupported("networks with a fixed_ip")


def _count(server: dict[str, Any]) -> tuple[int, int]:
    low = int(server.get("min_count", 1))
    high = int(server.get("max_count", low))
    if low > high:
        raise APIFault(400, "min_count must be <= max_count")
    return low, high


def _destination(
    server: dict[str, Any], context: RequestContext, version: APIVersion
) -> tuple[str | None, str | None]:
    """(host, availability zone) from ``host``/``hypervisor_hostname`` (2.74) or ``zone:host``."""
    zone = server.get("availability_zone")
    host = server.get("host")
    node = server.get("hypervisor_hostname")
    if host or node:
        policy.authorize(context, "compute:servers:create:requested_destination")
    if host and node and host != node:
        raise APIFault(400, f"Compute host {host} with node {node} could not be found.")
    wanted = host or node
    if wanted:
        try:
            host_get(host=wanted)
        except NotFound:
            raise APIFault(400, f"Compute host {wanted} could not be found.") from None
    if zone and "::" in zone:  # Nova's zone::node form
        zone, _, node_name = zone.partition("::")
        wanted = wanted or node_name
    return wanted or None, zone or None


def create_args(body: Any, context: RequestContext, version: APIVersion) -> CreateArgs:
    validate(body, schemas.create(version))
    server: dict[str, Any] = body["server"]
    _refuse_unsupported(body, server)
    _refuse_missing_resources(server, context)
    min_count, max_count = _count(server)
    image_ref = server.get("imageRef", "")
    if not image_ref:
        raise APIFault(400, "Missing imageRef attribute")
    host, zone = _destination(server, context, version)
    return CreateArgs(
        name=server["name"],
        flavor_ref=id_from_href(server["flavorRef"]),
        image_ref=id_from_href(image_ref),
        host=host,
        availability_zone=zone,
        description=server.get("description"),
        metadata=server.get("metadata") or {},
        admin_pass=server.get("adminPass") or secrets.token_urlsafe(9),
        return_reservation_id=truthy(server.get("return_reservation_id", False)),
        extras=extras_of(server, context),
        hints=dict(body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}),
        min_count=min_count,
        max_count=max_count,
    )
