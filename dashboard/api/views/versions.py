"""Compute version documents: ``/`` (the list) and ``/v2.1`` (the one version), no token needed.

``/`` is shared with the pages: a browser asking for HTML is sent to the instances page, and
only a client that does not prefer HTML (an API client: ``application/json``, ``*/*``) gets
the version list.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.api.docs.refs import ref
from dashboard.api.faults import keystone_body, nova_body
from dashboard.api.microversions import MAX_VERSION, MIN_VERSION
from dashboard.api.negotiation import JSONUnlessHTML

UPDATED = "2013-07-23T11:33:21Z"
UPDATED_V20 = "2011-01-21T11:33:21Z"
PAGES = "/instances/"


def v21(request: Request) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(MAX_VERSION),
        "min_version": str(MIN_VERSION),
        "updated": UPDATED,
        "links": [{"rel": "self", "href": request.build_absolute_uri(reverse("compute-version"))}],
    }


def v20(request: Request) -> dict[str, Any]:
    """Nova lists its legacy v2.0 first; only its version document is served here (/v2/)."""
    return {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": UPDATED_V20,
        "links": [{"rel": "self", "href": request.build_absolute_uri(reverse("compute-v20"))}],
    }


class VersionView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONUnlessHTML
    error_style = "nova"


def wants_html(request: Request) -> bool:
    preferred = request._request.get_preferred_type(["application/json", "text/html"])
    return preferred == "text/html"


class Root(VersionView):
    @extend_schema(
        operation_id="computeVersions",
        tags=["versions"],
        summary="Compute API versions (browsers asking for HTML are redirected to the pages)",
        auth=[],
        responses={
            200: OpenApiResponse(ref("ComputeVersions"), description="The version list"),
            302: OpenApiResponse(description="Accept prefers text/html: go to the pages"),
        },
    )
    def get(self, request: Request) -> Response | HttpResponseRedirect:
        if wants_html(request):
            try:
                return HttpResponseRedirect(reverse("instances"))
            except NoReverseMatch:
                return HttpResponseRedirect(PAGES)
        return Response({"versions": [v20(request), v21(request)]})


class V21(VersionView):
    @extend_schema(
        operation_id="computeVersionV21",
        tags=["versions"],
        summary="The v2.1 compute API: its microversion range",
        auth=[],
        responses={200: ref("ComputeVersion")},
    )
    def get(self, request: Request) -> Response:
        body = v21(request)
        body["links"].append(
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}
        )
        body["media-types"] = [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ]
        return Response({"version": body})


class V20(VersionView):
    @extend_schema(
        operation_id="computeVersionV20",
        tags=["versions"],
        summary="The legacy v2.0 version document (only the document: the API is v2.1's)",
        auth=[],
        responses={200: ref("ComputeVersion")},
    )
    def get(self, request: Request) -> Response:
        body = v20(request)
        body["links"].append(
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}
        )
        body["media-types"] = [
            {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}
        ]
        return Response({"version": body})


NOT_FOUND = "The resource could not be found."


@csrf_exempt
def not_found(request: HttpRequest) -> JsonResponse:
    """Any other path under /v2.1: Nova's 404 fault rather than an HTML page.

    Exempt from CSRF: API clients send tokens, not cookies, and an unserved POST must be a
    JSON 404, never Django's HTML 403.
    """
    return JsonResponse(nova_body(404, NOT_FOUND), status=404)


@csrf_exempt
def identity_not_found(request: HttpRequest) -> JsonResponse:
    """Any other path under /identity: Keystone's 404 error body."""
    return JsonResponse(keystone_body(404, NOT_FOUND), status=404)


@csrf_exempt
def image_not_found(request: HttpRequest) -> JsonResponse:
    """Any other path under /image: a 404 in the fault body the image API answers with."""
    return JsonResponse(nova_body(404, NOT_FOUND), status=404)
