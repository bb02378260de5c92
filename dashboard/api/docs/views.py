"""The OpenAPI document and its interactive page (Swagger UI), served without any CDN.

Swagger UI's files come from the ``drf-spectacular-sidecar`` package and are served by
``assets`` from the package directory, so the page works offline and needs no static-files
set-up. The page's start-up script is served from its own URL (``?script``) rather than inline,
so even this page runs no inline script; it only needs inline styles (``DOCS_POLICY``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import FileResponse, Http404, HttpRequest
from django.utils._os import safe_join
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard.security import DOCS_POLICY

try:
    import drf_spectacular_sidecar

    SWAGGER_DIR: Path | None = (
        Path(drf_spectacular_sidecar.__file__).parent
        / "static"
        / "drf_spectacular_sidecar"
        / "swagger-ui-dist"
    )
except ImportError:  # pragma: no cover - the page then has no assets
    SWAGGER_DIR = None


class KeystoneTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``X-Auth-Token`` as the API's security scheme."""

    target_class = "dashboard.api.auth.KeystoneTokenAuthentication"
    name = "keystoneToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Auth-Token",
            "description": "A token from POST /identity/v3/auth/tokens (X-Subject-Token).",
        }


class SchemaView(SpectacularAPIView):
    """The document, generated once per process and version: it is made from the code, which
    does not change while the process runs, and making it walks every endpoint (seconds on a
    busy machine — the docs page waited on it at each load)."""

    authentication_classes: list[type] = []
    _made: dict[tuple[str | None, str | None, str], Any] = {}

    def _get_schema_response(self, request: Request) -> Response:
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, request.GET.get("lang"), request.get_host())
        if key not in self._made:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            self._made[key] = generator.get_schema(request=request, public=self.serve_public)
        return Response(
            data=self._made[key],
            headers={
                "Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'
            },
        )


@receiver(setting_changed)
def _forget_schemas(**_: object) -> None:
    """A test that changes settings may change the document."""
    SchemaView._made.clear()


class DocsView(SpectacularSwaggerSplitView):
    authentication_classes: list[type] = []
    url_name = "api-schema"

    def finalize_response(
        self, request: Request, response: Response, *args: object, **kwargs: object
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_POLICY
        return response


def assets(request: HttpRequest, path: str) -> FileResponse:
    if SWAGGER_DIR is None:
        raise Http404("Swagger UI assets are not installed (drf-spectacular-sidecar).")
    try:
        target = Path(safe_join(SWAGGER_DIR, path))
    except (SuspiciousFileOperation, ValueError):
        raise Http404(path) from None
    if not target.is_file():
        raise Http404(path)
    return FileResponse(target.open("rb"))
