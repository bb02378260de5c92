"""Who may see an instance's ``host_status``: Nova's two policies, as one configurable rule.

Nova decides with ``os_compute_api:servers:show:host_status`` (show whatever the value) and,
only when that fails, ``…:host_status:unknown-only`` (show it only when it is UNKNOWN, omit the
key otherwise); both default to admin (reference §8). ``COMPUTE["host_status_policy"]`` picks
one of the three useful combinations:

- ``admin``: admins see it, nobody else does (Nova's defaults);
- ``admin_or_owner``: the first rule is admin-or-owner, so members of the instance's project
  see every value;
- ``unknown_only``: admins see every value, members of the project only UNKNOWN.

The API, the pages and the WebSocket all ask this module, so the answer is the same everywhere
(invariant 6).
"""

from __future__ import annotations

from compute.conf import conf
from compute.context import RequestContext
from compute.status import HostStatus

POLICIES = ("admin", "admin_or_owner", "unknown_only")


def host_status_shown(
    *, context: RequestContext, project_id: str, status: HostStatus | str
) -> str | None:
    """The host_status the caller may see for an instance of ``project_id``, or None to omit it."""
    policy = conf().host_status_policy
    if policy not in POLICIES:
        raise ValueError(f"Unknown host_status_policy {policy!r}: expected one of {POLICIES}.")
    value = str(status)
    if context.is_admin:
        return value
    owner = project_id in context.project_ids
    if policy == "admin_or_owner" and owner:
        return value
    if policy == "unknown_only" and owner and value == HostStatus.UNKNOWN:
        return value
    return None
