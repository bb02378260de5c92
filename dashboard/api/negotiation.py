"""Content negotiation that answers JSON whatever the ``Accept`` header says.

Nova does not refuse a request for its ``Accept`` header, and openstacksdk sends an empty one
with every server action. The browsable API is still chosen when a browser asks for HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JSONUnlessHTML(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Sequence[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, Any]:
        if not request.META.get("HTTP_ACCEPT", "").strip():
            return renderers[0], renderers[0].media_type
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type
