"""Helpers the views use to document themselves: component references, error responses and the
microversion header. The components are defined in ``dashboard.api.docs.components``.

Every compute endpoint can answer 400 (a malformed microversion), 401 (no valid token), 406 (a
microversion out of range) and 503 (the database unreachable); ``compute_responses`` adds them, and each view lists the
other codes it really gives. A test checks every answer the test suite sees against this list.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from dashboard.api.microversions import MAX_VERSION

ERROR_TEXT: dict[int, str] = {
    400: "Bad request: malformed body, query or microversion",
    401: "No valid X-Auth-Token (Keystone's error body)",
    403: "Forbidden by policy",
    404: "Not found (or not visible to the caller)",
    406: "Microversion outside the supported range",
    409: "Conflict: refused by the action table's preconditions, or a lost race",
    413: "Request body larger than 114688 bytes",
    415: "Unsupported Content-Type",
    429: "Too many failed log-ins from this address or for this user: locked out for a while",
    501: "Not implemented: no host here serves it (Nova's raise_feature_not_supported)",
    503: "The database is unreachable for a moment: retry after Retry-After seconds",
}

VERSION_HEADER = OpenApiParameter(
    "OpenStack-API-Version",
    str,
    OpenApiParameter.HEADER,
    description="`compute 2.x` (or `X-OpenStack-Nova-API-Version: 2.x`); absent means 2.1.",
)

EXTRAS_PARAMETER = OpenApiParameter(
    "X-Vmdash-Extras",
    str,
    OpenApiParameter.HEADER,
    description="`1` adds the project's own keys to Nova's bodies: `vmdash:actions` in servers, "
    "`vmdash:host_status` and `vmdash:last_sync` in services. Absent: exactly Nova's bodies.",
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def responses(success: dict[int, Any], *errors: int, style: str = "nova") -> dict[int, Any]:
    out: dict[int, Any] = {}
    for code, body in success.items():
        out[code] = OpenApiResponse(response=body, description="Success")
    for code in errors:
        schema = "KeystoneError" if style == "keystone" or code == 401 else "NovaFault"
        out[code] = OpenApiResponse(response=ref(schema), description=ERROR_TEXT[code])
    return out


def compute_responses(success: dict[int, Any], *errors: int) -> dict[int, Any]:
    """Responses of a compute endpoint: its own codes plus 400, 401, 406 and 503, and 413 for
    one that takes a body (those list 415)."""
    oversize = {413} if 415 in errors else set()
    return responses(success, *sorted({400, 401, 406, 503, *oversize, *errors}))


class Latest:
    """A stand-in view at the newest microversion, for documenting a body whose schema the
    view builds per microversion (``create_schema(view)``): the schema shows the newest."""

    version = MAX_VERSION

    def since(self, version: str) -> bool:
        return True
