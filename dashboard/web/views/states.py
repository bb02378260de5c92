"""The state machine page: the diagram drawn from the action table, and each action's
preconditions beside it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from compute import policy
from compute.context import RequestContext
from dashboard.web.diagram import state_machine_svg
from dashboard.web.pages import begin
from dashboard.web.presentation import badge
from dashboard.web.transitions import preconditions


@login_required
@require_GET
def states_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    # The rows the caller's roles pass somewhere: a project manager also sees the migrations.
    rows = [p for p in preconditions() if _passes_somewhere(page.scope.full, p.spec.policy)]
    return page.render(
        "web/states.html",
        {
            # Generated from our own table and escaped piecewise in diagram.py.
            "svg": mark_safe(state_machine_svg()),
            "preconditions": rows,
            "create_badge": badge("vm_state", "building"),
        },
        nav="states",
    )


@require_GET
def diagram_svg_view(request: HttpRequest) -> HttpResponse:
    """The bare picture (the README's), public like the docs it mirrors."""
    return HttpResponse(state_machine_svg(), content_type="image/svg+xml; charset=utf-8")


def _passes_somewhere(context: RequestContext, rule: str) -> bool:
    return any(policy.allowed(context, rule, p) for p in context.project_ids or {None})
