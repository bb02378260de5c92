"""Who is calling the compute and image APIs: an ``X-Auth-Token``, or the browser's session.

Stock clients send the token they got from ``/identity/v3/auth/tokens``; the browsable API and
the pages keep Django's session login. A token is scoped to one project, as Keystone's are, and
the caller's ``RequestContext`` is built from it (``dashboard.context.context_for``).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from compute.context import RequestContext
from dashboard.api.identity import tokens
from dashboard.context import context_for
from dashboard.models import Token

HEADER = "X-Auth-Token"


class KeystoneTokenAuthentication(BaseAuthentication):
    """``X-Auth-Token``: a live, project-scoped token. A bad token is a 401, never a fallback."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        raw = request.headers.get(HEADER)
        if not raw:
            return None
        try:
            record = tokens.token_check(raw)
        except tokens.TokenNotFound:
            raise AuthenticationFailed() from None
        if record.project_id is None:
            raise AuthenticationFailed()
        return record.user, record

    def authenticate_header(self, request: Request) -> str:
        return f'Keystone uri="{request.build_absolute_uri(reverse("identity-versions"))}"'


def api_context(request: Request) -> RequestContext:
    """The domain's view of the caller: token-scoped, or every project of a session user."""
    if isinstance(request.auth, Token):
        try:
            return context_for(
                request.user, project_id=request.auth.project_id, client="api", token_scoped=True
            )
        except PermissionError:  # the role assignment went away after the token was issued
            raise AuthenticationFailed() from None
    return context_for(request.user, client="api")
