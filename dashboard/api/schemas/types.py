"""Nova's parameter types (``nova/api/validation/parameter_types.py``), the ones used here."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

NAME: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^(?!\s)[^\x00-\x1f\x7f]*(?<!\s)$",
}
NAME_OR_NONE: Schema = {"oneOf": [NAME, {"type": "null"}]}
DESCRIPTION: Schema = {"type": ["string", "null"], "minLength": 0, "maxLength": 255}
ADMIN_PASSWORD: Schema = {"type": "string"}
FLAVOR_REF: Schema = {"type": ["string", "integer"], "minLength": 1}
IMAGE_ID: Schema = {"type": "string", "format": "uuid"}
IMAGE_ID_OR_EMPTY: Schema = {"oneOf": [{"type": "string", "minLength": 1}, {"enum": [""]}]}
DISK_CONFIG: Schema = {"type": "string", "enum": ["AUTO", "MANUAL"]}
ACCESS_IP: Schema = {"type": "string"}
FQDN: Schema = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[a-zA-Z0-9-._]*$"}
BOOLEAN: Schema = {
    "type": ["boolean", "string"],
    "enum": [
        True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
        False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f",
    ],
}  # fmt: skip
METADATA: Schema = {
    "type": "object",
    "patternProperties": {r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}
POSITIVE_INTEGER: Schema = {
    "type": ["integer", "string"],
    "pattern": "^[0-9]*$",
    "minimum": 1,
    "minLength": 1,
}
NON_NEGATIVE_INTEGER: Schema = {
    "type": ["integer", "string"],
    "pattern": "^[0-9]*$",
    "minimum": 0,
    "minLength": 1,
}
TAG: Schema = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": r"^[^,/]*$"}
TRUSTED_CERTS: Schema = {
    "type": ["array", "null"],
    "minItems": 1,
    "maxItems": 50,
    "uniqueItems": True,
    "items": {"type": "string", "minLength": 1},
}
NULL: Schema = {"type": "null"}

TRUE_STRINGS = frozenset({"true", "1", "on", "yes", "y", "t"})


def truthy(value: object) -> bool:
    """Nova's ``bool_from_string`` for the BOOLEAN values."""
    return value is True or (isinstance(value, str) and value.lower() in TRUE_STRINGS)


def wrapped(key: str, value: Schema, *, required: bool = True) -> Schema:
    """``{key: value}`` and nothing else: the shape of every Nova body."""
    return {
        "type": "object",
        "properties": {key: value},
        "required": [key] if required else [],
        "additionalProperties": False,
    }


def obj(properties: Schema, *, required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema
