"""Who is calling the compute and image APIs: an ``X-Auth-Token``, or the browser's session.

Stock clients send the token they got from ``/identity/v3/auth/tokens``; the browsable API and
the pages keep Django's session login. A token is scoped to one project, as Keystone's are, and
the caller's ``RequestContext`` is built from it (``dashboard.context.context_for``).

A client sends the same token with every request, and checking it (the token with its user, then
the user's role assignments) was two queries of every request. So each process remembers a
checked token's caller for ``settings.TOKEN_CACHE_TTL`` seconds (default ``TOKEN_CACHE_TTL``
below; 0 turns it off), keyed by the token's digest:

- expiry is exact: the remembered expiry is compared with the clock on every request;
- a revocation through this process (``DELETE /identity/v3/auth/tokens``) and any save or
  delete of a user, a role assignment or a token through the ORM forget at once;
- a change that bypasses this process's ORM — a revocation served by another process, a bulk
  ``UPDATE`` — takes effect within the TTL. That window is the price of the cache; keep the TTL
  short (Keystone's own token cache in keystonemiddleware defaults to 300 s).

The identity API itself (validating, revoking, rescoping) always reads the database.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.urls import reverse
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from compute.context import RequestContext
from compute.models import Membership
from dashboard.api.identity import tokens
from dashboard.context import context_for
from dashboard.models import Token

HEADER = "X-Auth-Token"
#: Seconds a process reuses a checked token's caller, unless ``settings.TOKEN_CACHE_TTL`` says.
TOKEN_CACHE_TTL = 5.0
#: Callers remembered at most; past it the cache starts again empty (a burst of new tokens).
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TokenAuth:
    """``request.auth`` of a token-authenticated request: the token and its caller."""

    token: Token
    context: RequestContext


@dataclass(frozen=True)
class _Caller:
    token: Token
    #: The caller, with a request id that each request replaces with its own.
    context: RequestContext
    expires_at: datetime
    #: ``time.monotonic()`` when the database said the token was good.
    checked_at: float


_callers: dict[str, _Caller] = {}
_lock = threading.Lock()


class KeystoneTokenAuthentication(BaseAuthentication):
    """``X-Auth-Token``: a live, project-scoped token. A bad token is a 401, never a fallback."""

    def authenticate(self, request: Request) -> tuple[Any, TokenAuth] | None:
        raw = request.headers.get(HEADER)
        if not raw:
            return None
        caller = _caller(raw)
        context = dataclasses.replace(caller.context, request_id=f"req-{uuid.uuid4()}")
        return caller.token.user, TokenAuth(token=caller.token, context=context)

    def authenticate_header(self, request: Request) -> str:
        return f'Keystone uri="{request.build_absolute_uri(reverse("identity-versions"))}"'


def api_context(request: Request) -> RequestContext:
    """The domain's view of the caller: token-scoped, or every project of a session user."""
    if isinstance(request.auth, TokenAuth):
        return request.auth.context
    return context_for(request.user, client="api")


def _caller(raw: str) -> _Caller:
    """The caller of a live, project-scoped token whose user still holds a role in its project,
    from this process's memory if it was checked less than the TTL ago; else 401."""
    key = tokens.digest(raw)
    ttl = float(getattr(settings, "TOKEN_CACHE_TTL", TOKEN_CACHE_TTL))
    known = _callers.get(key)
    if (
        known is not None
        and time.monotonic() - known.checked_at < ttl
        and known.expires_at > timezone.now()
    ):
        return known
    checked_at = time.monotonic()
    try:
        record = tokens.token_check(raw)
    except tokens.TokenNotFound:
        forget(key)
        raise AuthenticationFailed() from None
    if record.project_id is None:
        raise AuthenticationFailed()
    try:
        context = context_for(
            record.user, project_id=record.project_id, client="api", token_scoped=True
        )
    except PermissionError:  # the role assignment went away after the token was issued
        forget(key)
        raise AuthenticationFailed() from None
    caller = _Caller(
        token=record, context=context, expires_at=record.expires_at, checked_at=checked_at
    )
    if ttl > 0:
        with _lock:
            if len(_callers) >= CACHE_SIZE:
                _callers.clear()
            _callers[key] = caller
    return caller


def forget(digest: str | None = None) -> None:
    """Forget one token's caller (by digest), or every caller."""
    with _lock:
        if digest is None:
            _callers.clear()
        else:
            _callers.pop(digest, None)


def _forget_token(sender: type[Token], instance: Token, **kwargs: Any) -> None:
    forget(instance.digest)


def _forget_revoked(sender: type[Token], digest: str, **kwargs: Any) -> None:
    forget(digest)


def _forget_everyone(sender: type, **kwargs: Any) -> None:
    # Users and role assignments change rarely; forgetting every caller is simplest and safe.
    # A page login's stamp changes nothing a token's caller is made of.
    if kwargs.get("update_fields") == frozenset({"last_login"}):
        return
    forget()


post_save.connect(_forget_token, sender=Token, dispatch_uid="api-auth-token-saved")
post_delete.connect(_forget_token, sender=Token, dispatch_uid="api-auth-token-deleted")
for _model in (Membership, get_user_model()):
    post_save.connect(_forget_everyone, sender=_model, dispatch_uid=f"api-auth-{_model}-saved")
    post_delete.connect(_forget_everyone, sender=_model, dispatch_uid=f"api-auth-{_model}-deleted")
tokens.token_revoked.connect(_forget_revoked, dispatch_uid="api-auth-token-revoked")
