"""The task centre: every action in progress or recently finished that the user may see, with
who asked, the request id, progress, elapsed time against its limit, outcome and fault; cancel
for a queued action no agent has taken, abort for a live migration in progress, reset-state (the
``os-resetState`` row) for admins on a task the watchdog reaped. The table is a fragment the live script re-renders when a change of
any instance arrives (``data-watch="any"``); the compact dock in the top bar of every page is
another fragment of the same view.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from compute.exceptions import ComputeError
from compute.selectors.tasks import OUTCOMES, open_task_count, task_rows, visible_actions
from compute.services import instance_action
from compute.services.tasks import action_abort, action_cancel
from dashboard.web.pages import begin

PAGE_SIZE = 25
DOCK_SIZE = 5


@login_required
@require_GET
def tasks_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    context = page.scope.full
    if request.GET.get("fragment") == "dock":
        rows = list(visible_actions(context=context)[:DOCK_SIZE])
        return page.render(
            "web/tasks/_dock.html",
            {
                "rows": task_rows(context=context, actions_page=rows),
                "open": open_task_count(context=context),
            },
        )
    outcome = request.GET.get("outcome", "")
    if outcome not in OUTCOMES:
        outcome = ""
    action = request.GET.get("action", "").strip()[:64]
    instance = request.GET.get("instance", "").strip()[:255]
    listed = Paginator(
        visible_actions(context=context, outcome=outcome, action=action, instance=instance),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("fragment", None)
    values = {
        "listed": listed,
        "rows": task_rows(context=context, actions_page=list(listed.object_list)),
        "outcomes": OUTCOMES,
        "outcome": outcome,
        "action": action,
        "instance": instance,
        "query": query.urlencode(),
        # Where a button's form returns: the page, never the fragment the live script fetched.
        "back": f"{reverse('tasks')}?{query.urlencode()}",
    }
    template = (
        "web/tasks/_table.html" if request.GET.get("fragment") == "table" else "web/tasks/list.html"
    )
    return page.render(template, values, nav="tasks")


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("tasks")


def _stop(request: HttpRequest, service: Callable[..., object], pk: int) -> HttpResponse:
    page = begin(request)
    try:
        service(context=page.scope.full, action_id=pk)
    except ComputeError as error:
        page.refused(error)
    return _back(request)


@login_required
@require_POST
def task_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a queued action no agent has claimed yet."""
    return _stop(request, action_cancel, pk)


@login_required
@require_POST
def task_abort_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Abort a live migration in progress (Nova's abort: the guest stays on its source)."""
    return _stop(request, action_abort, pk)


@login_required
@require_POST
def task_reset_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Reset-state of a reaped task's instance: Nova's os-resetState, to active."""
    page = begin(request)
    context = page.scope.full
    rows = visible_actions(context=context).filter(pk=pk)
    found = task_rows(context=context, actions_page=list(rows))
    if not found or not found[0].can_reset:
        page.refused(
            ComputeError(
                gettext("Reset-state is offered to admins for a task the watchdog reaped.")
            )
        )
        return _back(request)
    try:
        instance_action(
            context=context,
            instance_uuid=str(found[0].action.instance.uuid),
            action="os-resetState",
            params={"state": "active"},
        )
    except ComputeError as error:
        page.refused(error)
    return _back(request)
