"""The response bodies of the API as OpenAPI components, added to the generated schema by
``add_components`` (a drf-spectacular post-processing hook).

Shapes are those of the maximum microversion; fields that depend on the microversion or on
policy say so in their description.
"""

from __future__ import annotations

from typing import Any

S = dict[str, Any]


def _ref(name: str) -> S:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: S, *, required: tuple[str, ...] = (), extra: bool = False) -> S:
    schema: S = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


_STR: S = {"type": "string"}
_NSTR: S = {"type": ["string", "null"]}
_INT: S = {"type": "integer"}
_BOOL: S = {"type": "boolean"}
_TIME: S = {"type": "string", "description": "ISO 8601"}
_NTIME: S = {**_TIME, "type": ["string", "null"]}

LINK = _obj({"rel": _STR, "href": _STR, "type": _STR}, required=("rel", "href"))
LINKS: S = {"type": "array", "items": _ref("Link")}

ALLOWED_ACTIONS = _obj(
    {
        "allowed": {"type": "array", "items": _STR, "description": "Action-table keys"},
        "refused": {
            "type": "object",
            "additionalProperties": _STR,
            "description": "Action-table key → Nova's refusal text",
        },
    },
    required=("allowed", "refused"),
)

SERVER_BRIEF = _obj({"id": _STR, "name": _STR, "links": LINKS}, required=("id", "name", "links"))

SERVER = _obj(
    {
        "id": _STR,
        "name": _STR,
        "links": LINKS,
        "status": _STR,
        "tenant_id": _STR,
        "user_id": _STR,
        "metadata": {"type": "object", "additionalProperties": _STR},
        "hostId": _STR,
        "image": {"oneOf": [_obj({"id": _STR, "links": LINKS}), {"type": "string"}]},
        "flavor": {
            "type": "object",
            "description": "{id, links} before 2.47; {vcpus, ram, disk, ephemeral, swap, "
            "original_name, extra_specs} from 2.47",
            "additionalProperties": True,
        },
        "created": _TIME,
        "updated": _TIME,
        "addresses": {"type": "object", "additionalProperties": True},
        "accessIPv4": _STR,
        "accessIPv6": _STR,
        "OS-DCF:diskConfig": _STR,
        "progress": {
            **_INT,
            "description": "ACTIVE, BUILD, REBUILD, RESIZE, VERIFY_RESIZE, MIGRATING",
        },
        "locked": {**_BOOL, "description": "2.9+"},
        "description": {**_NSTR, "description": "2.19+"},
        "tags": {"type": "array", "items": _STR, "description": "2.26+"},
        "trusted_image_certificates": {"type": ["array", "null"], "items": _STR},
        "locked_reason": {**_NSTR, "description": "2.73+"},
        "OS-EXT-STS:vm_state": _STR,
        "OS-EXT-STS:task_state": _NSTR,
        "OS-EXT-STS:power_state": _INT,
        "OS-EXT-AZ:availability_zone": _STR,
        "OS-SRV-USG:launched_at": _NTIME,
        "OS-SRV-USG:terminated_at": _NTIME,
        "config_drive": _STR,
        "key_name": _NSTR,
        "security_groups": {"type": "array", "items": _obj({"name": _STR})},
        "os-extended-volumes:volumes_attached": {"type": "array", "items": {"type": "object"}},
        "fault": _obj(
            {"code": _INT, "created": _TIME, "message": _STR, "details": _STR},
            required=("code", "created", "message"),
        ),
        "host_status": {
            "type": "string",
            "enum": ["UP", "DOWN", "MAINTENANCE", "UNKNOWN", ""],
            "description": "2.16+, by policy (COMPUTE['host_status_policy'])",
        },
        "server_groups": {"type": "array", "items": _STR, "description": "2.71+, show only"},
        "OS-EXT-SRV-ATTR:host": _NSTR,
        "OS-EXT-SRV-ATTR:instance_name": _STR,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": _NSTR,
        "OS-EXT-SRV-ATTR:hostname": _STR,
        "OS-EXT-SRV-ATTR:kernel_id": _STR,
        "OS-EXT-SRV-ATTR:launch_index": _INT,
        "OS-EXT-SRV-ATTR:ramdisk_id": _STR,
        "OS-EXT-SRV-ATTR:reservation_id": _STR,
        "OS-EXT-SRV-ATTR:root_device_name": _STR,
        "OS-EXT-SRV-ATTR:user_data": _NSTR,
        "vmdash:actions": {
            **_ref("AllowedActions"),
            "description": "Only with the request header `X-Vmdash-Extras: 1`: what the "
            "caller may do now and, for each refused action, why",
        },
        "adminPass": {**_STR, "description": "Rebuild answers only"},
    },
    required=("id", "name", "links", "status"),
)

