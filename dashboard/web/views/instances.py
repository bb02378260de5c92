"""The instances list (filters, sorting, pages both ways, bulk actions with a result per row)
and create.

Thin: parse the query or form, call the selector or the service, map a ``ComputeError`` to a
banner with Nova's text, render.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compute.actions import BY_KEY, CREATE
from compute.context import RequestContext
from compute.exceptions import ComputeError, Invalid
from compute.models import Instance
from compute.selectors import (
    InstanceFilters,
    host_list,
    instance_list,
    paginate,
    rows_before,
    visible_instances,
)
from compute.services import instance_action, instance_create, quotas
from dashboard.web import columns as cols
from dashboard.web.actionbar import bulk_actions
from dashboard.web.forms import SORTABLE, Catalog, CreateInstanceForm, InstanceFilterForm
from dashboard.web.pages import Page, begin
from dashboard.web.policy import shows_host, shows_host_status_column
from dashboard.web.refusals import in_language
from dashboard.web.rows import instance_rows
from dashboard.web.views.saved_views import normalised, views_of

DEFAULT_LIMIT = 20
#: The quota resources the usage panel shows: (resource, label, unit).
USAGE = (
    ("instances", _("Instances"), ""),
    ("cores", _("vCPUs"), ""),
    ("ram", _("RAM"), "MiB"),
)


@dataclass(frozen=True)
class Usage:
    key: str
    label: str
    used: int
    limit: int  # -1: unlimited
    unit: str

    @property
    def percent(self) -> int:
        return 0 if self.limit <= 0 else min(100, round(100 * self.used / self.limit))

    @property
    def tone(self) -> str:
        return "danger" if self.percent >= 100 else "warn" if self.percent >= 80 else "ok"


def usage_panel(page: Page) -> tuple[str, list[Usage]] | None:
    """The quota use of the one project the page shows (the selected one, or a member's only
    project), as Nova's ``limits`` counts it; None when the page shows several projects."""
    project = page.scope.selected_project
    if project is None and len(page.scope.projects) == 1 and not page.scope.is_admin:
        project = page.scope.projects[0]
    if project is None:
        return None
    limits, used = quotas.project_limits(project.pk), quotas.project_usage(project.pk)
    return project.name, [
        Usage(r, str(label), used[r], limits[r], unit) for r, label, unit in USAGE
    ]


BULK_RESULTS = "web.bulk_results"


@dataclass(frozen=True)
class BulkResult:
    uuid: str
    name: str
    accepted: bool
    message: str


def list_filters(page: Page, form: InstanceFilterForm) -> InstanceFilters:
    """The selection a list query asks for (the page and its CSV export read the same)."""
    data = form.cleaned_data if form.is_valid() else {}
    sort = data.get("sort") or "created_at"
    direction = data.get("dir") or ("asc" if sort == "name" else "desc")
    admin = page.scope.is_admin
    return InstanceFilters(
        statuses=[data["status"]] if data.get("status") else [],
        name=data.get("name") or None,
        host=(data.get("host") or None) if admin else None,
        all_tenants=admin,
        project_id=page.scope.selected if admin else None,
        sort=[(sort, direction)],
    )


@dataclass(frozen=True)
class Window:
    """One page of the list, and where it sits in the whole selection."""

    rows: list[Instance]
    #: Rows of the selection come before / after this page.
    earlier: bool
    later: bool
    #: How many rows come before this page; None if it could not be told.
    start: int | None


def _window(
    selected: QuerySet[Instance],
    *,
    limit: int,
    marker: str | None,
    before: str | None,
    context: RequestContext,
) -> Window:
    """The page a query asks for: the first, the one after ``marker``, or the one before
    ``before`` (which wins if both are given).

    Pages are anchored on rows, never on offsets: Next is "the rows after the last row shown"
    and Previous "the rows before the first row shown". The list is live — instances are
    created, deleted, and leave or join a status filter between two clicks — so an offset would
    shift with every change above the page and repeat or skip rows at its edge, while an
    anchored page always meets the page the user came from, whatever the sort key. Previous
    pages the same selection in reverse order from its anchor: the sort always ends on a unique
    tie-breaker, so the reversed order is exactly the mirror image (NULLs included). Walking
    back into the start gives a full first page rather than a short one.
    """
    if before is not None:
        back = paginate(selected.reverse(), limit=limit + 1, marker=before, context=context)
        if len(back) > limit:
            rows = back[:limit][::-1]
            return Window(rows, earlier=True, later=True, start=rows_before(selected, rows[0].uuid))
        marker = None  # less than a page before the anchor: that is the first page
    found = paginate(selected, limit=limit + 1, marker=marker, context=context)
    rows = found[:limit]
    start = rows_before(selected, rows[0].uuid) if marker is not None and rows else 0
    return Window(rows, earlier=marker is not None, later=len(found) > limit, start=start)


def spans_projects(page: Page) -> bool:
    """Whether the list shows several projects' rows (and so a project column)."""
    return page.scope.selected is None and (
        page.scope.is_admin or len(page.scope.full.project_ids) > 1
    )


def shown_columns(page: Page, request: HttpRequest) -> tuple[list[cols.Column], list[cols.Column]]:
    """(the columns shown, the columns offered) for this caller and query."""
    offered = cols.available(page.scope.context, project=spans_projects(page))
    return cols.chosen(cols.requested(request.GET.getlist("cols")), offered), offered


