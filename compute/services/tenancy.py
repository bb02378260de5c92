"""Users, projects and role assignments."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from compute.exceptions import Invalid
from compute.models import Membership, Project, Role


@dataclass(frozen=True)
class Ensured:
    user: AbstractBaseUser
    project: Project
    created_user: bool
    created_project: bool
    created_membership: bool


def user_ensure(
    *, username: str, password: str | None, project: str, role: str = Role.MEMBER
) -> Ensured:
    """Create whatever of user, project and role assignment is missing; change nothing else
    except the role, which is set to ``role`` (and the password, when one is given)."""
    if role not in Role.values:
        raise Invalid(f"Unknown role {role!r}: expected one of {', '.join(Role.values)}.")
    if not username or not project:
        raise Invalid("A username and a project name are required.")
    User = get_user_model()
    with transaction.atomic():
        user, created_user = User.objects.get_or_create(username=username)
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
        elif created_user:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        proj, created_project = Project.objects.get_or_create(name=project)
        membership, created_membership = Membership.objects.get_or_create(
            user=user, project=proj, defaults={"role": role}
        )
        if membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
    return Ensured(user, proj, created_user, created_project, created_membership)