SERVICE = _obj(
    {
        "id": {"oneOf": [_STR, _INT], "description": "UUID from 2.53, integer before"},
        "binary": _STR,
        "host": _STR,
        "zone": _STR,
        "status": {"type": "string", "enum": ["enabled", "disabled"]},
        "state": {"type": "string", "enum": ["up", "down"]},
        "updated_at": _NTIME,
        "disabled_reason": _NSTR,
        "forced_down": {**_BOOL, "description": "2.11+"},
        "vmdash:host_status": {**_STR, "description": "Only with `X-Vmdash-Extras: 1`"},
        "vmdash:last_sync": {
            "type": ["object", "null"],
            "additionalProperties": True,
            "description": "Only with `X-Vmdash-Extras: 1`: the host's latest power-state sync",
        },
    },
    extra=False,
)

FLAVOR = _obj(
    {
        "id": _STR,
        "name": _STR,
        "links": LINKS,
        "description": {**_NSTR, "description": "2.55+"},
        "ram": _INT,
        "disk": _INT,
        "vcpus": _INT,
        "OS-FLV-EXT-DATA:ephemeral": _INT,
        "OS-FLV-DISABLED:disabled": _BOOL,
        "swap": {"oneOf": [_INT, _STR], "description": '"" for none before 2.75'},
        "rxtx_factor": {"type": "number"},
        "os-flavor-access:is_public": _BOOL,
        "extra_specs": {"type": "object", "additionalProperties": _STR, "description": "2.61+"},
    },
    required=("id", "name", "links"),
)

NOVA_IMAGE = _obj(
    {
        "id": _STR,
        "name": _STR,
        "links": LINKS,
        "status": _STR,
        "progress": _INT,
        "minDisk": _INT,
        "minRam": _INT,
        "created": _TIME,
        "updated": _TIME,
        "metadata": {"type": "object", "additionalProperties": True},
        "OS-EXT-IMG-SIZE:size": _INT,
        "server": _obj({"id": _STR, "links": LINKS}),
    },
    required=("id", "name", "links"),
)

GLANCE_IMAGE: S = {
    "type": "object",
    "properties": {
        "id": _STR,
        "name": {**_NSTR, "description": "null until named (Glance)"},
        "status": _STR,
        "visibility": _STR,
        "owner": _NSTR,
        "size": {"type": ["integer", "null"], "description": "null while queued (no data yet)"},
        "min_ram": _INT,
        "min_disk": _INT,
        "disk_format": {**_NSTR, "description": "null until set or uploaded"},
        "container_format": {**_NSTR, "description": "null until set or uploaded"},
        "created_at": _TIME,
        "updated_at": _TIME,
        "tags": {"type": "array", "items": _STR},
        "self": _STR,
        "file": _STR,
        "schema": _STR,
    },
    "additionalProperties": True,
}

ACTION_EVENT = _obj(
    {
        "event": _STR,
        "start_time": _TIME,
        "finish_time": _NTIME,
        "result": _NSTR,
        "traceback": {**_NSTR, "description": "Admins only"},
        "hostId": {**_STR, "description": "2.62+"},
        "host": {**_STR, "description": "2.62+, admins only"},
        "details": {**_NSTR, "description": "2.84+, admins only"},
    }
)
INSTANCE_ACTION = _obj(
    {
        "action": _STR,
        "instance_uuid": _STR,
        "message": _NSTR,
        "project_id": _STR,
        "request_id": _STR,
        "start_time": _TIME,
        "user_id": _NSTR,
        "updated_at": {**_TIME, "description": "2.58+"},
        "events": {"type": "array", "items": _ref("InstanceActionEvent")},
    }
)

