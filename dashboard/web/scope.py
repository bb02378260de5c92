"""Whose instances a page shows: the signed-in user, narrowed by the project switcher.

A user sees every project it belongs to; the switcher narrows the pages to one of them (kept in
the session). Admins see every project and may narrow to any. The WebSocket and the polling
endpoint always use the whole, un-narrowed context: the page itself ignores what it does not
show.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from compute.context import RequestContext
from compute.models import Project
from dashboard.context import context_for

SESSION_KEY = "web.project_id"


@dataclass(frozen=True)
class Scope:
    #: Everything the user may see (the socket's and poll endpoint's context).
    full: RequestContext
    #: Narrowed to the selected project, if one is selected: what the pages list and act as.
    context: RequestContext
    #: The projects the switcher offers.
    projects: tuple[Project, ...]
    #: The selected project's id, or None for "all".
    selected: str | None

    @property
    def is_admin(self) -> bool:
        return self.full.is_admin

    @property
    def selected_project(self) -> Project | None:
        return next((p for p in self.projects if p.pk == self.selected), None)


def scope_for(request: HttpRequest) -> Scope:
    user: AbstractBaseUser = request.user  # type: ignore[assignment]
    full = context_for(user, client="dashboard")
    if full.is_admin:
        projects = tuple(Project.objects.order_by("name"))
    else:
        projects = tuple(Project.objects.filter(pk__in=full.project_ids).order_by("name"))
    selected = request.session.get(SESSION_KEY)
    if selected not in {p.pk for p in projects}:
        selected = None
    if selected is None:
        return Scope(full=full, context=full, projects=projects, selected=None)
    narrowed = replace(
        full,
        project_id=selected,
        project_ids=full.project_ids if full.is_admin else frozenset({selected}),
    )
    return Scope(full=full, context=narrowed, projects=projects, selected=selected)


def select_project(request: HttpRequest, project_id: str | None) -> None:
    if project_id:
        request.session[SESSION_KEY] = project_id
    else:
        request.session.pop(SESSION_KEY, None)
