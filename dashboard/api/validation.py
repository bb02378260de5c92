"""Request bodies checked against JSON schemas, with Nova's wording for what is wrong.

Nova validates every body with jsonschema and reports ``Invalid input for field/attribute
<name>. Value: <value>. <reason>`` (400). The schemas live in ``dashboard.api.schemas`` and are
also what the OpenAPI document shows, so the docs and the checks cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

import jsonschema
from django.utils.dateparse import parse_datetime

from dashboard.api.faults import APIFault

_formats = jsonschema.FormatChecker(formats=())


@_formats.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@_formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or parse_datetime(value) is not None


@_formats.checks("base64", raises=(binascii.Error, ValueError))
def _is_base64(value: object) -> bool:
    return not isinstance(value, str) or bool(base64.b64decode(value, validate=True) or True)


def validate(body: Any, schema: dict[str, Any]) -> None:
    """Raise Nova's 400 if ``body`` does not match ``schema``."""
    validator = jsonschema.Draft4Validator(schema, format_checker=_formats)
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is None:
        return
    if error.path:
        detail = (
            f"Invalid input for field/attribute {error.path[-1]}. "
            f"Value: {error.instance}. {error.message}"
        )
    else:
        detail = error.message
    raise APIFault(400, detail)


def query_int(request: Any, name: str, default: int) -> int:
    """A non-negative integer query parameter of the project's own endpoints (``limit``,
    ``offset``): ``default`` when absent, a 400 naming it when it is not one."""
    from compute.exceptions import Invalid

    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise Invalid(f"Invalid {name} {raw!r}: a non-negative integer is expected.")
    return int(raw)
