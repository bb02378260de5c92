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

from django.utils.translation import gettext_noop

from compute.actions import BY_KEY, MIGRATION_CONTROLS
from compute.conf import conf
from compute.context import RequestContext
from compute.exceptions import Forbidden
from compute.models.tenancy import Role
from compute.status import HostStatus

POLICIES = ("admin", "admin_or_owner", "unknown_only")

#: Nova's ``base.ADMIN``: the admin role.
ADMIN = Role.ADMIN
#: Nova's ``PROJECT_MANAGER_OR_ADMIN``: an admin, or a manager of the target's project.
PROJECT_MANAGER_OR_ADMIN = Role.MANAGER
#: Nova's ``PROJECT_MEMBER_OR_ADMIN`` (and ``PROJECT_READER_OR_ADMIN``: there is no read-only
#: role here, a member reads): an admin, or a member of the target's project.
PROJECT_MEMBER_OR_ADMIN = Role.MEMBER

#: Nova's defaults (nova/policies/) for the rules checked outside the action table. Key pairs'
#: rules are Nova's ``ADMIN or user_id:%(user_id)s``: the owner always passes, so they are
#: checked only for another user's key pairs, where they are the admin's.
_OTHER_RULES: dict[str, Role] = {
    "compute:servers:create:requested_destination": ADMIN,
    "os_compute_api:servers:create:forced_host": ADMIN,
    "os_compute_api:servers:index:get_all_tenants": ADMIN,
    "os_compute_api:servers:detail:get_all_tenants": ADMIN,
    "os_compute_api:os-migrate-server:migrate:host": ADMIN,
    "os_compute_api:os-migrate-server:migrate_live:host": ADMIN,
    "os_compute_api:os-shelve:unshelve_to_host": ADMIN,
    "os_compute_api:os-lock-server:unlock:unlock_override": ADMIN,
    "os_compute_api:os-server-diagnostics": ADMIN,
    "os_compute_api:servers:allow_all_filters": ADMIN,
    "os_compute_api:os-extended-server-attributes": ADMIN,
    "os_compute_api:os-instance-actions:events": ADMIN,
    "os_compute_api:os-instance-actions:events:details": ADMIN,
    "os_compute_api:os-server-groups:index:all_projects": ADMIN,
    **{f"os_compute_api:os-services:{r}": ADMIN for r in ("list", "update", "delete")},
    **{f"os_compute_api:os-flavor-manage:{r}": ADMIN for r in ("create", "update", "delete")},
    **{f"os_compute_api:os-flavor-extra-specs:{r}": ADMIN for r in ("create", "update", "delete")},
    "os_compute_api:os-flavor-access": ADMIN,
    "os_compute_api:os-flavor-access:add_tenant_access": ADMIN,
    "os_compute_api:os-flavor-access:remove_tenant_access": ADMIN,
    **{
        f"os_compute_api:os-aggregates:{r}": ADMIN
        for r in (
            "index",
            "create",
            "show",
            "update",
            "delete",
            "add_host",
            "remove_host",
            "set_metadata",
            "images",
        )
    },
    **{
        f"os_compute_api:os-hypervisors:{r}": ADMIN
        for r in ("list", "list-detail", "show", "statistics", "uptime", "search", "servers")
    },
    **{
        f"os_compute_api:os-hosts:{r}": ADMIN
        for r in ("list", "show", "update", "reboot", "shutdown", "start")
    },
    "os_compute_api:os-availability-zone:detail": ADMIN,
    "os_compute_api:os-simple-tenant-usage:list": ADMIN,
    "os_compute_api:os-simple-tenant-usage:show": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-instance-usage-audit-log:list": ADMIN,
    "os_compute_api:os-instance-usage-audit-log:show": ADMIN,
    "os_compute_api:limits:other_project": ADMIN,
    "os_compute_api:os-quota-sets:show": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-quota-sets:detail": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-quota-sets:update": ADMIN,
    "os_compute_api:os-quota-sets:delete": ADMIN,
    "os_compute_api:os-quota-class-sets:show": ADMIN,
    "os_compute_api:os-quota-class-sets:update": ADMIN,
    **{f"os_compute_api:os-keypairs:{r}": ADMIN for r in ("index", "show", "create", "delete")},
    "os_compute_api:os-admin-actions:inject_network_info": ADMIN,
    # Nova's migrations (nova/policies/migrations.py, servers_migrations.py): a project's
    # manager lists its own; every project's, a host's, or one record shown: the admin's.
    "os_compute_api:os-migrations:index": PROJECT_MANAGER_OR_ADMIN,
    "os_compute_api:os-migrations:index:all_projects": ADMIN,
    "os_compute_api:os-migrations:index:host": ADMIN,
    "os_compute_api:servers:migrations:index": PROJECT_MANAGER_OR_ADMIN,
    "os_compute_api:servers:migrations:index:host": ADMIN,
    "os_compute_api:servers:migrations:show": ADMIN,
    **{spec.policy: spec.role for spec in MIGRATION_CONTROLS},
    # The project's own: a host's drain plan and drains (no Nova counterpart).
    "vmdash:hosts:drain": ADMIN,
    "os_compute_api:os-console-output": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-remote-consoles": PROJECT_MEMBER_OR_ADMIN,
}

#: Every rule the product checks, with Nova's default: the least role that passes it.
RULES: dict[str, Role] = {
    **{spec.policy: spec.role for spec in BY_KEY.values()},
    **_OTHER_RULES,
}


def allowed(context: RequestContext, rule: str, project_id: str | None = None) -> bool:
    """Whether ``context`` passes ``rule`` (Nova's ``context.can(rule, target,
    fatal=False)``) for a target of ``project_id`` — by default the caller's own project, as
    Nova's default target is."""
    needed = RULES[rule]  # an unknown rule is a bug for admins too
    if context.is_admin:
        return True
    target = project_id if project_id is not None else context.project_id
    if needed == PROJECT_MANAGER_OR_ADMIN:
        return target in context.manager_project_ids
    if needed == PROJECT_MEMBER_OR_ADMIN:
        return target is None or target in context.project_ids
    return False


def authorize(context: RequestContext, rule: str, project_id: str | None = None) -> None:
    """Nova's ``context.can(rule, target)``: raise its 403 unless ``context`` passes ``rule``."""
    if not allowed(context, rule, project_id):
        raise refused(rule)


#: Nova's ``PolicyNotAuthorized`` text; the pages translate it (``dashboard.web.refusals``).
REFUSAL = gettext_noop("Policy doesn't allow %(rule)s to be performed.")


def refused(rule: str) -> Forbidden:
    """Nova's ``PolicyNotAuthorized`` for ``rule`` (a rule name from nova/policies/)."""
    return Forbidden(REFUSAL % {"rule": rule})


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