_NINT: S = {"type": ["integer", "null"]}

MIGRATION = _obj(
    {
        "created_at": _TIME,
        "dest_compute": _NSTR,
        "dest_host": _NSTR,
        "dest_node": _NSTR,
        "id": _INT,
        "instance_uuid": _STR,
        "new_instance_type_id": _NINT,
        "old_instance_type_id": _NINT,
        "source_compute": _NSTR,
        "source_node": _NSTR,
        "status": _STR,
        "updated_at": _NTIME,
        "migration_type": {
            "type": "string",
            "enum": ["migration", "resize", "live-migration", "evacuation"],
            "description": "2.23+",
        },
        "links": {**LINKS, "description": "2.23+, a live migration in progress only"},
        "uuid": {**_STR, "description": "2.59+"},
        "user_id": {**_NSTR, "description": "2.80+"},
        "project_id": {**_NSTR, "description": "2.80+"},
    },
    required=("created_at", "id", "instance_uuid", "status", "updated_at"),
)

SERVER_MIGRATION = _obj(
    {
        "created_at": _TIME,
        "dest_compute": _NSTR,
        "dest_host": _NSTR,
        "dest_node": _NSTR,
        "disk_processed_bytes": _NINT,
        "disk_remaining_bytes": _NINT,
        "disk_total_bytes": _NINT,
        "id": _INT,
        "memory_processed_bytes": _NINT,
        "memory_remaining_bytes": _NINT,
        "memory_total_bytes": _NINT,
        "server_uuid": _STR,
        "source_compute": _NSTR,
        "source_node": _NSTR,
        "status": _STR,
        "updated_at": _NTIME,
        "uuid": {**_STR, "description": "2.59+"},
        "user_id": {**_NSTR, "description": "2.80+"},
        "project_id": {**_NSTR, "description": "2.80+"},
    },
    required=("created_at", "id", "server_uuid", "status", "updated_at"),
)

_CHOICE_TEXTS: S = {
    "type": "object",
    "additionalProperties": _NSTR,
    "description": "choice → null (may start now) or Nova's refusal text",
}

DRAIN_PLAN_ROW = _obj(
    {
        "id": _STR,
        "name": _STR,
        "status": _STR,
        "vm_state": _STR,
        "task_state": _NSTR,
        "locked": _BOOL,
        "verdict": {
            "type": "string",
            "enum": ["live-migrate", "cold-migrate", "evacuate", "cannot-move"],
        },
        "reason": _NSTR,
        "default": _STR,
        "destination": {**_NSTR, "description": "where the plan found room (a hint)"},
        "choices": _CHOICE_TEXTS,
    },
    required=("id", "name", "verdict", "reason", "default", "choices"),
)

DRAIN_PLAN = _obj(
    {
        "host": _STR,
        "host_status": _STR,
        "destinations": {"type": "array", "items": _STR},
        "choices": {"type": "array", "items": _STR},
        "instances": {"type": "array", "items": _ref("DrainPlanRow")},
    },
    required=("host", "host_status", "destinations", "choices", "instances"),
)

DRAIN_STEP = _obj(
    {
        "id": _INT,
        "server_id": _STR,
        "name": _STR,
        "choice": _STR,
        "state": {
            "type": "string",
            "enum": ["queued", "running", "done", "failed", "skipped", "cancelled"],
        },
        "attempts": _INT,
        "message": _NSTR,
        "request_id": _NSTR,
        "migration": {"oneOf": [{"type": "null"}, {"type": "object"}]},
    },
    required=("id", "server_id", "choice", "state", "attempts"),
)

DRAIN = _obj(
    {
        "id": _INT,
        "host": _STR,
        "state": {
            "type": "string",
            "enum": ["running", "cancelling", "done", "failed", "cancelled"],
        },
        "created_at": _TIME,
        "finished_at": _NTIME,
        "user_name": _STR,
        "steps": {"type": "array", "items": _ref("DrainStep")},
    },
    required=("id", "host", "state", "steps"),
)

