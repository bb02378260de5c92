"""Nova's policy rules as the product applies them: the refusal's words, the lock's two parties,
and who may see an instance's ``host_status``.

Every rule the product checks has Nova's name and Nova's default here (``RULES``: the action
table's rules, admin's where the row is admin-only, and the others below); ``authorize`` is
Nova's ``context.can`` and ``refused(rule)`` its ``PolicyNotAuthorized``, so the guard, the
services and the pages refuse with one text. The lock belongs to the owner when the caller belongs to the instance's project, else to
the admin (``API.lock``); a lock the other party took needs an override to lift
(``is_expected_locked_by``).

``host_status``: Nova's two policies, as one configurable rule.

Nova decides with ``os_compute_api:servers:show:host_status`` (show whatever the value) and,
only when that fails, ``…:host_status:unknown-only`` (show it only when it is UNKNOWN, omit the
key otherwise); both default to admin (``nova/policies/servers.py``). ``COMPUTE["host_status_policy"]`` picks
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

from compute.actions import BY_KEY
from compute.conf import conf
from compute.context import RequestContext
from compute.exceptions import Forbidden
from compute.status import HostStatus

POLICIES = ("admin", "admin_or_owner", "unknown_only")

#: Nova's ``base.ADMIN``: the admin role.
ADMIN = "admin"
#: Nova's ``PROJECT_MEMBER_OR_ADMIN``: an admin, or a member of the target's project (the
#: target is always one the caller may see: the selectors scope every read to its projects).
MEMBER = "member"

#: Nova's defaults (nova/policies/) for the rules checked outside the action table.
_OTHER_RULES: dict[str, str] = {
    "compute:servers:create:requested_destination": ADMIN,
    "os_compute_api:servers:create:forced_host": ADMIN,
    "os_compute_api:servers:index:get_all_tenants": ADMIN,
    "os_compute_api:servers:detail:get_all_tenants": ADMIN,
    "os_compute_api:os-migrate-server:migrate:host": ADMIN,
    "os_compute_api:os-migrate-server:migrate_live:host": ADMIN,
    "os_compute_api:os-shelve:unshelve_to_host": ADMIN,
    "os_compute_api:os-lock-server:unlock:unlock_override": ADMIN,
    "os_compute_api:os-services:list": ADMIN,
    "os_compute_api:os-services:update": ADMIN,
    "os_compute_api:os-services:delete": ADMIN,
    "os_compute_api:os-flavor-manage:create": ADMIN,
    "os_compute_api:os-flavor-manage:update": ADMIN,
    "os_compute_api:os-flavor-manage:delete": ADMIN,
    "os_compute_api:os-console-output": MEMBER,
    "os_compute_api:os-remote-consoles": MEMBER,
    "os_compute_api:os-server-diagnostics": ADMIN,
}

#: Every rule the product checks, with Nova's default.
RULES: dict[str, str] = {
    **{spec.policy: ADMIN if spec.admin_only else MEMBER for spec in BY_KEY.values()},
    **_OTHER_RULES,
}


def allowed(context: RequestContext, rule: str) -> bool:
    """Whether ``context`` passes ``rule`` (Nova's ``context.can(rule, fatal=False)``)."""
    return context.is_admin or RULES[rule] != ADMIN


def authorize(context: RequestContext, rule: str) -> None:
    """Nova's ``context.can(rule)``: raise its 403 unless ``context`` passes ``rule``."""
    if not allowed(context, rule):
        raise refused(rule)


def refused(rule: str) -> Forbidden:
    """Nova's ``PolicyNotAuthorized`` for ``rule`` (a rule name from nova/policies/)."""
    return Forbidden(f"Policy doesn't allow {rule} to be performed.")


def fault_details_visible(context: RequestContext, code: int) -> bool:
    """Whether a fault's details (a traceback, the driver's words) are shown: Nova hides those
    of an internal error (500) from non-admins; the API and the pages both ask here."""
    return context.is_admin or code != 500


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
