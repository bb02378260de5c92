"""Nova's policy rules as the product applies them: the refusal's words, the lock's two parties,
and who may see an instance's ``host_status``.

Every policy refusal is ``refused(rule)``: Nova's ``PolicyNotAuthorized`` text with Nova's rule
name. The lock belongs to the owner when the caller belongs to the instance's project, else to
the admin (``API.lock``); a lock the other party took needs an override to lift
(``is_expected_locked_by``).

``host_status``: Nova's two policies, as one configurable rule.

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

import hashlib
from typing import Protocol

from compute.conf import conf
from compute.context import RequestContext
from compute.exceptions import Forbidden
from compute.status import HostStatus

POLICIES = ("admin", "admin_or_owner", "unknown_only")


def refused(rule: str) -> Forbidden:
    """Nova's ``PolicyNotAuthorized`` for ``rule`` (a rule name from nova/policies/)."""
    return Forbidden(f"Policy doesn't allow {rule} to be performed.")


class _Locked(Protocol):
    project_id: str
    locked_by: str | None


def lock_party(context: RequestContext, project_id: str) -> str:
    """Who a lock taken by ``context`` belongs to: ``owner`` if the caller belongs to the
    instance's project (Nova compares the token's project; a page's user belongs to each of its
    projects), else ``admin``."""
    return "owner" if project_id in context.project_ids else "admin"


def lock_is_foreign(context: RequestContext, instance: _Locked) -> bool:
    """Whether the instance's lock was taken by the other party (Nova's
    ``not is_expected_locked_by``)."""
    locked_by = instance.locked_by
    return bool(locked_by) and locked_by != lock_party(context, instance.project_id)


def host_status_shown(
    *, context: RequestContext, project_id: str, status: HostStatus | str
) -> str | None:
    """The host_status the caller may see for an instance of ``project_id``, or None to omit it."""
    policy = _policy()
    if context.is_admin:
        return str(status)
    if project_id not in context.project_ids:
        return None
    return owner_host_status(status, policy=policy)


def owner_host_status(status: HostStatus | str, *, policy: str | None = None) -> str | None:
    """What a member of the instance's project (not an admin) sees, or None to omit it."""
    policy = policy or _policy()
    value = str(status)
    if policy == "admin_or_owner":
        return value
    if policy == "unknown_only" and value == HostStatus.UNKNOWN:
        return value
    return None


def members_see_host_status() -> bool:
    """Whether any member ever sees a host_status (then host changes reach project groups)."""
    return _policy() != "admin"


def opaque_host_id(project_id: str, host: str | None) -> str:
    """Nova's ``hostId``: a per-project hash of the host, so members can tell whether two of
    their servers share a host without learning its name ("" for no host)."""
    return hashlib.sha224((project_id + host).encode()).hexdigest() if host else ""


def _policy() -> str:
    policy = conf().host_status_policy
    if policy not in POLICIES:
        raise ValueError(f"Unknown host_status_policy {policy!r}: expected one of {POLICIES}.")
    return policy
