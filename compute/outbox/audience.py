"""Who receives a change: the socket groups, and each change's message as each group may see it.

An instance's change goes to its project's group without admin-only fields (the host's name; a
member gets Nova's opaque per-project ``hostId`` instead) and to the admins' group as it is; a
host's change goes to the admins, and — when policy lets members see host_status — to the
project groups of the instances on it as a ``host_status`` delta keyed by that opaque hostId.
The relay sends these live and ``replay`` sends the same ones to a page catching up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from compute.context import RequestContext
from compute.models import ChangeEvent, Instance
from compute.outbox.fanout import DeltaMessage
from compute.policy import opaque_host_id, owner_host_status

ADMINS_GROUP = "admins"
#: Fields of an instance delta only admins receive (Nova's extended-server-attributes policy).
ADMIN_ONLY_FIELDS = ("host",)


PROJECT_PREFIX = "project."
#: A user's own group: their notifications' bell (``compute.notify``), nobody else's.
USER_PREFIX = "user."


def project_group(project_id: str) -> str:
    return f"{PROJECT_PREFIX}{project_id}"


def user_group(user_id: int | str) -> str:
    return f"{USER_PREFIX}{user_id}"


def groups_for(context: RequestContext) -> list[str]:
    """The groups a caller's live socket joins: everything for an admin, else its projects';
    and the user's own group."""
    own = [user_group(context.user_id)] if context.user_id is not None else []
    if context.is_admin:
        return [ADMINS_GROUP, *own]
    return sorted(project_group(p) for p in context.project_ids) + own


def for_viewer(payload: dict[str, Any], *, admin: bool) -> dict[str, Any]:
    """An instance delta as a member sees it: no host name, but Nova's opaque ``hostId`` (what
    the page finds the instance's host_status cell by, as the API's ``hostId``)."""
    if admin or payload.get("type") != "instance":
        return payload
    out = {k: v for k, v in payload.items() if k not in ADMIN_ONLY_FIELDS}
    out["host_id"] = opaque_host_id(payload.get("project_id") or "", payload.get("host"))
    return out


def host_status_delta(payload: dict[str, Any], project_id: str) -> dict[str, Any]:
    """A host change as a member of ``project_id`` may see it: the host_status of their
    instances on that host (or None where policy hides it), keyed by the opaque hostId."""
    return {
        "type": "host_status",
        "id": opaque_host_id(project_id, payload["host"]),
        "version": payload["version"],
        "host_status": owner_host_status(payload["host_status"]),
    }


class OutboxRow:
    """The columns of a ``ChangeEvent`` the relay sends, read without the ORM (hot path).

    The payload arrives as JSON text and is decoded on first use: a process with no socket in
    any of the row's groups relays the row (its sequence moves on) without ever decoding it.
    """

    __slots__ = ("_payload", "id", "kind", "object_id", "project_id", "projects", "raw")

    def __init__(
        self,
        id: int,
        kind: str,
        project_id: str | None,
        payload: dict[str, Any] | str | bytes,
        projects: tuple[str, ...] = (),
        *,
        object_id: str = "",
    ) -> None:
        self.id = id
        self.kind = kind
        self.project_id = project_id
        self.object_id = object_id
        #: For a host row while members may see host_status: the projects with instances on it.
        self.projects = projects
        self.raw = payload
        self._payload: dict[str, Any] | None = payload if isinstance(payload, dict) else None

    @property
    def payload(self) -> dict[str, Any]:
        if self._payload is None:
            self._payload = json.loads(self.raw)  # type: ignore[arg-type]
        return self._payload

    def __repr__(self) -> str:
        return f"OutboxRow(id={self.id}, kind={self.kind!r}, project_id={self.project_id!r})"


def everyone(group: str) -> bool:
    return True


def messages_for(
    row: ChangeEvent | OutboxRow, wanted: Callable[[str], bool] = everyone
) -> list[tuple[str, DeltaMessage]]:
    """The (group, message) pairs one outbox row fans out to: of those, only the groups
    ``wanted`` says someone listens to (a message nobody receives is not built)."""
    out: list[tuple[str, DeltaMessage]] = []
    if row.kind == ChangeEvent.Kind.SCHEDULE:
        return out  # for the notifier only (its owner's notification); no page shows it
    if row.kind == ChangeEvent.Kind.NOTIFICATION:
        # A user's bell: that user's sockets only, admins' included, nobody else's.
        if wanted(group := user_group(row.object_id)):
            out.append((group, {"seq": row.id, "delta": row.payload}))
        return out
    if wanted(ADMINS_GROUP):
        out.append((ADMINS_GROUP, {"seq": row.id, "delta": row.payload}))
    if row.kind == ChangeEvent.Kind.INSTANCE:
        if row.project_id and wanted(group := project_group(row.project_id)):
            out.append(
                (
                    group,
                    {
                        "seq": row.id,
                        "delta": for_viewer(row.payload, admin=False),
                    },
                )
            )
    elif row.kind == ChangeEvent.Kind.HOST:
        for project in getattr(row, "projects", ()):
            if wanted(group := project_group(project)):
                out.append(
                    (
                        group,
                        {
                            "seq": row.id,
                            "delta": host_status_delta(row.payload, project),
                        },
                    )
                )
    return out


def projects_on_hosts(host_uuids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The projects with live instances on each of these hosts: who sees their host_status
    change. One query for all of them."""
    found: dict[str, set[str]] = {}
    for host_uuid, project in (
        Instance.objects.filter(host__uuid__in=list(host_uuids), deleted_at__isnull=True)
        .values_list("host__uuid", "project_id")
        .distinct()
    ):
        found.setdefault(str(host_uuid), set()).add(project)
    return {host: tuple(sorted(projects)) for host, projects in found.items()}
