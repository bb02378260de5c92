"""The notifications page: the user's notifications (newest first, mark read), their
subscriptions (add, remove) and each subscription's delivery log. Reads through
``compute.notify.queries`` (the user's own rows only), writes through
``compute.notify.subscriptions``. The bell in the top bar links here; its count is pushed live
through the user's own socket group.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext, pgettext
from django.views.decorators.http import require_GET, require_POST

from compute.exceptions import ComputeError
from compute.models import EventKind, Subscription
from compute.notify.queries import delivery_log, notifications_of, subscriptions_of
from compute.notify.subscriptions import (
    notifications_mark_read,
    subscription_create,
    subscription_delete,
)
from dashboard.web.pages import begin, error_page

PAGE_SIZE = 25


@login_required
@require_GET
def notifications_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    context = page.scope.full
    unread_only = request.GET.get("unread") == "1"
    pages = Paginator(notifications_of(context=context, unread_only=unread_only), PAGE_SIZE)
    listed = pages.get_page(request.GET.get("page"))
    return page.render(
        "web/notifications/list.html",
        {
            "listed": listed,
            "unread_only": unread_only,
            "subscriptions": subscriptions_of(context=context),
            "kinds": EventKind.choices,
            "scopes": [
                s
                for s in Subscription.Scope.choices
                if s[0] != Subscription.Scope.HOST or context.is_admin
            ],
        },
        nav="notifications",
    )


@login_required
@require_POST
def notifications_read_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    notifications_mark_read(context=page.scope.full)
    return redirect("notifications")


@login_required
@require_POST
def subscription_create_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    try:
        created = subscription_create(
            context=page.scope.full,
            scope=request.POST.get("scope", ""),
            target=request.POST.get("target", ""),
            events=request.POST.getlist("events") or None,
            email=request.POST.get("email") == "on",
            webhook_url=request.POST.get("webhook_url", ""),
        )
    except ComputeError as error:
        page.refused(error)
        return redirect("notifications")
    scope = pgettext("subscription scope", str(created.get_scope_display()))
    text = gettext("Subscribed to %(scope)s %(target)s.") % {
        "scope": scope,
        "target": created.target,
    }
    if created.webhook_secret:
        text += " " + gettext("Webhook signing secret (shown once): %(secret)s") % {
            "secret": created.webhook_secret
        }
    messages.success(request, text)
    return redirect("notifications")


@login_required
@require_POST
def subscription_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    page = begin(request)
    try:
        subscription_delete(context=page.scope.full, subscription_id=pk)
    except ComputeError as error:
        page.refused(error)
    return redirect("notifications")


@login_required
@require_GET
def subscription_log_view(request: HttpRequest, pk: int) -> HttpResponse:
    page = begin(request)
    try:
        attempts = delivery_log(context=page.scope.full, subscription_id=pk)
    except ComputeError as error:
        return error_page(
            page, status=error.code, title=gettext("Not found"), message=error.message
        )
    listed = Paginator(attempts, PAGE_SIZE).get_page(request.GET.get("page"))
    return page.render(
        "web/notifications/log.html",
        {"listed": listed, "subscription": pk},
        nav="notifications",
    )
