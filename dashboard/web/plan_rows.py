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
    """Each plan shape's markup, drawn on first use, with ``_UUID`` for the uuid."""

    def __init__(self, words: _Words, unchecked: str) -> None:
        self.words = words
        self.unchecked = unchecked
        self._drawn: dict[int, tuple[str, str, str]] = {}

    def __call__(self, shape: Shape) -> tuple[str, str, str]:
        drawn = self._drawn.get(id(shape))
        if drawn is None:
            drawn = self._drawn[id(shape)] = _shape_html(shape, self.words, self.unchecked)
        return drawn


#: Where a row's own values go in its drawn markup (with ``_UUID``), until it becomes a pattern.
_SLOTS = {"v": "\x00version\x00", "n": "\x00name\x00", "e": "\x00since\x00"}
_SLOTS |= {"p": "\x00progress\x00", "d": "\x00room\x00"}


def _pattern(markup: str) -> str:
    """Drawn markup with slots as a ``%``-pattern for the row's own values."""
    text = markup.replace("%", "%%").replace(_UUID, "%(u)s")
    for key, marker in _SLOTS.items():
        text = text.replace(marker, f"%({key})s")
    return text


class _Rows:
    """Each kind of row drawn once, as a pattern: rows of one plan shape and one
    (vm_state, task_state, power_state) differ only by uuid, version, name, task start,
    progress and room, which are put in per row (``%`` formatting, in C)."""

    def __init__(self, host: Host) -> None:
        self.words = _Words()
        self.badges = _Badges()
        self.shapes = _Shapes(self.words, "checked" if host.disabled else "")
        self.on_host = escape(host.host)
        zero = "00000000-0000-0000-0000-000000000000"
        self.link = reverse("instance", args=[zero]).replace(zero, _UUID)
        self._patterns: dict[tuple[int, str, str | None, int], str] = {}

    def pattern(self, row: PlanRow) -> str:
        instance = row.instance
        key = (id(row.shape), instance.vm_state, instance.task_state, instance.power_state)
        found = self._patterns.get(key)
        if found is None:
            found = self._patterns[key] = _pattern(self._draw(row))
        return found

    def _draw(self, row: PlanRow) -> str:
        instance, words, badges = row.instance, self.words, self.badges
        vm_state, task_state = instance.vm_state, instance.task_state
        verdict, options, check = self.shapes(row.shape)
        u, name, progress = _UUID, _SLOTS["n"], _SLOTS["p"]
        status = badges("status", status_from_state(vm_state, task_state))
        return (
            f'<tr data-instance="{u}" data-version="{_SLOTS["v"]}" '
            f'data-on-host="{self.on_host}" class="{"is-busy" if task_state is not None else ""}">'
            f'<td class="col-check"><input type="checkbox" name="instance" value="{u}" '
            f'{check} aria-label="{words.select.replace("%(name)s", name)}"></td>'
            f'<td><a href="{self.link}" '
            f'data-bind="name">{name}</a><div class="small moved" data-bind="moved" hidden></div>'
            f"</td><td>{status}</td><td>{badges('vm_state', vm_state)}</td>"
            f'<td class="col-task">{badges("task_state", task_state)} <span class="elapsed" '
            f'data-bind="elapsed" {_SLOTS["e"]}></span><div class="progress" '
            f'data-bind="progress" {"" if task_state in LONG_TASKS else "hidden"} '
            f'role="progressbar" aria-label="{words.task_progress}" '
            f'aria-valuemin="0" aria-valuemax="100" aria-valuenow="{progress}">'
            f'<span style="width: {progress}%"></span></div></td>'
            f"<td>{badges('power_state', instance.power_state)}</td>"
            f'<td class="small verdict" data-bind="stale-on-change" '
            f'data-verdict="{row.verdict}">{verdict}{_SLOTS["d"]}</td>'
            f'<td><select name="choice-{u}" form="drain-form" '
            f'aria-label="{words.choice_for.replace("%(name)s", name)}" class="drain-choice">'
            f"{options}</select></td></tr>"
        )


def resident_rows(plan: list[PlanRow], host: Host) -> SafeString:
    """The rows, safe for a template."""
    return mark_safe(resident_rows_html(plan, host))  # every value in it is escaped


def resident_rows_html(plan: list[PlanRow], host: Host) -> str:
    """The rows as HTML, every value escaped: for a caller that puts them into a rendered page
    itself (a thousand rows are 2 MB; marking them safe would copy them once more)."""
    if not plan:
        empty = escape(gettext("No instances on this host."))
        return f'<tr><td colspan="8"><div class="empty">{empty}</div></td></tr>'
    rows = _Rows(host)
    room_on = rows.words.room_on
    rooms: dict[str | None, str] = {None: ""}
    out = []
    for row in plan:
        instance = row.instance
        destination = row.destination
        room = rooms.get(destination)
        if room is None:
            shown = room_on.replace("%(host)s", escape(destination or ""))
            room = rooms[destination] = f' <span class="muted">{shown}</span>'
        started = instance.task_started_at
        out.append(
            rows.pattern(row)
            % {
                "u": instance.uuid,
                "v": instance.version,
                "n": escape(instance.name),
                "e": f'data-since="{started.isoformat()}"' if started else "hidden",
                "p": instance.progress,
                "d": room,
            }
        )
    return "".join(out)  # every value above is escaped
