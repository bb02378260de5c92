"""How every state looks: one label and one tone per value, for every page and the live script.

NetBox's lesson: a status carries its colour, and every renderer asks for it, so a badge looks
the same in the instance list, on the detail page, on the hosts page and after a live update.
The pages render ``badge(kind, value)``; the same map is serialised into each page
(``presentation_json``) and the live script draws updated badges from it, never from its own
table. Tones are CSS classes (``tone-ok`` …); a badge always carries its text as well, so
colour is never the only signal.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from compute.actions import ACTIONS, CREATE
from compute.states import PowerState, TaskState, VmState
from compute.status import HostStatus, Status
from dashboard.web.sync_hints import sync_hint_table

#: The tones a badge may have; each is one CSS class.
TONES = ("ok", "busy", "warn", "danger", "muted", "accent")

#: The kinds of value a badge shows, with the name users read in tooltips (Nova's field names
#: stay as they are in every language).
KINDS: dict[str, Any] = {
    "status": _("Status"),
    "vm_state": "vm_state",
    "task_state": "task_state",
    "power_state": "power_state",
    "host_status": "host_status",
    "service": _("Service"),
}


@dataclass(frozen=True)
class Badge:
    kind: str
    value: str
    #: What the badge says: the English label, or in another language Nova's identifier.
    label: str
    tone: str
    #: The value's meaning in the page's language, added to the tooltip where it is not English.
    description: str = ""

    @property
    def title(self) -> str:
        base = f"{KINDS[self.kind]}: {self.value or 'none'}"
        return f"{base} — {self.description}" if self.description else base


_VM_TONES: dict[str, str] = {
    VmState.ACTIVE: "ok",
    VmState.BUILDING: "busy",
    VmState.PAUSED: "warn",
    VmState.SUSPENDED: "warn",
    VmState.STOPPED: "muted",
    VmState.RESCUED: "accent",
    VmState.RESIZED: "accent",
    VmState.SOFT_DELETED: "muted",
    VmState.DELETED: "muted",
    VmState.ERROR: "danger",
    VmState.SHELVED: "muted",
    VmState.SHELVED_OFFLOADED: "muted",
}

_POWER_TONES: dict[int, str] = {
    PowerState.NOSTATE: "muted",
    PowerState.RUNNING: "ok",
    PowerState.PAUSED: "warn",
    PowerState.SHUTDOWN: "muted",
    PowerState.CRASHED: "danger",
    PowerState.SUSPENDED: "warn",
}

_STATUS_TONES: dict[str, str] = {
    Status.ACTIVE: "ok",
    Status.BUILD: "busy",
    Status.SHUTOFF: "muted",
    Status.PAUSED: "warn",
    Status.SUSPENDED: "warn",
    Status.RESCUE: "accent",
    Status.VERIFY_RESIZE: "accent",
    Status.REVERT_RESIZE: "busy",
    Status.ERROR: "danger",
    Status.DELETED: "muted",
    Status.SOFT_DELETED: "muted",
    Status.SHELVED: "muted",
    Status.SHELVED_OFFLOADED: "muted",
    Status.REBOOT: "busy",
    Status.HARD_REBOOT: "busy",
    Status.PASSWORD: "busy",
    Status.REBUILD: "busy",
    Status.MIGRATING: "busy",
    Status.RESIZE: "busy",
    Status.UNKNOWN: "warn",
}

_HOST_STATUS: dict[str, tuple[str, str]] = {
    HostStatus.UP: ("Up", "ok"),
    HostStatus.DOWN: ("Down", "danger"),
    HostStatus.MAINTENANCE: ("Maintenance", "accent"),
    HostStatus.UNKNOWN: ("Unknown", "warn"),
    HostStatus.NONE: ("No host", "muted"),
}

_SERVICE: dict[str, tuple[str, str]] = {
    "enabled": ("Enabled", "ok"),
    "disabled": ("Disabled", "accent"),
}

#: How a missing value is shown ("no task", "no host").
_NONE_LABEL: dict[str, str] = {"task_state": "None", "host_status": "No host"}


def _table() -> dict[str, dict[str, tuple[str, str]]]:
    return {
        "status": {s.value: (s.value.replace("_", " ").title(), _STATUS_TONES[s]) for s in Status},
        "vm_state": {v.value: (str(v.label), _VM_TONES[v]) for v in VmState},
        "task_state": {t.value: (str(t.label), "busy") for t in TaskState},
        "power_state": {str(p.value): (str(p.label), _POWER_TONES[p]) for p in PowerState},
        "host_status": dict(_HOST_STATUS),
        "service": dict(_SERVICE),
    }


TABLE = _table()


#: Nova's identifier of a power_state code (what a non-English badge shows).
_POWER_NAMES: dict[str, str] = {str(p.value): p.name for p in PowerState}


def _english() -> bool:
    return (translation.get_language() or "en").split("-")[0] == "en"


@lru_cache(maxsize=8)
def _localized(language: str) -> dict[str, dict[str, tuple[str, str, str]]]:
    """``TABLE`` for one language: (badge text, tone, description) per value. English keeps its
    labels; another language shows Nova's identifier and explains it in the tooltip."""
    english = language.split("-")[0] == "en"
    out: dict[str, dict[str, tuple[str, str, str]]] = {}
    for kind, rows in TABLE.items():
        out[kind] = {}
        for value, (label, tone) in rows.items():
            if english:
                out[kind][value] = (label, tone, "")
                continue
            shown = _POWER_NAMES.get(value, value) if kind == "power_state" else value
            out[kind][value] = (shown or "—", tone, pgettext(kind, label))
    return out


def _rows(kind: str) -> dict[str, tuple[str, str, str]]:
    return _localized(translation.get_language() or "en")[kind]


def badge(kind: str, value: object) -> Badge:
    """The badge of ``value`` (None or "" means "no value"); unknown values are shown as-is."""
    raw = "" if value is None else str(value)
    if not raw and kind in _NONE_LABEL:
        label = _NONE_LABEL[kind]
        if _english():
            return Badge(kind, "", label, "muted")
        return Badge(kind, "", "—", "muted", pgettext(kind, label))
    label, tone, description = _rows(kind).get(raw, (raw or "—", "warn", ""))
    return Badge(kind, raw, label, tone, description)


#: Task states of long tasks, which show a progress bar: every step the table gives a progress.
LONG_TASKS: frozenset[str] = frozenset(
    step.task_state
    for spec in (*ACTIONS, CREATE)
    for step in spec.steps
    if step.progress is not None and step.task_state
)


def presentation_json() -> str:
    """Everything the live script needs to draw what the server draws, as JSON, in the page's
    language."""
    return _presentation_json(translation.get_language() or "en")


@lru_cache(maxsize=8)
def _presentation_json(language: str) -> str:
    data: dict[str, Any] = {
        "kinds": {kind: str(name) for kind, name in KINDS.items()},
        "badges": {
            kind: {
                value: {"label": label, "tone": tone, "description": description}
                for value, (label, tone, description) in rows.items()
            }
            for kind, rows in _localized(language).items()
        },
        "none": {kind: asdict(badge(kind, None)) for kind in _NONE_LABEL},
        "longTasks": sorted(LONG_TASKS),
        "syncHints": sync_hint_table(),
    }
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    # Safe inside <script type="application/json">, as Django's json_script makes it.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
