"""Bodies of ``POST /servers``, ``PUT /servers/{id}`` and the rebuild action, per microversion
(Nova's ``schemas/servers.py``, up to the maximum served here)."""

from __future__ import annotations

import copy

from dashboard.api.microversions import APIVersion
from dashboard.api.schemas import types as t

_NETWORK = t.obj(
    {
        "fixed_ip": {"type": "string"},
        "port": {"oneOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]},
        "uuid": {"type": "string"},
    }
)
_HINTS: t.Schema = {"type": "object", "additionalProperties": True}


def create(version: APIVersion) -> t.Schema:
    server: t.Schema = {
        "name": t.NAME,
        "imageRef": t.IMAGE_ID_OR_EMPTY,
        "flavorRef": t.FLAVOR_REF,
        "adminPass": t.ADMIN_PASSWORD,
        "metadata": t.METADATA,
        "networks": {"type": "array", "items": _NETWORK},
        "OS-DCF:diskConfig": t.DISK_CONFIG,
        "accessIPv4": t.ACCESS_IP,
        "accessIPv6": t.ACCESS_IP,
        "personality": {"type": "array", "items": {"type": "object"}},
        "availability_zone": t.NAME,
        "block_device_mapping": {"type": "array", "items": {"type": "object"}},
        "block_device_mapping_v2": {"type": "array", "items": {"type": "object"}},
        "config_drive": t.BOOLEAN,
        "key_name": t.NAME,
        "min_count": t.POSITIVE_INTEGER,
        "max_count": t.POSITIVE_INTEGER,
        "return_reservation_id": t.BOOLEAN,
        "security_groups": {"type": "array", "items": t.obj({"name": t.NAME})},
        "user_data": {"type": "string", "format": "base64", "maxLength": 65535},
    }
    required = ["name", "flavorRef"]
    if version.at_least("2.19"):
        server["description"] = t.DESCRIPTION
    if version.at_least("2.37"):
        network = copy.deepcopy(_NETWORK)
        network["properties"]["uuid"] = {"type": "string", "format": "uuid"}
        if version.at_least("2.42"):
            network["properties"]["tag"] = t.TAG
        server["networks"] = {
            "oneOf": [
                {"type": "array", "items": network},
                {"type": "string", "enum": ["none", "auto"]},
            ]
        }
        required.append("networks")
    if version.at_least("2.52"):
        server["tags"] = {"type": "array", "items": t.TAG, "maxItems": 50}
    if version.at_least("2.57"):
        server.pop("personality")
    if version.at_least("2.63"):
        server["trusted_image_certificates"] = t.TRUSTED_CERTS
    if version.at_least("2.74"):
        server["host"] = t.FQDN
        server["hypervisor_hostname"] = t.FQDN
    return {
        "type": "object",
        "properties": {
            "server": t.obj(server, required=tuple(required)),
            "os:scheduler_hints": _HINTS,
            "OS-SCH-HNT:scheduler_hints": _HINTS,
        },
        "required": ["server"],
        "additionalProperties": False,
    }


def update(version: APIVersion) -> t.Schema:
    server: t.Schema = {
        "name": t.NAME,
        "OS-DCF:diskConfig": t.DISK_CONFIG,
        "accessIPv4": t.ACCESS_IP,
        "accessIPv6": t.ACCESS_IP,
    }
    if version.at_least("2.19"):
        server["description"] = t.DESCRIPTION
    return t.wrapped("server", t.obj(server))


def rebuild(version: APIVersion) -> t.Schema:
    """The value of ``{"rebuild": …}``."""
    body: t.Schema = {
        "name": t.NAME,
        "imageRef": t.IMAGE_ID,
        "adminPass": t.ADMIN_PASSWORD,
        "metadata": t.METADATA,
        "preserve_ephemeral": t.BOOLEAN,
        "OS-DCF:diskConfig": t.DISK_CONFIG,
        "accessIPv4": t.ACCESS_IP,
        "accessIPv6": t.ACCESS_IP,
        "personality": {"type": "array", "items": {"type": "object"}},
    }
    if version.at_least("2.19"):
        body["description"] = t.DESCRIPTION
    if version.at_least("2.54"):
        body["key_name"] = t.NAME_OR_NONE
    if version.at_least("2.57"):
        body.pop("personality")
        body["user_data"] = {
            "oneOf": [
                {"type": "string", "format": "base64", "maxLength": 65535},
                {"type": "null"},
            ]
        }
    if version.at_least("2.63"):
        body["trusted_image_certificates"] = t.TRUSTED_CERTS
    return t.obj(body, required=("imageRef",))
