"""The host page's resident rows with their drain plan, rendered in Python.

A host may hold a thousand instances, each with six choices; the template language costs tens
of milliseconds per hundred such rows, so this one table is built here with the standard
library's ``html.escape`` (what Django's ``escape`` calls; the same markup as
``web/_badge.html`` and the rest of ``web/hosts/detail.html``), once per row.
``tests/web/test_host_pages.py`` reads the page it makes.
"""

from __future__ import annotations

from html import escape

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from compute.models import Host
from compute.selectors.drain import PlanRow
from dashboard.web.presentation import Badge
from dashboard.web.rows import InstanceRow

_VERDICTS = {
    "live-migrate": '<span class="ok-text">Can live-migrate</span>',
    "cold-migrate": '<span class="ok-text">Can cold-migrate</span>',
    "evacuate": '<span class="warn-text">Host down: can evacuate</span>',
}


def _badge(b: Badge, bind: str = "") -> str:
    title = escape(b.title)
    spinner = (
        '<span class="spinner" aria-hidden="true"></span>'
        if b.kind == "task_state" and b.value
        else ""
    )
    return (
        f'<span class="badge tone-{escape(b.tone)}" data-bind="{escape(bind or b.kind)}" '
        f'title="{title}" aria-label="{title}">{spinner}{escape(b.label)}</span>'
    )


def _verdict(plan: PlanRow) -> str:
    if plan.verdict == "cannot-move":
        text = (
            '<span class="badge tone-danger">Cannot move</span>'
            f'<div class="muted reason">{escape(plan.reason or "")}</div>'
        )
    else:
        text = _VERDICTS[plan.verdict]
    if plan.destination:
        text += f' <span class="muted">(room on {escape(plan.destination)})</span>'
    return text


def _choices(row: InstanceRow, plan: PlanRow) -> str:
    options = []
    for key, label, refusal in plan.options:
        attrs = f' disabled title="{escape(refusal)}"' if refusal else ""
        if key == plan.default:
            attrs += " selected"
        suffix = " — refused" if refusal else ""
        options.append(f'<option value="{key}"{attrs}>{escape(label)}{suffix}</option>')
    name = escape(row.instance.name)
    return (
        f'<select name="choice-{row.uuid}" form="drain-form" '
        f'aria-label="Drain choice for {name}" class="drain-choice">{"".join(options)}</select>'
    )


def resident_rows(residents: list[tuple[InstanceRow, PlanRow]], host: Host) -> SafeString:
    if not residents:
        return mark_safe(
            '<tr><td colspan="8"><div class="empty">No instances on this host.</div></td></tr>'
        )
    link = reverse("instance", args=["00000000-0000-0000-0000-000000000000"])
    on_host = escape(host.host)
    out = []
    for row, plan in residents:
        instance = row.instance
        name = escape(instance.name)
        if plan.live_refusal:
            check = f'disabled title="{escape(plan.live_refusal)}"'
        else:
            check = "checked" if host.disabled else ""
        started = row.task_started_at
        elapsed = f'data-since="{started.isoformat()}"' if started else "hidden"
        progress = instance.progress
        out.append(
            f'<tr data-instance="{row.uuid}" data-version="{instance.version}" '
            f'data-on-host="{on_host}" class="{"is-busy" if row.busy else ""}">'
            f'<td class="col-check"><input type="checkbox" name="instance" value="{row.uuid}" '
            f'{check} aria-label="Select {name}"></td>'
            f'<td><a href="{link.replace("00000000-0000-0000-0000-000000000000", row.uuid)}" '
            f'data-bind="name">{name}</a><div class="small moved" data-bind="moved" hidden></div>'
            f"</td><td>{_badge(row.status)}</td><td>{_badge(row.vm_state)}</td>"
            f'<td class="col-task">{_badge(row.task_state)} <span class="elapsed" '
            f'data-bind="elapsed" {elapsed}></span><div class="progress" data-bind="progress" '
            f'{"" if row.long_task else "hidden"} role="progressbar" aria-label="Task progress" '
            f'aria-valuemin="0" aria-valuemax="100" aria-valuenow="{progress}">'
            f'<span style="width: {progress}%"></span></div></td>'
            f"<td>{_badge(row.power_state)}</td>"
            f'<td class="small verdict" data-bind="stale-on-change" '
            f'data-verdict="{plan.verdict}">{_verdict(plan)}</td>'
            f"<td>{_choices(row, plan)}</td></tr>"
        )
    return mark_safe("".join(out))  # every value above is escaped
