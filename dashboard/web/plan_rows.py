"""The host page's resident rows with their drain plan, rendered in Python.

A host may hold a thousand instances, each with six choices; the template language costs tens
of milliseconds per hundred such rows, so this one table is built here by string building with
the standard library's ``html.escape`` (what Django's ``escape`` calls; the same markup as
``web/_badge.html`` and the rest of ``web/hosts/detail.html``).

What is the same for many rows is drawn once per render, not once per row: each badge per
(column, value) in the page's language, each plan shape's verdict and choices (the rows of one
situation differ only by their uuid, which is put into the drawn text), the words of the page
(``gettext`` once). Per row only its own values are escaped and joined.
``tests/web/test_host_pages.py`` and ``tests/web/test_plan_rows.py`` read the page it makes.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from compute.models import Host
from compute.selectors.drain import LABELS, PlanRow, Shape
from compute.status import status_from_state
from dashboard.web.presentation import LONG_TASKS, Badge, badge

#: Stands for the instance's uuid in a shape's drawn markup; escaping leaves it as it is.
_UUID = "\x00uuid\x00"


def _badge_html(b: Badge, bind: str = "") -> str:
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


class _Badges:
    """Each (column, value)'s badge markup, drawn on first use in this render's language."""

    def __init__(self) -> None:
        self._drawn: dict[tuple[str, object], str] = {}

    def __call__(self, kind: str, value: object) -> str:
        key = (kind, value)
        html = self._drawn.get(key)
        if html is None:
            html = self._drawn[key] = _badge_html(badge(kind, value))
        return html


class _Words:
    """The page's words, translated once per render."""

    def __init__(self) -> None:
        live = escape(gettext("Can live-migrate"))
        cold = escape(gettext("Can cold-migrate"))
        evacuate = escape(gettext("Host down: can evacuate"))
        self.verdicts = {
            "live-migrate": f'<span class="ok-text">{live}</span>',
            "cold-migrate": f'<span class="ok-text">{cold}</span>',
            "evacuate": f'<span class="warn-text">{evacuate}</span>',
        }
        self.cannot_move = escape(gettext("Cannot move"))
        self.room_on = escape(gettext("(room on %(host)s)"))
        self.refused = escape(gettext("— refused"))
        self.labels = {key: escape(gettext(label)) for key, label in LABELS.items()}
        self.choice_for = escape(gettext("Drain choice for %(name)s"))
        self.select = escape(gettext("Select %(name)s"))
        self.task_progress = escape(gettext("Task progress"))


def _shape_html(shape: Shape, words: _Words, unchecked: str) -> tuple[str, str, str]:
    """A shape's verdict cell (without the room), its options and its checkbox's attributes,
    with ``_UUID`` for the uuid."""
    if shape.verdict == "cannot-move":
        reason = _UUID.join(shape.reason) if shape.reason is not None else ""
        verdict = (
            f'<span class="badge tone-danger">{words.cannot_move}</span>'
            f'<div class="muted reason">{escape(reason)}</div>'
        )
    else:
        verdict = words.verdicts[shape.verdict]
    options = []
    for key, parts in shape.choices:
        attrs = f' disabled title="{escape(_UUID.join(parts))}"' if parts is not None else ""
        if key == shape.default:
            attrs += " selected"
        suffix = f" {words.refused}" if parts is not None else ""
        options.append(f'<option value="{key}"{attrs}>{words.labels[key]}{suffix}</option>')
    live = shape.live
    check = f'disabled title="{escape(_UUID.join(live))}"' if live is not None else unchecked
    return verdict, "".join(options), check


class _Shapes:
    """Each plan shape's markup, drawn on first use; a row takes it with its own uuid."""

    def __init__(self, words: _Words, unchecked: str) -> None:
        self.words = words
        self.unchecked = unchecked
        self._drawn: dict[int, tuple[Shape, list[str], list[str], list[str]]] = {}

    def __call__(self, shape: Shape, uuid: str) -> tuple[str, str, str]:
        drawn = self._drawn.get(id(shape))
        if drawn is None:
            parts = _shape_html(shape, self.words, self.unchecked)
            # The shape is kept with its markup, so its id cannot be reused while drawn.
            drawn = self._drawn[id(shape)] = (shape, *(part.split(_UUID) for part in parts))
        return uuid.join(drawn[1]), uuid.join(drawn[2]), uuid.join(drawn[3])


def _memo(function: Callable[[str], str]) -> Callable[[str], str]:
    seen: dict[str, str] = {}

    def lookup(value: str) -> str:
        out = seen.get(value)
        if out is None:
            out = seen[value] = function(value)
        return out

    return lookup


def resident_rows(plan: list[PlanRow], host: Host) -> SafeString:
    if not plan:
        empty = escape(gettext("No instances on this host."))
        return mark_safe(f'<tr><td colspan="8"><div class="empty">{empty}</div></td></tr>')
    words = _Words()
    badges = _Badges()
    shapes = _Shapes(words, "checked" if host.disabled else "")
    statuses: dict[tuple[str, str | None], str] = {}
    rooms = _memo(
        lambda name: (
            f' <span class="muted">{words.room_on.replace("%(host)s", escape(name))}</span>'
        )
    )
    link = reverse("instance", args=["00000000-0000-0000-0000-000000000000"]).split(
        "00000000-0000-0000-0000-000000000000"
    )
    on_host = escape(host.host)
    out = []
    for row in plan:
        instance = row.instance
        uuid = instance.uuid
        vm_state, task_state = instance.vm_state, instance.task_state
        name = escape(instance.name)
        states = (vm_state, task_state)
        status = statuses.get(states)
        if status is None:
            status = statuses[states] = badges("status", status_from_state(*states))
        verdict, options, check = shapes(row.shape, uuid)
        if row.destination:
            verdict += rooms(row.destination)
        started = instance.task_started_at
        elapsed = f'data-since="{started.isoformat()}"' if started else "hidden"
        progress = instance.progress
        out.append(
            f'<tr data-instance="{uuid}" data-version="{instance.version}" '
            f'data-on-host="{on_host}" class="{"is-busy" if task_state is not None else ""}">'
            f'<td class="col-check"><input type="checkbox" name="instance" value="{uuid}" '
            f'{check} aria-label="{words.select.replace("%(name)s", name)}"></td>'
            f'<td><a href="{uuid.join(link)}" '
            f'data-bind="name">{name}</a><div class="small moved" data-bind="moved" hidden></div>'
            f"</td><td>{status}</td><td>{badges('vm_state', vm_state)}</td>"
            f'<td class="col-task">{badges("task_state", task_state)} <span class="elapsed" '
            f'data-bind="elapsed" {elapsed}></span><div class="progress" data-bind="progress" '
            f'{"" if task_state in LONG_TASKS else "hidden"} role="progressbar" '
            f'aria-label="{words.task_progress}" '
            f'aria-valuemin="0" aria-valuemax="100" aria-valuenow="{progress}">'
            f'<span style="width: {progress}%"></span></div></td>'
            f"<td>{badges('power_state', instance.power_state)}</td>"
            f'<td class="small verdict" data-bind="stale-on-change" '
            f'data-verdict="{row.verdict}">{verdict}</td>'
            f'<td><select name="choice-{uuid}" form="drain-form" '
            f'aria-label="{words.choice_for.replace("%(name)s", name)}" class="drain-choice">'
            f"{options}</select></td></tr>"
        )
    return mark_safe("".join(out))  # every value above is escaped
