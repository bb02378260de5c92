"""The schedules page: the user's scheduled actions — target (an instance, or a filter of the
instances list), when (once, or a cron expression), the next run on the owner's wall clock, the
last result, the last runs with each instance's outcome — with pause, resume and delete, and the
form that makes one: for an instance (linked from its page), the list's current filter or one of
the user's saved views (linked from the instances list). Thin: parse, call the service, render.
The table is a fragment the live script re-renders when any instance changes (an accepted run
changes one), ``data-watch="any"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from compute.exceptions import ComputeError, Invalid
from compute.models import Instance, ScheduledAction, ScheduleRun
from compute.selectors import instance_get
from compute.selectors.schedules import FILTER_KEYS, schedules_of
from compute.services.schedules import (
    SCHEDULABLE,
    schedule_cancel,
    schedule_create,
    schedule_pause,
    schedule_resume,
)
from dashboard.models import SavedView
from dashboard.web.pages import Page, begin

RUNS_SHOWN = 5
SHOWN = 200


#: The words for a schedule's state and a run's outcome (their identifiers stay in the markup,
#: as ``data-state``).
STATES = {
    "pending": pgettext_lazy("schedule", "Pending"),
    "paused": pgettext_lazy("schedule", "Paused"),
    "done": pgettext_lazy("schedule", "Done"),
    "refused": pgettext_lazy("schedule", "Refused"),
    "skipped": pgettext_lazy("schedule", "Skipped"),
    "cancelled": pgettext_lazy("schedule", "Deleted"),
}
OUTCOMES = {
    "accepted": pgettext_lazy("schedule run", "Accepted"),
    "refused": pgettext_lazy("schedule run", "Refused"),
    "skipped": pgettext_lazy("schedule run", "Skipped"),
    "partial": pgettext_lazy("schedule run", "Partly accepted"),
    "empty": pgettext_lazy("schedule run", "No instance"),
}


def outcome_text(outcome: str) -> str:
    return str(OUTCOMES.get(outcome, outcome))


@dataclass(frozen=True)
class ScheduleRow:
    schedule: ScheduledAction
    #: The next run on the owner's wall clock (the zone it was made in).
    next_local: datetime
    runs: list[ScheduleRun]

    @property
    def state_text(self) -> str:
        return str(STATES.get(self.schedule.state, self.schedule.state))

    @property
    def outcome_text(self) -> str:
        return outcome_text(self.schedule.last_outcome)

    @property
    def history(self) -> list[tuple[ScheduleRun, str, list[dict[str, str]]]]:
        """Each run with its outcome's words, and on a filter each instance's."""
        return [
            (
                run,
                outcome_text(run.outcome),
                [{**o, "outcome_text": outcome_text(o.get("outcome", ""))} for o in run.outcomes],
            )
            for run in self.runs
        ]

    @property
    def next_text(self) -> str:
        """Formatted here: the template's ``date`` would convert it to the site's zone."""
        return self.next_local.strftime("%Y-%m-%d %H:%M")

    @property
    def filter_text(self) -> str:
        f = self.schedule.target_filter or {}
        return ", ".join(f"{k}={f[k]}" for k in FILTER_KEYS if f.get(k)) or "*"


def _rows(page: Page) -> list[ScheduleRow]:
    recent = ScheduleRun.objects.order_by("-ran_at", "-id")
    found = schedules_of(context=page.scope.full).prefetch_related(
        Prefetch("runs", queryset=recent, to_attr="recent_runs")
    )[:SHOWN]
    return [
        ScheduleRow(
            schedule=s,
            next_local=s.run_at.astimezone(ZoneInfo(s.time_zone)),
            runs=s.recent_runs[:RUNS_SHOWN],
        )
        for s in found
    ]


def _target(page: Page, given: QueryDict) -> tuple[Instance | None, dict[str, str] | None, str]:
    """What the form schedules for: an instance, a saved view's filter, or the list's current
    filter (the page's selected project with it); and the view's name, if any."""
    if given.get("instance"):
        # Found, or ComputeError: never a silent fall-back to a filter of every instance.
        return instance_get(context=page.scope.full, instance_uuid=given["instance"]), None, ""
    if given.get("saved_view", "").isdigit():
        view = SavedView.objects.filter(pk=int(given["saved_view"]), user_id=page.request.user.pk)
        found = view.first()
        if found is not None:
            query = QueryDict(found.query)
            kept = {k: query[k] for k in FILTER_KEYS if query.get(k)}
            if found.project_id:
                kept["project_id"] = found.project_id
            return None, kept, found.name
    kept = {k: given[k] for k in FILTER_KEYS if given.get(k)}
    if "project_id" not in kept and page.scope.selected:
        kept["project_id"] = page.scope.selected
    return None, kept, ""


@login_required
@require_GET
def schedules_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    values = {"rows": _rows(page), "actions": SCHEDULABLE}
    if request.GET.get("fragment") == "table":
        return page.render("web/schedules/_table.html", values)
    try:
        instance, target_filter, view_name = _target(page, request.GET)
    except ComputeError as error:
        page.refused(error)
        return redirect("schedules")
    values.update(
        {
            "target_instance": instance,
            "target_filter": target_filter,
            "target_filter_text": ", ".join(f"{k}={v}" for k, v in (target_filter or {}).items()),
            "view_name": view_name,
        }
    )
    return page.render("web/schedules/list.html", values, nav="schedules")


@login_required
@require_POST
def schedule_create_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    form = request.POST
    target_filter = None
    if not form.get("instance"):
        target_filter = {k: form[k] for k in FILTER_KEYS if form.get(k)}
    when = form.get("when", "once")
    try:
        if when not in ("once", "cron"):
            raise Invalid(gettext("Choose once or recurring."))
        created = schedule_create(
            context=page.scope.full,
            action=form.get("action", ""),
            instance_uuid=form.get("instance", ""),
            target_filter=target_filter,
            run_at=form.get("run_at", "") if when == "once" else "",
            cron=form.get("cron", "") if when == "cron" else "",
            time_zone=form.get("time_zone") or "UTC",
            params={"name": form["image_name"]} if form.get("image_name") else None,
        )
    except ComputeError as error:
        page.refused(error)
        back = QueryDict(mutable=True)
        for key in ("instance", *FILTER_KEYS):
            if form.get(key):
                back[key] = form[key]
        return redirect(f"{reverse('schedules')}?{back.urlencode()}#new")
    messages.success(
        request,
        gettext("Scheduled %(action)s; next run %(when)s (%(zone)s).")
        % {
            "action": created.action,
            "when": created.run_at.astimezone(ZoneInfo(created.time_zone)).strftime(
                "%Y-%m-%d %H:%M"
            ),
            "zone": created.time_zone,
        },
    )
    return redirect("schedules")


VERBS = {"pause": schedule_pause, "resume": schedule_resume, "delete": schedule_cancel}
#: What the banner says once a verb is done.
DONE = {
    "pause": gettext_lazy("Schedule %(id)s paused: it will not run until resumed."),
    "resume": gettext_lazy("Schedule %(id)s resumed."),
    "delete": gettext_lazy("Schedule %(id)s deleted: it will not run again; its history stays."),
}


@login_required
@require_POST
def schedule_change_view(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    page = begin(request)
    change = VERBS.get(verb)
    if change is None:
        return redirect("schedules")
    try:
        change(context=page.scope.full, schedule_id=pk)
    except ComputeError as error:
        page.refused(error)
    else:
        messages.success(request, DONE[verb] % {"id": pk})
    return redirect("schedules")
