"""Nova's console calls: ``os-getConsoleOutput`` (``console_output.py``), the older
``os-getVNCConsole`` / ``os-getSerialConsole`` actions (2.1–2.5) and ``POST
/servers/{id}/remote-consoles`` (2.6+, ``remote_consoles.py``). Bodies are validated with Nova's
schemas; the domain answers (``compute.consoles.service``); the URL given is this dashboard's:
the noVNC page (``/consoles/vnc/?token=…``) or the serial console's socket
(``ws://…/ws/consoles/serial/?token=…``), both opened by a user of the instance's project."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute.consoles.service import IssuedConsole, console_output_get, remote_console_create
from compute.context import RequestContext
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault
from dashboard.api.microversions import MAX_VERSION, APIVersion
from dashboard.api.validation import validate

CONSOLE_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "os-getConsoleOutput": {
            "type": "object",
            "properties": {
                "length": {
                    "type": ["integer", "string", "null"],
                    "pattern": "^-?[0-9]+$",
                    "minimum": -1,
                },
            },
            "additionalProperties": False,
        },
    },
    "required": ["os-getConsoleOutput"],
    "additionalProperties": False,
}


def _typed(key: str, types: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            key: {
                "type": "object",
                "properties": {"type": {"type": "string", "enum": types}},
                "required": ["type"],
                "additionalProperties": False,
            },
        },
        "required": [key],
        "additionalProperties": False,
    }


#: Nova's legacy console actions: body key → (protocol, schema).
LEGACY: dict[str, tuple[str, dict[str, Any]]] = {
    "os-getVNCConsole": ("vnc", _typed("os-getVNCConsole", ["novnc", "xvpvnc"])),
    "os-getSPICEConsole": ("spice", _typed("os-getSPICEConsole", ["spice-html5"])),
    "os-getSerialConsole": ("serial", _typed("os-getSerialConsole", ["serial"])),
}

PROTOCOLS = ["vnc", "spice", "serial", "rdp"]
TYPES = ["novnc", "xvpvnc", "spice-html5", "serial", "rdp-html5"]


def create_schema(version: APIVersion) -> dict[str, Any]:
    protocols, types = list(PROTOCOLS), list(TYPES)
    if version.at_least("2.8"):
        protocols.append("mks")
        types.append("webmks")
    if version.at_least("2.99"):
        types.append("spice-direct")
    return {
        "type": "object",
        "properties": {
            "remote_console": {
                "type": "object",
                "properties": {
                    "protocol": {"type": "string", "enum": protocols},
                    "type": {"type": "string", "enum": types},
                },
                "required": ["protocol", "type"],
                "additionalProperties": False,
            },
        },
        "required": ["remote_console"],
        "additionalProperties": False,
    }


#: The body keys answered here rather than by the action table.
CONSOLE_ACTIONS = ("os-getConsoleOutput", *LEGACY, "os-getRDPConsole")


def is_console_action(body: Any) -> bool:
    return isinstance(body, dict) and len(body) == 1 and next(iter(body)) in CONSOLE_ACTIONS


def console_url(request: Request, issued: IssuedConsole) -> str:
    """Where the console opens: the noVNC page, or the serial console's socket."""
    if issued.protocol == "vnc":
        return request.build_absolute_uri(f"/consoles/vnc/?token={issued.token}")
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}/ws/consoles/serial/?token={issued.token}"


def console_action(
    request: Request,
    context: RequestContext,
    version: APIVersion,
    server_id: str,
    body: dict[str, Any],
) -> Response:
    key = next(iter(body))
    if key in LEGACY or key == "os-getRDPConsole":
        if version.at_least("2.6"):
            raise APIFault(404, f"API version {version} is not supported on this method.")
        if key == "os-getRDPConsole":  # removed with Hyper-V (Nova 29.0.0): a bare 400
            raise APIFault(
                400,
                "The server could not comply with the request since it is either malformed or otherwise incorrect.",
            )
        protocol, schema = LEGACY[key]
        validate(body, schema)
        issued = remote_console_create(
            context=context,
            instance_uuid=server_id,
            protocol=protocol,
            console_type=body[key]["type"],
        )
        return Response(
            {"console": {"type": issued.console_type, "url": console_url(request, issued)}}
        )
    validate(body, CONSOLE_OUTPUT)
    length = body["os-getConsoleOutput"].get("length")
    output = console_output_get(
        context=context,
        instance_uuid=server_id,
        length=None if length is None else int(length),
    )
    return Response({"output": output})


class RemoteConsoles(ComputeView):
    @extend_schema(operation_id="createRemoteConsole", tags=["servers"],
                   summary="A one-time URL of a server's remote console (2.6+)",
                   parameters=[VERSION_HEADER], request={"application/json": create_schema(MAX_VERSION)},
                   responses=compute_responses({200: None}, 400, 404, 409, 501))  # fmt: skip
    def post(self, request: Request, server_id: str) -> Response:
        if not self.since("2.6"):
            raise APIFault(404, f"API version {self.version} is not supported on this method.")
        validate(request.data, create_schema(self.version))
        asked = request.data["remote_console"]
        issued = remote_console_create(
            context=self.context,
            instance_uuid=server_id,
            protocol=asked["protocol"],
            console_type=asked["type"],
        )
        return Response(
            {
                "remote_console": {
                    "protocol": issued.protocol,
                    "type": issued.console_type,
                    "url": console_url(request, issued),
                }
            }
        )
