"""Identity v3, the sliver stock clients need to log in: versions and ``/auth/tokens``.

``POST /identity/v3/auth/tokens`` takes Keystone's password (or token) method with an optional
project scope and answers 201 with the token in ``X-Subject-Token``. ``GET`` validates and
``DELETE`` revokes the token named by ``X-Subject-Token``; the caller authenticates with
``X-Auth-Token`` and may act on its own tokens, or on anyone's if it is an admin.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import ratelimit
from dashboard.api import formats
from dashboard.api.docs.refs import ref, responses
from dashboard.api.faults import APIFault
from dashboard.api.identity import catalog, tokens
from dashboard.api.negotiation import JSONUnlessHTML
from dashboard.api.parsers import BoundedJSONParser
from dashboard.api.schemas.identity import AUTH_REQUEST
from dashboard.context import context_for
from dashboard.models import Token

SUBJECT = "X-Subject-Token"
_SUBJECT_PARAM = OpenApiParameter(SUBJECT, str, OpenApiParameter.HEADER, required=True)
_NOCATALOG = OpenApiParameter("nocatalog", str, description="Leave the catalog out.")


class IdentityView(APIView):
    error_style = "keystone"
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    # Keystone takes JSON only; not DRF's default form and multipart parsers.
    parser_classes = [BoundedJSONParser]
    content_negotiation_class = JSONUnlessHTML


class IdentityVersions(IdentityView):
    @extend_schema(
        operation_id="identityVersions",
        tags=["identity"],
        summary="Identity versions",
        auth=[],
        responses={300: ref("IdentityVersions")},
    )
    def get(self, request: Request) -> Response:
        return Response({"versions": {"values": [catalog.v3_version(request)]}}, status=300)


class IdentityV3(IdentityView):
    @extend_schema(
        operation_id="identityV3",
        tags=["identity"],
        summary="Identity v3",
        auth=[],
        responses={200: ref("IdentityVersion")},
    )
    def get(self, request: Request) -> Response:
        return Response({"version": catalog.v3_version(request)})


def token_body(request: Request, record: Token, *, with_catalog: bool) -> dict[str, Any]:
    user = record.user
    body: dict[str, Any] = {
        "methods": record.methods,
        "user": {
            "id": str(user.pk),
            "name": user.get_username(),
            "domain": {"id": tokens.DOMAIN_ID, "name": tokens.DOMAIN_NAME},
            "password_expires_at": None,
        },
        "audit_ids": [record.audit_id],
        "issued_at": formats.keystone(record.issued_at),
        "expires_at": formats.keystone(record.expires_at),
    }
    if record.project is not None:
        body["project"] = {
            "id": record.project.pk,
            "name": record.project.name,
            "domain": {"id": tokens.DOMAIN_ID, "name": tokens.DOMAIN_NAME},
        }
        body["is_domain"] = False
        body["roles"] = [catalog.role_ref(name) for name in tokens.roles_of(record)]
        if with_catalog:
            body["catalog"] = catalog.catalog(request)
    return {"token": body}


def _password_user(user: dict[str, Any], ip: str) -> Any:
    """The password method, counted by the login rate limiter (``dashboard.ratelimit``)."""
    # The same key ``password_user`` looks the user up by: its id if given, else its name.
    name = f"id:{user['id']}" if "id" in user else str(user.get("name", ""))
    wait = ratelimit.retry_after(username=name, ip=ip)
    if wait is not None:
        raise APIFault(429, ratelimit.locked_message(wait), headers={"Retry-After": str(wait)})
    try:
        found = tokens.password_user(user)
    except tokens.Unauthorized:
        ratelimit.login_failed(username=name, ip=ip)
        raise
    ratelimit.login_succeeded(username=name, ip=ip)
    return found


def _authenticate(auth: Any, ip: str) -> tuple[Any, list[str], Any]:
    """(user, methods, not_after) from the ``auth.identity`` of a request body."""
    identity = auth.get("identity") if isinstance(auth, dict) else None
    methods = identity.get("methods") if isinstance(identity, dict) else None
    if not isinstance(methods, list) or not methods:
        raise APIFault(400, "Expecting to find identity in auth.")
    if "password" in methods:
        password = identity.get("password")
        user = password.get("user") if isinstance(password, dict) else None
        if not isinstance(user, dict):
            raise APIFault(400, "Expecting to find user in password.")
        return _password_user(user, ip), ["password"], None
    if "token" in methods:
        given = identity.get("token")
        if not isinstance(given, dict) or not isinstance(given.get("id"), str):
            raise APIFault(400, "Expecting to find id in token.")
        try:
            old = tokens.token_check(given["id"])
        except tokens.TokenNotFound:
            raise tokens.Unauthorized() from None
        return old.user, ["token", *[m for m in old.methods if m != "token"]], old.expires_at
    raise tokens.Unauthorized()


class Tokens(IdentityView):
    @extend_schema(
        operation_id="tokenIssue",
        tags=["identity"],
        summary="Issue a token (password or token method, optional project scope)",
        auth=[],
        parameters=[_NOCATALOG],
        request={"application/json": AUTH_REQUEST},
        responses=responses({201: ref("TokenBody")}, 400, 401, 413, 415, 429, style="keystone"),
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        auth = body.get("auth")
        if not isinstance(auth, dict):
            raise APIFault(400, "Expecting to find auth in request body.")
        user, methods, not_after = _authenticate(auth, ratelimit.client_ip(request))
        project = tokens.scoped_project(user, auth.get("scope"))
        issued = tokens.token_issue(
            user=user, project=project, methods=methods, not_after=not_after
        )
        with_catalog = "nocatalog" not in request.query_params
        response = Response(
            token_body(request, issued.record, with_catalog=with_catalog), status=201
        )
        response[SUBJECT] = issued.token
        return response

    def _caller_and_subject(self, request: Request) -> tuple[Token, Token]:
        try:
            caller = tokens.token_check(request.headers.get("X-Auth-Token"))
        except tokens.TokenNotFound:
            raise tokens.Unauthorized() from None
        subject = tokens.token_check(request.headers.get(SUBJECT))
        if subject.user_id != caller.user_id and not self._is_admin(caller):
            raise APIFault(403, "You are not authorized to perform the requested action.")
        return caller, subject

    @staticmethod
    def _is_admin(caller: Token) -> bool:
        if caller.project_id is None:
            return bool(caller.user.is_superuser)
        try:
            return context_for(
                caller.user, project_id=caller.project_id, token_scoped=True
            ).is_admin
        except PermissionError:
            return False

    @extend_schema(
        operation_id="tokenValidate",
        tags=["identity"],
        summary="Validate a token",
        parameters=[_SUBJECT_PARAM, _NOCATALOG],
        responses=responses({200: ref("TokenBody")}, 401, 403, 404, style="keystone"),
    )
    def get(self, request: Request) -> Response:
        _, subject = self._caller_and_subject(request)
        with_catalog = "nocatalog" not in request.query_params
        response = Response(token_body(request, subject, with_catalog=with_catalog))
        response[SUBJECT] = request.headers.get(SUBJECT, "")
        return response

    @extend_schema(
        operation_id="tokenRevoke",
        tags=["identity"],
        summary="Revoke a token",
        parameters=[_SUBJECT_PARAM],
        responses=responses({204: None}, 401, 403, 404, style="keystone"),
    )
    def delete(self, request: Request) -> Response:
        _, subject = self._caller_and_subject(request)
        tokens.token_revoke(subject)
        return Response(status=204)
