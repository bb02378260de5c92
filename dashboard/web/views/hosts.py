"""Hosts, for admins: status and heartbeat, the last power sync, instances per vm_state, and the
maintenance switches — disable with a reason, enable, force down and back — plus moving the
instances off a disabled host by live migration, each with its own verdict and live progress.
The host page ends with the host's maintenance log: the latest audit rows, read only (the
domain writes them with each change; nothing here can).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, gettext_lazy, pgettext
from django.views.decorators.http import require_GET, require_POST

from compute import policy
from compute.exceptions import ComputeError, NotFound
from compute.models import DrainJob, DrainStep, Host, HostAuditEntry, Migration
from compute.selectors import host_get, host_list
from compute.selectors.drain import (
    LABELS,
    PlanRow,
    drain_get,
    drain_latest,
    drain_steps,
    host_residents,
    plan_for,
)
from compute.services import host_update
from compute.services.drains import drain_cancel, drain_start
from compute.services.hosts import host_migrate_away
from dashboard.web.forms import HostDisableForm
from dashboard.web.hostinfo import host_cards, recent_syncs
from dashboard.web.pages import Page, begin, error_page
from dashboard.web.plan_rows import resident_rows_html
from dashboard.web.refusals import in_language

MIGRATION_RESULTS = "web.migration_results"
#: The hosts pages are Nova's os-services for admins: the same rule, the same refusal.
SERVICES_LIST = "os_compute_api:os-services:list"
#: Audit rows shown on the host page.
AUDIT_ROWS = 20


def _admin_only(page: Page) -> HttpResponse | None:
    if policy.allowed(page.scope.full, SERVICES_LIST):
        return None
    message = policy.refused(SERVICES_LIST).message
    return error_page(page, status=403, title=gettext("Admins only"), message=message)


@login_required
@require_GET
def host_list_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    if denied := _admin_only(page):
        return denied
    fragment = request.GET.get("fragment") == "table"
    template = "web/hosts/_table.html" if fragment else "web/hosts/list.html"
    return page.render(template, {"cards": host_cards()}, nav="hosts")


def _residents(page: Page, host: Host) -> list[PlanRow]:
    """The host's instances, each with its drain plan: every choice's verdict (Nova's refusal
    texts, from the action table's guard) and its default. Rows as tuples, not models: a
    thousand of them are the page's main cost."""
    context = page.scope.context
    residents = host_residents(context=context, host=host)
    if not residents:
        return []  # nothing to plan: no need to read the other hosts
    return plan_for(context=context, host=host, instances=residents).rows


def _admin_host(request: HttpRequest, name: str) -> tuple[Page, Host] | HttpResponse:
    """The page and the named host for an admin; otherwise the refusal or 404 page to return."""
    page = begin(request)
    if denied := _admin_only(page):
        return denied
    try:
        return page, host_get(host=name)
    except NotFound as error:
        return error_page(page, status=404, title=gettext("Host not found"), message=error.message)


@login_required
@require_GET
def host_detail_view(request: HttpRequest, name: str) -> HttpResponse:
    found = _admin_host(request, name)
    if isinstance(found, HttpResponse):
        return found
    page, host = found
    if request.GET.get("fragment") == "summary":
        return page.render("web/hosts/_summary.html", {"card": host_cards([host])[0]})
    if request.GET.get("fragment") == "drain":
        return page.render("web/hosts/_drain.html", {"drain": drain_panel(host)})
    residents = _residents(page, host)
    # The rows (≈ 2 kB each) are put into the rendered page once, at a marker: passed through
    # the template, a thousand of them are copied again at every level of its blocks.
    marker = f"<!--resident-rows-{secrets.token_hex(8)}-->"
    response = page.render(
        "web/hosts/detail.html",
        {
            "card": host_cards([host])[0],
            "residents": residents,
            "resident_rows": mark_safe(marker),  # a constant of ours
            "movable": [row.uuid for row in residents if row.live_refusal is None],
            "syncs": recent_syncs(host),
            "disable_form": HostDisableForm(),
            "results": [
                {**r, "message": in_language(r.get("message"))}
                for r in request.session.pop(MIGRATION_RESULTS, [])
            ],
            "other_hosts": host_list().exclude(pk=host.pk).exists(),
            "audit": audit_lines(host),
            "drain": drain_panel(host),
        },
        nav="hosts",
    )
    response.content = response.content.replace(
        marker.encode(), resident_rows_html(residents, host).encode(), 1
    )
    return response


@login_required
@require_POST
def host_update_view(request: HttpRequest, name: str) -> HttpResponse:
    """One switch: ``op`` is disable (with a reason), enable, force_down or force_up."""
    page = begin(request)
    if denied := _admin_only(page):
        return denied
    op = request.POST.get("op", "")
    changes: dict[str, object]
    if op == "disable":
        form = HostDisableForm(request.POST)
        if not form.is_valid():
            messages.error(
                request, gettext("A reason is required to disable a host (1–255 characters).")
            )
            return redirect("host", name=name)
        changes = {"status": "disabled", "disabled_reason": form.cleaned_data["reason"]}
    elif op in ("enable", "force_down", "force_up"):
        changes = {
            "enable": {"status": "enabled"},
            "force_down": {"forced_down": True},
            "force_up": {"forced_down": False},
        }[op]
    else:
        messages.error(request, gettext("Unknown host operation."))
        return redirect("host", name=name)
    try:
        host = host_update(context=page.scope.context, host=host_get(host=name), **changes)
    except ComputeError as error:
        page.refused(error)
    else:
        messages.success(
            request,
            gettext("%(host)s is now %(host_status)s.")
            % {"host": host.host, "host_status": host.host_status},
        )
    return redirect("host", name=name)


@login_required
@require_POST
def host_migrate_away_view(request: HttpRequest, name: str) -> HttpResponse:
    """Live-migrate the selected instances off the host; the scheduler picks destinations."""
    found = _admin_host(request, name)
    if isinstance(found, HttpResponse):
        return found
    page, host = found
    try:
        results = host_migrate_away(
            context=page.scope.context, host=host, instance_uuids=request.POST.getlist("instance")
        )
    except ComputeError as error:
        page.refused(error)
        return redirect("host", name=name)
    if not results:
        messages.warning(request, gettext("No instance was selected."))
    request.session[MIGRATION_RESULTS] = [dict(r) for r in results]
    return redirect("host", name=name)


@login_required
@require_POST
def host_drain_view(request: HttpRequest, name: str) -> HttpResponse:
    """Start draining the host with each instance's chosen step (``choice-<uuid>`` fields; an
    instance not named gets the plan's default)."""
    found = _admin_host(request, name)
    if isinstance(found, HttpResponse):
        return found
    page, host = found
    prefix = "choice-"
    choices = {k[len(prefix) :]: v for k, v in request.POST.items() if k.startswith(prefix)}
    try:
        job = drain_start(context=page.scope.context, host=host, choices=choices)
    except ComputeError as error:
        page.refused(error)
    else:
        messages.success(
            request,
            gettext("Drain #%(id)s of %(host)s started.") % {"id": job.pk, "host": host.host},
        )
    return redirect("host", name=name)


@login_required
@require_POST
def host_drain_cancel_view(request: HttpRequest, name: str, job_id: int) -> HttpResponse:
    found = _admin_host(request, name)
    if isinstance(found, HttpResponse):
        return found
    page, host = found
    try:
        job = drain_get(job_id)
        if job.host_id != host.pk:
            raise NotFound(f"Drain {job_id} could not be found.")
        job = drain_cancel(context=page.scope.context, job=job)
    except ComputeError as error:
        page.refused(error)
    else:
        state = pgettext("drain job", str(job.get_state_display())).lower()
        messages.success(
            request, gettext("Drain #%(id)s is %(state)s.") % {"id": job.pk, "state": state}
        )
    return redirect("host", name=name)


@dataclass(frozen=True)
class StepLine:
    step: DrainStep
    label: str
    tone: str
    migration: Migration | None
    percent: int | None


@dataclass(frozen=True)
class DrainPanel:
    job: DrainJob
    tone: str
    counts: list[tuple[str, int]]
    steps: list[StepLine]


_STEP_TONES = {"queued": "muted", "running": "busy", "done": "ok", "failed": "danger",
               "skipped": "muted", "cancelled": "warn"}  # fmt: skip
_JOB_TONES = {"running": "busy", "cancelling": "warn", "done": "ok", "failed": "danger",
              "cancelled": "warn"}  # fmt: skip


def drain_panel(host: Host) -> DrainPanel | None:
    """The host's latest drain with its steps and their migrations' progress (two queries)."""
    job = drain_latest(host)
    if job is None:
        return None
    job.host = host
    lines = []
    counts: dict[str, int] = {}
    for step in drain_steps(job):
        # The label as the model has it (the template translates it, context "drain step").
        label = str(step.get_state_display())
        counts[label] = counts.get(label, 0) + 1
        migration = step.migration
        percent = None
        if migration is not None and migration.memory_total:
            total = (migration.memory_total or 0) + (migration.disk_total or 0)
            done = (migration.memory_processed or 0) + (migration.disk_processed or 0)
            percent = min(100, done * 100 // total) if total else None
        lines.append(
            StepLine(
                step,
                LABELS.get(step.choice, step.choice),
                _STEP_TONES.get(step.state, "muted"),
                migration,
                percent,
            )
        )
    return DrainPanel(job, _JOB_TONES.get(job.state, "muted"), sorted(counts.items()), lines)


@login_required
@require_GET
def host_heartbeats_view(request: HttpRequest) -> JsonResponse:
    """Heartbeat stamps, which are not published as events (they change nothing but an age)."""
    page = begin(request)
    if not policy.allowed(page.scope.full, SERVICES_LIST):
        return JsonResponse({"error": policy.refused(SERVICES_LIST).message}, status=403)
    return JsonResponse(
        {
            "now": timezone.now().isoformat(),
            "hosts": {
                str(h.uuid): h.last_seen_up.isoformat() if h.last_seen_up else None
                for h in host_list()
            },
        }
    )


# --- the maintenance log ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    who: str
    client: str
    what: str
    #: "host_status up → maintenance; reason: kernel upgrade", or each instance's verdict.
    change: tuple[str, ...]
    outcome: str
    tone: str
    request_id: str


_SWITCHES = (("host_status", "host_status"), ("disabled", gettext_lazy("disabled")),
             ("forced_down", gettext_lazy("forced down")),
             ("disabled_reason", gettext_lazy("reason")))  # fmt: skip
_TONES = {"changed": "ok", "accepted": "ok", "unchanged": "muted", "partly_accepted": "warn",
          "refused": "danger"}  # fmt: skip


def audit_lines(host: Host, limit: int = AUDIT_ROWS) -> list[AuditLine]:
    """The host's latest audit rows, newest first, as readable lines."""
    return [_line(entry) for entry in host.audit_entries.all()[:limit]]


def _line(entry: HostAuditEntry) -> AuditLine:
    moved = [key for key, _ in _SWITCHES if entry.before.get(key) != entry.after.get(key)]
    change = [
        f"{label} {_shown(entry.before.get(key))} → {_shown(entry.after.get(key))}"
        for key, label in _SWITCHES
        if key in moved
    ]
    if entry.reason and "disabled_reason" not in moved:
        change.append(gettext("reason: %(reason)s") % {"reason": entry.reason})
    for verdict in entry.details or []:
        verb = (
            pgettext("verdict", "accepted")
            if verdict.get("accepted")
            else gettext("refused: %(message)s")
            % {"message": in_language(verdict.get("message", "")) or ""}
        )
        change.append(f"{verdict.get('name') or verdict.get('instance')}: {verb}")
    return AuditLine(
        at=entry.at,
        who=entry.user_name or "?",
        client=entry.client or "?",
        what=entry.get_operation_display(),
        change=tuple(change),
        outcome=entry.get_outcome_display(),
        tone=_TONES.get(entry.outcome, "muted"),
        request_id=entry.request_id,
    )


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    return str(value)
