"""The pages' language: a signed-in user's choice (kept in ``dashboard.Preference``) wins over
the browser's ``Accept-Language``, which Django's ``LocaleMiddleware`` reads first; the choice
also goes into Django's language cookie, so the login page after a logout speaks it too."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from dashboard.models import Preference

CODES = frozenset(code for code, _ in settings.LANGUAGES)


def preferred_language(request: HttpRequest) -> str:
    """The signed-in user's chosen language, "" if none (read once per request)."""
    cached = getattr(request, "_preferred_language", None)
    if cached is None:
        cached = ""
        if request.user.is_authenticated:
            chosen = Preference.objects.filter(user_id=request.user.pk).values_list(
                "language", flat=True
            )
            cached = chosen.first() or ""
        request._preferred_language = cached  # type: ignore[attr-defined]
    return cached


class PreferredLanguageMiddleware:
    """After authentication: activate the user's chosen language for pages (the API keeps
    English: its texts are Nova's)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _is_api(request.path):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
        else:
            chosen = preferred_language(request)
            if chosen in CODES:
                translation.activate(chosen)
                request.LANGUAGE_CODE = chosen
        return self.get_response(request)


def _is_api(path: str) -> bool:
    return path.startswith(("/v2.1", "/v2", "/identity", "/image", "/network", "/api/"))
