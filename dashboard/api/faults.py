"""The one exception handler of the API: every error leaves as the body its service would send.

- Compute and image endpoints answer with Nova's fault body, one key named after the code:
  ``{"conflictingRequest": {"code": 409, "message": "Cannot 'start' instance … vm_state active"}}``.
  ``ComputeError`` already carries the code, the fault key and Nova's text; ``APIFault`` is the
  same thing for what the edge itself refuses (a malformed body, an unknown microversion).
- Network endpoints (the Neutron v2.0 slice) answer with Neutron's
  ``{"NeutronError": {"type": "NetworkNotFound", "message": "…", "detail": ""}}``; ``NeutronFault``
  names the type, anything else gets webob's class name for its code (``HTTPNotFound`` …), as
  Neutron's fault wrapper does.
- Identity endpoints, and the 401 every endpoint gives without a valid token (keystonemiddleware
  sends it in front of Nova), answer with Keystone's ``{"error": {"code", "title", "message"}}``.

A database that cannot be reached is Nova's 503 ``serviceUnavailable`` with ``Retry-After``;
anything else unexpected becomes Nova's 500 ``computeFault`` and is logged with its traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from compute.exceptions import ComputeError

log = logging.getLogger(__name__)

#: Nova's fault keys (``nova/api/openstack/wsgi.py``); any other code is a ``computeFault``.
FAULT_NAMES: dict[int, str] = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}

#: Keystone's error titles.
TITLES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
}

#: webob's exception class names, the ``type`` Neutron gives an HTTP error it raised itself.
NEUTRON_TYPES: dict[int, str] = {
    400: "HTTPBadRequest",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    406: "HTTPNotAcceptable",
    409: "HTTPConflict",
    413: "HTTPRequestEntityTooLarge",
    415: "HTTPUnsupportedMediaType",
    500: "HTTPInternalServerError",
    503: "HTTPServiceUnavailable",
}

AUTH_REQUIRED = "The request you have made requires authentication."


class APIFault(Exception):
    """An error the edge raises itself, rendered like a ``ComputeError``."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        fault: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}
        #: The fault key (Nova) or error type (Neutron) when not the code's default.
        self.fault = fault


class NeutronFault(APIFault):
    """A Neutron exception: ``type`` is its class name (``NetworkNotFound``, ``PolicyNotAuthorized``)."""

    def __init__(self, code: int, type_: str, message: str) -> None:
        super().__init__(code, message, fault=type_)


def nova_body(code: int, message: str, fault: str | None = None) -> dict[str, Any]:
    return {fault or FAULT_NAMES.get(code, "computeFault"): {"code": code, "message": message}}


def keystone_body(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "title": TITLES.get(code, "Error"), "message": message}}


def neutron_body(code: int, message: str, type_: str | None = None) -> dict[str, Any]:
    return {
        "NeutronError": {
            "type": type_ or NEUTRON_TYPES.get(code, "HTTPError"),
            "message": message,
            "detail": "",
        }
    }


def _render(view: object, code: int, message: str, fault: str | None = None) -> dict[str, Any]:
    style = getattr(view, "error_style", "nova")
    if style == "keystone" or code == 401:
        return keystone_body(code, message)
    if style == "neutron":
        return neutron_body(code, message, fault)
    return nova_body(code, message, fault)


def _translate(exc: Exception) -> tuple[int, str, str | None, dict[str, str]]:
    """(code, message, fault key or None, extra headers) for any exception."""
    if isinstance(exc, ComputeError):
        return exc.code, exc.message, exc.fault, {}
    if isinstance(exc, APIFault):
        return exc.code, exc.message, exc.fault, exc.headers
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return 401, AUTH_REQUIRED, None, {}
    if isinstance(exc, drf.ParseError):
        return 400, "Malformed request body", None, {}
    if isinstance(exc, drf.UnsupportedMediaType):
        return 415, "Unsupported Content-Type", None, {}
    if isinstance(exc, Http404 | drf.NotFound):
        return 404, "The resource could not be found.", None, {}
    if isinstance(exc, drf.MethodNotAllowed):
        return 405, "The method specified is not allowed for this resource.", None, {}
    if isinstance(exc, drf.APIException):
        return exc.status_code, str(exc.detail), None, {}
    if isinstance(exc, DataError):
        # The database refused a value the edge let through (PostgreSQL's regular-expression
        # dialect, a number or moment out of its range): the request's fault, not the server's.
        log.warning("Database refused a request's value: %s", exc)
        return 400, "Invalid input for a field or filter of the request.", None, {}
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is restarting, unreachable or out of connections: the service is
        # briefly unavailable, not broken; a client may retry (Nova's 503).
        log.warning("Database unavailable for an API request: %s", exc)
        return 503, "The service is unavailable; please retry shortly.", None, {"Retry-After": "5"}
    log.exception("Unexpected API error", exc_info=exc)
    return (
        500,
        "Unexpected API Error. Please report this at the dashboard's issue tracker.",
        None,
        {},
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER for every API view."""
    view = context.get("view")
    code, message, fault, headers = _translate(exc)
    response = Response(_render(view, code, message, fault), status=code)
    for name, value in headers.items():
        response[name] = value
    if code == 401 and view is not None:
        request = context.get("request")
        authenticators = getattr(view, "get_authenticators", lambda: [])()
        if request is not None and authenticators:
            response["WWW-Authenticate"] = authenticators[0].authenticate_header(request)
    return response