@login_required
@require_GET
def instance_list_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    if len(request.GET.getlist("cols")) > 1:
        # The chooser's checkboxes post one ``cols`` each: the shareable link has one list.
        query = request.GET.copy()
        query.setlist("cols", [",".join(cols.requested(request.GET.getlist("cols")))])
        return redirect(f"{reverse('instances')}?{query.urlencode()}")
    form = InstanceFilterForm(request.GET)
    filters = list_filters(page, form)
    data = form.cleaned_data if form.is_valid() else {}
    limit = data.get("limit") or DEFAULT_LIMIT
    marker, before = data.get("marker"), data.get("before")
    context = page.scope.context
    rows, total, window = [], 0, Window([], earlier=False, later=False, start=0)
    try:
        selected = instance_list(context=context, filters=filters)
        total = selected.count()
        try:
            window = _window(
                selected,
                limit=limit,
                marker=str(marker) if marker else None,
                before=str(before) if before else None,
                context=context,
            )
        except Invalid:
            # The anchor row left the list since the link was drawn (deleted, or no longer
            # matching the filters): nothing tells where it stood, so start over.
            messages.warning(
                request,
                gettext(
                    "The instance this page started from is no longer in the list; "
                    "showing the first page."
                ),
            )
            window = _window(selected, limit=limit, marker=None, before=None, context=context)
        rows = instance_rows(window.rows, context)
    except ComputeError as error:
        page.refused(error)
    query = request.GET.copy()
    query.pop("marker", None)
    query.pop("before", None)
    sort_key, sort_dir = filters.sort[0]
    shown, offered = shown_columns(page, request)
    keys = {c.key for c in shown}
    return page.render(
        "web/instances/list.html",
        {
            "rows": rows,
            "form": form,
            "total": total,
            "next_marker": rows[-1].uuid if window.later and rows else None,
            "previous_anchor": rows[0].uuid if window.earlier and rows else None,
            "earlier": window.earlier,
            "range": (
                (window.start + 1, window.start + len(rows))
                if rows and window.start is not None
                else None
            ),
            "query": query.urlencode(),
            "sort_key": sort_key,
            "sort_dir": sort_dir,
            "sortable": {k: v for k, v in SORTABLE.items() if k != "host" or page.scope.is_admin},
            "filtered": bool(filters.statuses or filters.name or filters.host),
            "columns": keys,
            "host_filter": shows_host(context),
            "column_choices": [(c.key, c.label, c.key in keys) for c in offered],
            "show_host": shows_host(context) and "host" in keys,
            "show_host_status": shows_host_status_column(context) and "host_status" in keys,
            "show_project": spans_projects(page) and "project" in keys,
            "bulk_actions": bulk_actions(context),
            "usage": usage_panel(page),
            "saved_views": views_of(request, page.scope.selected),
            "view_query": normalised(request.GET.urlencode()) or "",
            "bulk_results": [BulkResult(**r) for r in request.session.pop(BULK_RESULTS, [])],
            "hosts": [(h.host, h.host) for h in host_list()] if page.scope.is_admin else [],
        },
        nav="instances",
    )


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@login_required
@require_POST
def instance_bulk_view(request: HttpRequest) -> HttpResponse:
    """Run one action on every selected instance; each row gets its own verdict."""
    page = begin(request)
    back = _back(request, reverse("instances"))
    spec = BY_KEY.get(request.POST.get("action", ""))
    uuids = list(dict.fromkeys(request.POST.getlist("instance")))
    if spec is None or not uuids:
        messages.warning(request, gettext("Select instances and an action first."))
        return redirect(back)
    names = _names(page, uuids)
    if spec.destructive and request.POST.get("confirmed") != "yes":
        return page.render(
            "web/instances/confirm.html",
            {"spec": spec, "targets": [(u, names.get(u, u)) for u in uuids], "next": back},
            nav="instances",
        )
    results: list[dict[str, object]] = []
    for uuid in uuids:
        try:
            instance_action(context=page.scope.context, instance_uuid=uuid, action=spec.key)
        except ComputeError as error:
            results.append(
                _result(uuid, names, accepted=False, message=in_language(error.message) or "")
            )
        else:
            results.append(
                _result(
                    uuid,
                    names,
                    accepted=True,
                    message=gettext("%(action)s accepted.") % {"action": gettext(spec.label)},
                )
            )
    request.session[BULK_RESULTS] = results
    return redirect(back)


def _names(page: Page, uuids: list[str]) -> dict[str, str]:
    valid = []
    for uuid in uuids:
        try:
            valid.append(UUID(uuid))
        except ValueError:
            continue
    rows = visible_instances(page.scope.context, all_tenants=True).filter(uuid__in=valid)
    return {str(u): n for u, n in rows.values_list("uuid", "name")}


def _result(uuid: str, names: dict[str, str], *, accepted: bool, message: str) -> dict[str, object]:
    return {"uuid": uuid, "name": names.get(uuid, uuid), "accepted": accepted, "message": message}


@login_required
@require_http_methods(["GET", "POST"])
def instance_create_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    scope = page.scope
    memberships = tuple(p for p in scope.projects if p.pk in scope.full.project_ids) or (
        scope.projects if scope.is_admin else ()
    )
    form = CreateInstanceForm(
        request.POST or None,
        catalog=Catalog.load(scope.context),
        projects=memberships,
        admin=scope.is_admin,
        initial={"project": scope.selected or scope.full.project_id},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            instance = instance_create(
                context=replace(scope.full, project_id=data["project"]),
                name=data["name"],
                flavor_ref=data["flavor"],
                image_ref=data["image"],
                host=data.get("host") or None,
            )
        except ComputeError as error:
            page.refused(error)
        else:
            messages.success(
                request,
                gettext("Creating %(name)s: accepted, now scheduling.") % {"name": instance.name},
            )
            return redirect("instance", uuid=instance.uuid)
    return page.render(
        "web/instances/create.html",
        {"form": form, "create_walk": " › ".join(CREATE.walk)},
        nav="create",
    )
