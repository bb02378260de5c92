"""A user's preferences for the pages: the colour theme (the system's, light or dark) and the
language (the browser's, or one of ``settings.LANGUAGES``), kept per user so they follow them
to another browser. Without scripts the form posts and comes back
to the page; with them the page switches at once and the choice is saved in the background."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dashboard.models import Preference


def theme_of(request: HttpRequest) -> str:
    """The signed-in user's theme, ``auto`` for anyone else or anyone who never chose."""
    if not request.user.is_authenticated:
        return Preference.Theme.AUTO
    chosen = Preference.objects.filter(user_id=request.user.pk).values_list("theme", flat=True)
    return chosen.first() or Preference.Theme.AUTO


@login_required
@require_POST
def theme_view(request: HttpRequest) -> HttpResponse:
    theme = request.POST.get("theme", "")
    wants_json = "application/json" in request.headers.get("Accept", "")
    if theme not in Preference.Theme.values:
        message = f"Unknown theme {theme!r}: expected one of {', '.join(Preference.Theme.values)}."
        if wants_json:
            return JsonResponse({"error": message}, status=400)
        return HttpResponse(message, status=400, content_type="text/plain")
    Preference.objects.update_or_create(user_id=request.user.pk, defaults={"theme": theme})
    if wants_json:
        return JsonResponse({"theme": theme})
    target = request.POST.get("next") or "/instances/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/instances/"
    return redirect(target)


@login_required
@require_POST
def language_view(request: HttpRequest) -> HttpResponse:
    """Keep the user's language ("" = the browser's) and set Django's language cookie."""
    language = request.POST.get("language", "")
    codes = [code for code, _ in settings.LANGUAGES]
    if language and language not in codes:
        message = f"Unknown language {language!r}: expected one of {', '.join(codes)}."
        return HttpResponse(message, status=400, content_type="text/plain")
    Preference.objects.update_or_create(user_id=request.user.pk, defaults={"language": language})
    target = request.POST.get("next") or "/instances/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/instances/"
    response = redirect(target)
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response
