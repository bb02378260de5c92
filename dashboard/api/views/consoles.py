"""The console calls of ``POST /servers/{id}/action``: ``os-getConsoleOutput`` (Nova's
``console_output.py``). The body is validated with Nova's schema; the domain answers
(``compute.consoles.service``)."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from compute.consoles.service import console_output_get
from compute.context import RequestContext
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

#: The body keys answered here rather than by the action table.
CONSOLE_ACTIONS = ("os-getConsoleOutput",)


def is_console_action(body: Any) -> bool:
    return isinstance(body, dict) and len(body) == 1 and next(iter(body)) in CONSOLE_ACTIONS


def console_action(context: RequestContext, server_id: str, body: dict[str, Any]) -> Response:
    validate(body, CONSOLE_OUTPUT)
    length = body["os-getConsoleOutput"].get("length")
    output = console_output_get(
        context=context,
        instance_uuid=server_id,
        length=None if length is None else int(length),
    )
    return Response({"output": output})
