"""The API's one request-body parser: JSON, bounded in size, without NUL characters.

- Nova refuses a body larger than oslo.middleware's ``max_request_body_size`` (114688 bytes)
  with 413; so does this parser, before reading it (DRF reads the body from the request stream,
  past Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``, so nothing else bounds it).
- PostgreSQL cannot store or compare a NUL character in text: a NUL anywhere in the body is
  Nova's 400 here rather than a database error (``dashboard.security`` refuses it in paths and
  query strings).
- Nova's bodies nest a few levels deep. A body nested deeper than ``MAX_DEPTH`` is refused
  before the schema validation and the error messages walk it recursively (Python's recursion
  limit would make that a 500).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.parsers import JSONParser

from dashboard.api.faults import APIFault

#: oslo.middleware's default ``max_request_body_size``, which Nova deploys with.
MAX_BODY_BYTES = 114688
MAX_DEPTH = 32
NUL_REFUSED = "Invalid input: NUL characters are not allowed."
TOO_DEEP = "Malformed request body: nested too deeply."


def refusal(data: Any) -> str | None:
    """Why a parsed body is refused (too deep, or a NUL in a key or string), or None.

    Iterative, so a deep body cannot exhaust the stack here either.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return NUL_REFUSED
        elif isinstance(value, Mapping | list):
            if depth >= MAX_DEPTH:
                return TOO_DEEP
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            for key, item in items:
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
    return None


class BoundedJSONParser(JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {})
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise APIFault(413, "Request is too large.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # json's decoder gives up on deep nesting with this, not ValueError
            raise APIFault(400, TOO_DEEP) from None
        problem = refusal(data)
        if problem is not None:
            raise APIFault(400, problem)
        return data
