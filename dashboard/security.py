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

Static files are served by ``StaticFilesHandler`` (Django's ``ASGIStaticFilesHandler``) in front
of the middleware, so it applies the same headers itself: Django's ``SecurityMiddleware`` ones
(nosniff, Referrer-Policy, Cross-Origin-Opener-Policy, HSTS and the HTTPS redirect when
configured), ``X-Frame-Options``, and this module's policy headers — an SVG opened on its own is
a document too. Their caching: the pages link every script, style and icon with ``?v=`` and the
digest of the static files (``dashboard.web.pages.asset_version``), so a request for the current
digest may be kept for a year (``immutable``) when DEBUG is off; anything else — another or no
digest, or DEBUG, where files change under a running process — is revalidated each time
(``no-cache``; the answer carries ``Last-Modified``, so a revalidation is a 304).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.handlers.exception import response_for_exception
from django.http import (
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
)
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware

from dashboard.api.faults import keystone_body, neutron_body, nova_body
from dashboard.api.parsers import NUL_REFUSED

_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "style-src-attr": "'unsafe-inline'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _policy(**changes: str | None) -> str:
    """The pages' Content-Security-Policy with some directives changed (None drops one)."""
    directives = {**_DIRECTIVES, **{k.replace("_", "-"): v for k, v in changes.items()}}
    return "; ".join(f"{name} {value}" for name, value in directives.items() if value)


POLICY = _policy()

#: Swagger UI (``/api/docs/``): its page has an inline ``<style>``, its stylesheet ``data:``
#: images, and its components set styles; its scripts still come from this origin only.
DOCS_POLICY = _policy(
    style_src="'self' 'unsafe-inline'", style_src_attr=None, img_src="'self' data:"
)

#: Pages with a console (the instance page, noVNC's): xterm.js draws its terminal with a
#: ``<style>`` element it writes; scripts still come from this origin only.
CONSOLE_POLICY = _policy(style_src="'self' 'unsafe-inline'")

PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=()"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        _policy_headers(response)
        if "Cache-Control" not in response and _private(request, response):
            response["Cache-Control"] = "no-store"
        return response


def _policy_headers(response: HttpResponseBase) -> None:
    response.headers.setdefault("Content-Security-Policy", POLICY)
    response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)


def _private(request: HttpRequest, response: HttpResponseBase) -> bool:
    """Credentials went in or came out. A session cookie counts whether or not it is still valid:
    reading ``request.user`` here would load the session of every request."""
    return (
        "X-Subject-Token" in response
        or "HTTP_X_AUTH_TOKEN" in request.META
        or settings.SESSION_COOKIE_NAME in request.COOKIES
    )


#: A static file asked for with the current digest of the static files does not change.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "no-cache"


class StaticFilesHandler(ASGIStaticFilesHandler):
    """Django's static files handler, whose answers carry the pages' security headers."""

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        security = SecurityMiddleware(_never_called)
        try:
            redirect = security.process_request(request)  # SECURE_SSL_REDIRECT
        except Exception as error:  # a Host header not in ALLOWED_HOSTS: a 400, as for pages
            redirect = response_for_exception(request, error)
        if redirect is not None:
            redirect._resource_closers.append(request.close)  # as Django's handler does
            response = redirect
        else:
            response = await super().get_response_async(request)
        response.headers.setdefault("Cache-Control", static_cache_control(request, response))
        security.process_response(request, response)
        XFrameOptionsMiddleware(_never_called).process_response(request, response)
        _policy_headers(response)
        return response


def static_cache_control(request: HttpRequest, response: HttpResponseBase) -> str:
    from dashboard.web.pages import asset_version  # the pages' digest; imports the pages

    if (
        response.status_code == 200
        and not settings.DEBUG
        and request.GET.get("v") == asset_version()
    ):
        return VERSIONED_CACHE
    return UNVERSIONED_CACHE


def _never_called(request: HttpRequest) -> HttpResponseBase:
    """The ``get_response`` of middleware used only for its process_* hooks."""
    raise AssertionError("not a middleware chain")


#: Path prefixes of the REST API, and the error body each answers with ("/" is the API's too).
KEYSTONE_PREFIXES = ("/identity",)
NEUTRON_PREFIXES = ("/network/",)
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
    """Whose error body a path answers with: "keystone", "neutron", "nova" (the REST API) or
    "page"."""
    if path.startswith(KEYSTONE_PREFIXES):
        return "keystone"
    if path == "/network" or path.startswith(NEUTRON_PREFIXES):
        return "neutron"
    if path == "/" or path.startswith(NOVA_PREFIXES):
        return "nova"
    return "page"


def _bad_request(path: str) -> HttpResponseBase:
    style = _style(path)
    if style == "keystone":
        return JsonResponse(keystone_body(400, NUL_REFUSED), status=400)
    if style == "neutron":
        return JsonResponse(neutron_body(400, NUL_REFUSED), status=400)
    if style == "nova":
        return JsonResponse(nova_body(400, NUL_REFUSED), status=400)
    return HttpResponseBadRequest(NUL_REFUSED, content_type="text/plain; charset=utf-8")
