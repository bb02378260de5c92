"""Saved views of the instances list: a user names the current filters, sort, page size and
columns,
per project (or for "all projects"); the view is the list's own URL, so its link can be shared
with anyone who may see that project — they see their own rows under the same filters."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from dashboard.models import SavedView
from dashboard.web.forms import InstanceFilterForm
from dashboard.web.pages import begin

#: The list parameters a view keeps (never the page anchors: a view starts at its first page).
KEPT = ("name", "status", "host", "sort", "dir", "limit", "cols")
MAX_NAME = SavedView._meta.get_field("name").max_length


def normalised(query: str) -> str | None:
    """The list query with only the parameters a view keeps, in a fixed order; None if any of
    them is invalid (the list would ignore it, a saved view must not keep it)."""
    given = QueryDict(query)
    kept = QueryDict(mutable=True)
    for key in KEPT:
        value = given.get(key, "")
        if value:
            kept[key] = value
    return kept.urlencode() if InstanceFilterForm(kept).is_valid() else None


def views_of(request: HttpRequest, project_id: str | None) -> list[SavedView]:
    return list(SavedView.objects.filter(user_id=request.user.pk, project_id=project_id))


@login_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    name = (request.POST.get("name") or "").strip()
    query = normalised(request.POST.get("query", ""))
    if not name or len(name) > MAX_NAME:
        messages.error(
            request,
            gettext("A saved view needs a name of 1 to %(most)d characters.") % {"most": MAX_NAME},
        )
    elif query is None:
        messages.error(request, gettext("These filters are not valid; the view was not saved."))
    else:
        _, created = SavedView.objects.update_or_create(
            user_id=request.user.pk,
            project_id=page.scope.selected,
            name=name,
            defaults={"query": query},
        )
        done = gettext("View “%(name)s” saved.") if created else gettext("View “%(name)s” updated.")
        messages.success(request, done % {"name": name})
        return redirect(f"{reverse('instances')}?{query}" if query else reverse("instances"))
    return redirect(reverse("instances"))


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, view_id: int) -> HttpResponse:
    deleted, _ = SavedView.objects.filter(pk=view_id, user_id=request.user.pk).delete()
    if deleted:
        messages.success(request, gettext("Saved view removed."))
    return redirect(reverse("instances"))
