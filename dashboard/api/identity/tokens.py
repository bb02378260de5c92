"""Issuing, checking and revoking API tokens: Keystone's password and token methods.

Users are Django users in the one domain ``Default``; projects and role assignments come from
``compute.models``. A token lives ``settings.TOKEN_TTL`` seconds (a rescoped token no longer than
the token it came from); only its digest is stored. Every refusal of credentials is the same
401, so it says nothing about which part was wrong.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.dispatch import Signal
from django.utils import timezone

from compute.models import Membership, Project, Role
from dashboard.api.faults import AUTH_REQUIRED, APIFault
from dashboard.models import Token

DOMAIN_ID = "default"
DOMAIN_NAME = "Default"

#: Keystone's implied roles: admin implies manager, manager member, member reader.
IMPLIED_ROLES: dict[str, tuple[str, ...]] = {
    Role.ADMIN: ("admin", "manager", "member", "reader"),
    Role.MANAGER: ("manager", "member", "reader"),
    Role.MEMBER: ("member", "reader"),
}


class Unauthorized(APIFault):
    def __init__(self) -> None:
        super().__init__(401, AUTH_REQUIRED)


class TokenNotFound(APIFault):
    def __init__(self, token: str) -> None:
        super().__init__(404, f"Could not find token: {token}.")


@dataclass(frozen=True)
class Issued:
    token: str
    record: Token


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _in_domain(domain: Any) -> bool:
    if domain is None:
        return True
    if not isinstance(domain, dict):
        return False
    return domain.get("id", DOMAIN_ID) == DOMAIN_ID and domain.get("name", DOMAIN_NAME) in (
        DOMAIN_NAME,
        DOMAIN_ID,
    )


def password_user(user: dict[str, Any]) -> AbstractBaseUser:
    """The active user whose name (or id) and password these are, or 401."""
    password = user.get("password")
    if not isinstance(password, str) or not _in_domain(user.get("domain")):
        raise Unauthorized()
    users = get_user_model().objects.filter(is_active=True)
    if "id" in user:
        given = str(user["id"])
        # ASCII digits that fit the column: "²" passes isdigit() but not int().
        valid = given.isascii() and given.isdigit() and len(given) < 19
        found = users.filter(pk=int(given)).first() if valid else None
    else:
        found = users.filter(username=user.get("name")).first()
    if found is None:
        # Hash anyway, as Django's ModelBackend does: an unknown username must take as long as a
        # wrong password, or the answer's timing tells which usernames exist.
        get_user_model()().set_password(password)
        raise Unauthorized()
    if not found.check_password(password):
        raise Unauthorized()
    return found


def token_check(raw: str | None) -> Token:
    """The live token ``raw`` names, or 404 (Keystone's answer for unknown, expired, revoked)."""
    if not raw:
        raise TokenNotFound("")
    record = (
        Token.objects.select_related("user", "project")
        .filter(digest=digest(raw), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if record is None or not record.user.is_active:
        raise TokenNotFound(raw)
    return record


def scoped_project(user: AbstractBaseUser, scope: Any) -> Project | None:
    """The project a scope names, if the user holds a role in it; None for no scope."""
    if scope is None:
        return None
    project = scope.get("project") if isinstance(scope, dict) else None
    if not isinstance(project, dict):
        raise APIFault(400, "Only project scopes are supported here.")
    if "id" in project:
        found = Project.objects.filter(pk=project["id"]).first()
    elif _in_domain(project.get("domain")):
        found = Project.objects.filter(name=project.get("name")).first()
    else:
        found = None
    if found is None or not Membership.objects.filter(user=user, project=found).exists():
        raise Unauthorized()
    return found


def token_issue(
    *,
    user: AbstractBaseUser,
    project: Project | None,
    methods: list[str],
    not_after: Any = None,
) -> Issued:
    now = timezone.now()
    expires = now + timedelta(seconds=float(settings.TOKEN_TTL))
    if not_after is not None:
        expires = min(expires, not_after)
    raw = secrets.token_urlsafe(48)
    audit = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    # Tokens long expired are of no use to anyone; sweep them as new ones are issued.
    Token.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    record = Token.objects.create(
        digest=digest(raw),
        user=user,
        project=project,
        methods=methods,
        audit_id=audit,
        issued_at=now,
        expires_at=expires,
    )
    return Issued(token=raw, record=record)


#: Sent with ``digest=`` when a token is revoked: whoever remembers checked tokens (the compute
#: API's caller cache, ``dashboard.api.auth``) forgets it at once.
token_revoked = Signal()


def token_revoke(record: Token) -> None:
    Token.objects.filter(pk=record.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token_revoked.send(sender=Token, digest=record.digest)


def roles_of(record: Token) -> list[str]:
    if record.project_id is None:
        return []
    role = (
        Membership.objects.filter(user_id=record.user_id, project_id=record.project_id)
        .values_list("role", flat=True)
        .first()
    )
    return list(IMPLIED_ROLES.get(role or "", ()))
