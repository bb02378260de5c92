"""The instances list's columns, as data: which exist, which a caller may see, and which the
list's URL chooses.

The name (with its uuid) is always shown; every other column is optional. The choice is the
list's own query parameter ``cols`` (``cols=status,vm_state,power_state``), so a chosen set is
shareable as a link and kept by a saved view like the filters; without it the list shows every
column the caller may see. The CSV export reads the same choice: its columns are the page's,
in the page's order (name and id first). A column the caller may not see (host, host_status)
is never shown, whatever the URL asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from compute.context import RequestContext
from dashboard.web.policy import shows_host, shows_host_status_column
from dashboard.web.rows import InstanceRow


@dataclass(frozen=True)
class Column:
    key: str
    #: The header: Nova's field names stay as they are, the others are translated.
    label: str | Promise
    #: What the CSV writes in this column for a row.
    read: Callable[[InstanceRow], object]


COLUMNS: tuple[Column, ...] = (
    Column("status", _("Status"), lambda r: r.status.value),
    Column("vm_state", "vm_state", lambda r: r.vm_state.value),
    Column("task_state", "task_state", lambda r: r.task_state.value),
    Column("power_state", "power_state", lambda r: r.power_state.label),
    Column("host", _("Host"), lambda r: r.host or ""),
    Column("project", _("Project"), lambda r: r.instance.project.name),
    Column("host_status", "host_status", lambda r: r.host_status.value if r.host_status else ""),
    Column("created_at", _("Created"), lambda r: r.instance.created_at.isoformat()),
)
KEYS = frozenset(c.key for c in COLUMNS)


def available(context: RequestContext, *, project: bool) -> list[Column]:
    """The columns this caller may see on this page (``project``: the page spans projects)."""
    allowed = {
        "host": shows_host(context),
        "project": project,
        "host_status": shows_host_status_column(context),
    }
    return [c for c in COLUMNS if allowed.get(c.key, True)]


def requested(values: Iterable[str]) -> list[str]:
    """The keys a query asks for: ``cols`` once comma-separated or repeated (a form's
    checkboxes), in any order; blanks dropped."""
    return [key for value in values for key in value.split(",") if key]


def chosen(keys: list[str], offered: list[Column]) -> list[Column]:
    """The columns to show: the requested ones the caller may see, in the table's order; every
    offered column when nothing valid is requested."""
    picked = [c for c in offered if c.key in keys]
    return picked or list(offered)


def param(shown: list[Column], offered: list[Column]) -> str:
    """The canonical ``cols`` value for ``shown`` (empty when it is every offered column)."""
    if [c.key for c in shown] == [c.key for c in offered]:
        return ""
    return ",".join(c.key for c in shown)
