"""Which host facts a page shows to whom: Nova's policies.

- The host an instance runs on is an extended server attribute: admins only (Nova's default
  ``os_compute_api:os-extended-server-attributes``).
- ``host_status`` is ``compute.policy.host_status_shown``, the one rule the API and the
  WebSocket use too. The column appears when the policy could show it to this caller at all.
"""

from __future__ import annotations

from compute.context import RequestContext
from compute.policy import host_status_shown, members_see_host_status


def shows_host(context: RequestContext) -> bool:
    return context.is_admin


def shows_host_status_column(context: RequestContext) -> bool:
    return context.is_admin or members_see_host_status()


def visible_host_status(context: RequestContext, project_id: str, status: str) -> str | None:
    """The host_status this caller may see on an instance of ``project_id``, or None."""
    return host_status_shown(context=context, project_id=project_id, status=status)
