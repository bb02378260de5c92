"""Turning an authenticated Django user into the domain's ``RequestContext``.

Pages and the WebSocket see every project the user belongs to (the page narrows to the project
picked in the switcher); an API token is scoped to one project, as Keystone's are. A user is an
admin (Nova's ``role:admin``) if it is a superuser or holds the admin role in any project — for a
token, in the token's project. A manager role (or admin) in a project makes the caller that
project's manager (Nova's ``project_manager_api``).
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from compute.context import RequestContext
from compute.models import Membership, Role


def context_for(
    user: AbstractBaseUser,
    *,
    project_id: str | None = None,
    client: str = "dashboard",
    token_scoped: bool = False,
) -> RequestContext:
    roles = dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
    if token_scoped:
        if project_id not in roles:
            raise PermissionError("The user has no role in that project.")
        return RequestContext(
            user_id=user.pk,
            user_name=user.get_username(),
            project_id=project_id,
            project_ids=frozenset({project_id}),
            is_admin=roles[project_id] == Role.ADMIN or bool(getattr(user, "is_superuser", False)),
            manager_project_ids=_managed({project_id: roles[project_id]}),
            client=client,
        )
    admin = is_admin(roles, superuser=bool(getattr(user, "is_superuser", False)))
    if project_id not in roles:
        project_id = sorted(roles)[0] if roles else None
    return RequestContext(
        user_id=user.pk,
        user_name=user.get_username(),
        project_id=project_id,
        project_ids=frozenset(roles),
        is_admin=admin,
        manager_project_ids=_managed(roles),
        client=client,
    )


def _managed(roles: dict[str, str]) -> frozenset[str]:
    return frozenset(p for p, role in roles.items() if Role(role).implies(Role.MANAGER))


def is_admin(roles: dict[str, str], *, superuser: bool) -> bool:
    """Nova's ``role:admin`` for a page or socket: a superuser, or an admin in any project."""
    return superuser or Role.ADMIN in roles.values()
