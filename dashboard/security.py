"""Security headers Django's ``SecurityMiddleware`` does not set.

- ``Content-Security-Policy``: the pages load scripts, styles, images and sockets from this
  origin only, with no inline script and no ``eval``. Inline ``style="…"`` attributes are allowed
  (``style-src-attr``): the progress bars' widths are rendered that way, and a style attribute
  cannot run code. A view that needs a looser policy (the Swagger UI page) sets the header itself
  and this middleware leaves it alone.
- ``Cross-Origin-Resource-Policy: same-origin`` and a ``Permissions-Policy`` that turns off the
  powerful browser features nothing here uses.
- ``Cache-Control: no-store`` on what a shared cache or the browser's history must not keep:
  every answer to a request with a session cookie or an ``X-Auth-Token``, and every answer
  that carries a token (``X-Subject-Token``), unless the view chose its own caching.

``RefuseNulMiddleware`` answers 400 to a request with a NUL character in its path, query string
or form fields, before any view runs: PostgreSQL cannot hold NUL in text, so such a value would
otherwise end as a database error (a 500) in whichever lookup met it first. The API's JSON
bodies are checked by its parser (``dashboard.api.parsers``).

Static files are served by ``ASGIStaticFilesHandler`` before the middleware, so they carry none
of this; they are the app's own public scripts and styles.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
)

from dashboard.api.faults import keystone_body, nova_body
from dashboard.api.parsers import NUL_REFUSED

POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

#: Swagger UI (``/api/docs/``): its page has an inline ``<style>``, its stylesheet ``data:``
#: images, and its components set styles; its scripts still come from this origin only.
DOCS_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=()"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if "Cache-Control" not in response and _private(request, response):
            response["Cache-Control"] = "no-store"
        return response


def _private(request: HttpRequest, response: HttpResponseBase) -> bool:
    """Credentials went in or came out. A session cookie counts whether or not it is still valid:
    reading ``request.user`` here would load the session of every request."""
    return (
        "X-Subject-Token" in response
        or "HTTP_X_AUTH_TOKEN" in request.META
        or settings.SESSION_COOKIE_NAME in request.COOKIES
    )


#: Path prefixes of the REST API, and the error body each answers with ("/" is the API's too).
KEYSTONE_PREFIXES = ("/identity",)
NOVA_PREFIXES = ("/v2.1", "/image", "/api/")
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if _carries_nul(request):
            return _bad_request(request.path)
        return self.get_response(request)


def _carries_nul(request: HttpRequest) -> bool:
    fields = [request.path, *_pairs(request.GET)]
    # The pages' forms. Not the API's: it takes JSON only (its parser checks that), and reading
    # a multipart body here would leave DRF an empty one instead of its 415.
    if request.content_type in FORMS and _style(request.path) == "page":
        fields.extend(_pairs(request.POST))
    return any("\x00" in text for text in fields)


def _pairs(query: QueryDict) -> list[str]:
    return [text for key, values in query.lists() for text in (key, *values)]


def _style(path: str) -> str:
    """Whose error body a path answers with: "keystone", "nova" (the REST API) or "page"."""
    if path.startswith(KEYSTONE_PREFIXES):
        return "keystone"
    if path == "/" or path.startswith(NOVA_PREFIXES):
        return "nova"
    return "page"


def _bad_request(path: str) -> HttpResponseBase:
    style = _style(path)
    if style == "keystone":
        return JsonResponse(keystone_body(400, NUL_REFUSED), status=400)
    if style == "nova":
        return JsonResponse(nova_body(400, NUL_REFUSED), status=400)
    return HttpResponseBadRequest(NUL_REFUSED, content_type="text/plain; charset=utf-8")