COMPUTE_VERSION = _obj(
    {
        "id": _STR,
        "status": _STR,
        "version": _STR,
        "min_version": _STR,
        "updated": _TIME,
        "links": LINKS,
        "media-types": {"type": "array", "items": {"type": "object"}},
    },
    required=("id", "status", "version", "min_version", "links"),
)
IDENTITY_VERSION = _obj(
    {
        "id": _STR,
        "status": _STR,
        "updated": _TIME,
        "links": LINKS,
        "media-types": {"type": "array", "items": {"type": "object"}},
    }
)

TOKEN = _obj(
    {
        "methods": {"type": "array", "items": _STR},
        "user": {"type": "object", "additionalProperties": True},
        "project": {"type": "object", "additionalProperties": True},
        "roles": {"type": "array", "items": _obj({"id": _STR, "name": _STR})},
        "catalog": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        "audit_ids": {"type": "array", "items": _STR},
        "issued_at": _TIME,
        "expires_at": _TIME,
        "is_domain": _BOOL,
    }
)

NOVA_FAULT: S = {
    "type": "object",
    "description": "One key named after the code: badRequest, forbidden, itemNotFound, "
    "conflictingRequest, badMediaType, computeFault …",
    "additionalProperties": _obj({"code": _INT, "message": _STR}, required=("code", "message")),
    "minProperties": 1,
    "maxProperties": 1,
}
KEYSTONE_ERROR = _obj(
    {"error": _obj({"code": _INT, "title": _STR, "message": _STR}, required=("code", "message"))},
    required=("error",),
)


NEUTRON_ERROR = _obj(
    {"NeutronError": _obj({"type": _STR, "message": _STR, "detail": _STR},
                          required=("type", "message", "detail"))},
    required=("NeutronError",),
)  # fmt: skip
_ARRAY = {"type": "array"}
_NULL_STR = {"type": ["string", "null"]}
NEUTRON_NETWORK = _obj(
    {"id": _STR, "name": _STR, "tenant_id": _STR, "project_id": _STR, "admin_state_up": _BOOL,
     "status": _STR, "subnets": _ARRAY, "shared": _BOOL, "mtu": _INT,
     "availability_zone_hints": _ARRAY, "availability_zones": _ARRAY,
     "ipv4_address_scope": _NULL_STR, "ipv6_address_scope": _NULL_STR,
     "router:external": _BOOL, "port_security_enabled": _BOOL, "l2_adjacency": _BOOL,
     "description": _STR, "tags": _ARRAY, "created_at": _STR, "updated_at": _STR,
     "revision_number": _INT},
    required=("id", "name", "tenant_id", "status", "subnets", "shared", "admin_state_up"),
)  # fmt: skip
NEUTRON_SUBNET = _obj(
    {"id": _STR, "name": _STR, "tenant_id": _STR, "project_id": _STR, "network_id": _STR,
     "ip_version": _INT, "cidr": _STR, "gateway_ip": _NULL_STR, "allocation_pools": _ARRAY,
     "dns_nameservers": _ARRAY, "host_routes": _ARRAY, "enable_dhcp": _BOOL,
     "ipv6_ra_mode": _NULL_STR, "ipv6_address_mode": _NULL_STR, "subnetpool_id": _NULL_STR,
     "service_types": _ARRAY, "description": _STR, "tags": _ARRAY, "created_at": _STR,
     "updated_at": _STR, "revision_number": _INT},
    required=("id", "network_id", "ip_version", "cidr", "allocation_pools"),
)  # fmt: skip
NEUTRON_PORT = _obj(
    {"id": _STR, "name": _STR, "network_id": _STR, "tenant_id": _STR, "project_id": _STR,
     "mac_address": _STR, "admin_state_up": _BOOL, "status": _STR, "device_id": _STR,
     "device_owner": _STR,
     "fixed_ips": {"type": "array", "items": _obj({"subnet_id": _STR, "ip_address": _STR})},
     "allowed_address_pairs": _ARRAY, "extra_dhcp_opts": _ARRAY, "security_groups": _ARRAY,
     "port_security_enabled": _BOOL, "binding:vnic_type": _STR,
     "binding:host_id": {**_STR, "description": "admins only"},
     "binding:profile": {"type": "object"}, "binding:vif_type": _STR,
     "binding:vif_details": {"type": "object"}, "description": _STR, "tags": _ARRAY,
     "created_at": _STR, "updated_at": _STR, "revision_number": _INT},
    required=("id", "network_id", "device_id", "fixed_ips", "mac_address", "status"),
)  # fmt: skip
NEUTRON_EXTENSION = _obj(
    {"alias": _STR, "name": _STR, "description": _STR, "updated": _STR, "links": _ARRAY},
    required=("alias", "name", "description", "updated", "links"),
)


