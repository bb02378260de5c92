"""Who is asking: the caller of every service and selector.

Nova's ``RequestContext`` reduced to what the policies here read. ``is_admin`` is Nova's
``role:admin``; the system context is what the power-state sync and the watchdog act as, so their
corrections land in the action log like any user's, bypassing locks as Nova's admin context does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    user_id: int | None
    user_name: str
    #: The project the caller is scoped to; None for the system context.
    project_id: str | None
    #: Every project the caller is a member of (the WebSocket groups, the page scope).
    project_ids: frozenset[str] = frozenset()
    is_admin: bool = False
    #: The projects whose manager the caller is (Nova's ``project_manager_api``): the
    #: ``PROJECT_MANAGER_OR_ADMIN`` rules pass for their instances.
    manager_project_ids: frozenset[str] = frozenset()
    #: Where the request came from: "api", "dashboard", "sync", "watchdog", "cli" …
    client: str = ""
    request_id: str = field(default_factory=lambda: f"req-{uuid.uuid4()}")

    @property
    def is_system(self) -> bool:
        return self.user_id is None


def system_context(client: str) -> RequestContext:
    """The context of the system user: the sync, the watchdog, the agent's own corrections."""
    return RequestContext(
        user_id=None, user_name="system", project_id=None, is_admin=True, client=client
    )
