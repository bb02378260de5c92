"""Signing in and out, and the project switcher."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dashboard.web.pages import asset_version
from dashboard.web.scope import scope_for, select_project


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        return {**super().get_context_data(**kwargs), "asset_version": asset_version()}


class LogoutView(auth_views.LogoutView):
    pass


@login_required
@require_POST
def project_switch_view(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("project") or None
    if wanted and wanted not in {p.pk for p in scope_for(request).projects}:
        wanted = None
    select_project(request, wanted)
    target = request.POST.get("next") or "/instances/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/instances/"
    return redirect(target)
