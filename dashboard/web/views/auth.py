"""Signing in and out, and the project switcher.

Failed log-ins are counted by ``dashboard.ratelimit`` (the identity token endpoint counts into the
same counters); while a username or address is locked out the password is not checked and the
page answers 429 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dashboard import ratelimit
from dashboard.web.pages import asset_version
from dashboard.web.scope import scope_for, select_project


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        return {**super().get_context_data(**kwargs), "asset_version": asset_version()}

    def _username(self) -> str:
        return str(self.request.POST.get("username", ""))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ip = ratelimit.client_ip(request)
        wait = ratelimit.retry_after(username=self._username(), ip=ip)
        if wait is None:
            return super().post(request, *args, **kwargs)
        form = self.get_form_class()(request, initial={"username": self._username()})
        context = self.get_context_data(form=form, locked_out=ratelimit.locked_message(wait))
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response

    def form_valid(self, form: Form) -> HttpResponse:
        ratelimit.login_succeeded(username=self._username(), ip=ratelimit.client_ip(self.request))
        return super().form_valid(form)

    def form_invalid(self, form: Form) -> HttpResponse:
        if form.has_error(NON_FIELD_ERRORS, "invalid_login"):
            ratelimit.login_failed(username=self._username(), ip=ratelimit.client_ip(self.request))
        return super().form_invalid(form)


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