def _wrap(key: str, inner: S, **extra: S) -> S:
    return _obj({key: inner, **extra}, required=(key,))


def _list(key: str, item: str, links_key: str | None = None) -> S:
    extra = {links_key: LINKS} if links_key else {}
    return _wrap(key, {"type": "array", "items": _ref(item)}, **extra)


COMPONENTS: dict[str, S] = {
    "Link": LINK,
    "AllowedActions": ALLOWED_ACTIONS,
    "ServerBrief": SERVER_BRIEF,
    "Server": SERVER,
    "ServerIndex": _list("servers", "ServerBrief", "servers_links"),
    "ServerDetailList": _list("servers", "Server", "servers_links"),
    "ServerShow": _wrap("server", _ref("Server")),
    "ServerCreated": {
        "oneOf": [
            _wrap(
                "server",
                _obj(
                    {
                        "id": _STR,
                        "links": LINKS,
                        "adminPass": _STR,
                        "OS-DCF:diskConfig": _STR,
                        "security_groups": {"type": "array", "items": {"type": "object"}},
                    }
                ),
            ),
            _wrap("reservation_id", _STR),
        ]
    },
    "ActionAccepted": {
        "description": "No body for most actions; {server} for rebuild; {image_id} for "
        "createImage and createBackup from 2.45 (a Location header before)",
        "oneOf": [_wrap("server", _ref("Server")), _wrap("image_id", _STR)],
    },
    "RescueAccepted": _wrap("adminPass", _STR),
    "Service": SERVICE,
    "ServiceList": _list("services", "Service"),
    "ServiceUpdated": _wrap("service", {"type": "object", "additionalProperties": True}),
    "Flavor": FLAVOR,
    "FlavorIndex": _list("flavors", "Flavor", "flavors_links"),
    "FlavorDetailList": _list("flavors", "Flavor", "flavors_links"),
    "FlavorShow": _wrap("flavor", _ref("Flavor")),
    "NovaImage": NOVA_IMAGE,
    "NovaImageIndex": _list("images", "NovaImage", "images_links"),
    "NovaImageDetailList": _list("images", "NovaImage", "images_links"),
    "NovaImageShow": _wrap("image", _ref("NovaImage")),
    "GlanceImage": GLANCE_IMAGE,
    "GlanceImageList": _obj(
        {
            "images": {"type": "array", "items": _ref("GlanceImage")},
            "first": _STR,
            "schema": _STR,
            "next": _STR,
        },
        required=("images",),
    ),
    "GlanceVersions": _wrap("versions", {"type": "array", "items": {"type": "object"}}),
    "InstanceActionEvent": ACTION_EVENT,
    "InstanceAction": INSTANCE_ACTION,
    "InstanceActionList": _list("instanceActions", "InstanceAction", "links"),
    "InstanceActionShow": _wrap("instanceAction", _ref("InstanceAction")),
    "DrainPlanRow": DRAIN_PLAN_ROW,
    "DrainStep": DRAIN_STEP,
    "Drain": _wrap("drain", DRAIN),
    "DrainPlan": _wrap("drain_plan", DRAIN_PLAN),
    "Migration": MIGRATION,
    "MigrationList": _list("migrations", "Migration", "migrations_links"),
    "ServerMigration": SERVER_MIGRATION,
    "ServerMigrationList": _list("migrations", "ServerMigration"),
    "ServerMigrationShow": _wrap("migration", _ref("ServerMigration")),
    "ComputeVersion": _wrap("version", COMPUTE_VERSION),
    "ComputeVersions": _wrap("versions", {"type": "array", "items": COMPUTE_VERSION}),
    "IdentityVersion": _wrap("version", IDENTITY_VERSION),
    "IdentityVersions": _wrap(
        "versions", _wrap("values", {"type": "array", "items": IDENTITY_VERSION})
    ),
    "TokenBody": _wrap("token", TOKEN),
    "NovaFault": NOVA_FAULT,
    "KeystoneError": KEYSTONE_ERROR,
    "NeutronError": NEUTRON_ERROR,
    "NeutronVersions": _wrap("versions", {"type": "array", "items": {"type": "object"}}),
    "NeutronResources": _wrap("resources", {"type": "array", "items": {"type": "object"}}),
    "NeutronNetwork": NEUTRON_NETWORK,
    "NeutronNetworkList": _list("networks", "NeutronNetwork", "networks_links"),
    "NeutronNetworkShow": _wrap("network", _ref("NeutronNetwork")),
    "NeutronSubnet": NEUTRON_SUBNET,
    "NeutronSubnetList": _list("subnets", "NeutronSubnet", "subnets_links"),
    "NeutronSubnetShow": _wrap("subnet", _ref("NeutronSubnet")),
    "NeutronPort": NEUTRON_PORT,
    "NeutronPortList": _list("ports", "NeutronPort", "ports_links"),
    "NeutronPortShow": _wrap("port", _ref("NeutronPort")),
    "NeutronSecurityGroup": _obj(
        {
            "id": _STR,
            "name": _STR,
            "tenant_id": _STR,
            "project_id": _STR,
            "description": _STR,
            "security_group_rules": {"type": "array", "items": _ref("NeutronSecurityGroupRule")},
            "stateful": _BOOL,
            "shared": _BOOL,
            "tags": _ARRAY,
            "created_at": _STR,
            "updated_at": _STR,
            "revision_number": _INT,
        },
        required=("id", "name", "tenant_id", "security_group_rules"),
    ),
    "NeutronSecurityGroupRule": _obj(
        {
            "id": _STR,
            "tenant_id": _STR,
            "project_id": _STR,
            "security_group_id": _STR,
            "direction": _STR,
            "ethertype": _STR,
            "protocol": _NULL_STR,
            "port_range_min": {"type": ["integer", "null"]},
            "port_range_max": {"type": ["integer", "null"]},
            "remote_ip_prefix": _NULL_STR,
            "remote_group_id": _NULL_STR,
            "remote_address_group_id": _NULL_STR,
            "description": _STR,
            "tags": _ARRAY,
            "created_at": _STR,
            "updated_at": _STR,
            "revision_number": _INT,
        },
        required=("id", "security_group_id", "direction", "ethertype"),
    ),
    "NeutronSecurityGroupList": _list(
        "security_groups", "NeutronSecurityGroup", "security_groups_links"
    ),
    "NeutronSecurityGroupShow": _wrap("security_group", _ref("NeutronSecurityGroup")),
    "NeutronSecurityGroupRuleList": _list(
        "security_group_rules", "NeutronSecurityGroupRule", "security_group_rules_links"
    ),
    "NeutronSecurityGroupRuleShow": _wrap("security_group_rule", _ref("NeutronSecurityGroupRule")),
    "NeutronExtension": NEUTRON_EXTENSION,
    "NeutronExtensionList": _list("extensions", "NeutronExtension"),
    "NeutronExtensionShow": _wrap("extension", _ref("NeutronExtension")),
}


def add_components(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: add the components the views refer to."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(COMPONENTS)
    return result


def add_refusals(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every operation may answer 400.

    ``dashboard.security.RefuseNulMiddleware`` refuses a NUL character in any path or query
    string before a view runs, with the error body of the service the path belongs to.
    """
    for path, operations in result.get("paths", {}).items():
        schema = (
            "KeystoneError"
            if path.startswith("/identity")
            else "NeutronError"
            if path.startswith("/network")
            else "NovaFault"
        )
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "400",
                {
                    "description": "A NUL character in the path or query string",
                    "content": {"application/json": {"schema": _ref(schema)}},
                },
            )
    return result
