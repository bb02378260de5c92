"""The bases of the endpoints: authentication, the caller's context, microversions, headers.

Order as in Nova behind keystonemiddleware: the token is checked first (401), then the
microversion is negotiated (400 / 406), then the view runs. Every answer of an authenticated
endpoint carries the request id (``X-Compute-Request-Id`` and ``X-OpenStack-Request-ID``);
compute answers also carry the negotiated version in both headers, with ``Vary``.

Bodies are exactly Nova's by default. The project's own additions (``vmdash:actions`` in a
server, ``vmdash:host_status`` and ``vmdash:last_sync`` in a service) are added only for a
request that sends ``X-Vmdash-Extras: 1`` (``EXTRAS_HEADER``); such answers say
``Vary: X-Vmdash-Extras``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.utils.cache import patch_vary_headers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compute.context import RequestContext
from dashboard.api import microversions
from dashboard.api.auth import KeystoneTokenAuthentication, api_context
from dashboard.api.microversions import APIVersion
from dashboard.api.negotiation import JSONUnlessHTML
from dashboard.api.parsers import BoundedJSONParser

#: The one opt-in to the project's extra keys (``vmdash:…``) in compute bodies.
EXTRAS_HEADER = "X-Vmdash-Extras"
_NO = frozenset({"", "0", "false", "no", "off"})


def wants_extras(request: Request) -> bool:
    """True when the request asked for the ``vmdash:…`` keys (``X-Vmdash-Extras: 1``)."""
    return request.headers.get(EXTRAS_HEADER, "").strip().lower() not in _NO


class AuthenticatedView(APIView):
    """A token (or a session) is required; errors use Nova's fault body."""

    error_style = "nova"
    authentication_classes = [KeystoneTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    parser_classes = [BoundedJSONParser]
    content_negotiation_class = JSONUnlessHTML

    @cached_property
    def context(self) -> RequestContext:
        return api_context(self.request)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if "context" in self.__dict__:
            response["X-Compute-Request-Id"] = self.context.request_id
            response["X-OpenStack-Request-ID"] = self.context.request_id
        return response


class ComputeView(AuthenticatedView):
    """A compute endpoint: negotiates the microversion and echoes it."""

    #: Negotiated per request in ``initial``; None until then (and for a refused version).
    api_version: APIVersion | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.api_version = microversions.negotiate(request)

    @property
    def version(self) -> APIVersion:
        return self.api_version or microversions.MIN_VERSION

    def since(self, version: str) -> bool:
        return self.version.at_least(version)

    @property
    def extras(self) -> bool:
        """Whether to add the ``vmdash:…`` keys (``X-Vmdash-Extras``) to Nova's bodies."""
        return wants_extras(self.request)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.api_version is not None:
            headers = microversions.response_headers(self.api_version)
            response[microversions.HEADER] = headers[microversions.HEADER]
            response[microversions.LEGACY_HEADER] = headers[microversions.LEGACY_HEADER]
            patch_vary_headers(response, (microversions.HEADER, microversions.LEGACY_HEADER))
        patch_vary_headers(response, (EXTRAS_HEADER,))
        return response
