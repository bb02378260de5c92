"""Identity v3's admin slice, enough for Keystone clients (and Tempest's dynamic credentials) to
make and remove projects and users and assign them roles: ``/domains`` (the one domain,
``Default``), ``/projects``, ``/users``, ``/roles`` and
``/projects/{p}/users/{u}/roles/{r}``. Admins only (a token whose project role is admin),
answered in Keystone's bodies and errors.

Roles are this dashboard's: ``admin``, ``manager`` and ``member`` (Keystone's default chain:
admin implies manager implies member); ``reader`` is listed because Keystone's member implies
it, and assigning it gives a member's rights (there is no read-only role here). A user keeps the
highest role assigned on a project.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute.models import Membership, Project, Role
from dashboard.api.docs.refs import responses
from dashboard.api.faults import APIFault
from dashboard.api.identity import tokens
from dashboard.api.identity.views import IdentityView
from dashboard.context import context_for

DOMAIN = {"id": tokens.DOMAIN_ID, "name": tokens.DOMAIN_NAME}
#: Role name → (id, the membership role it grants).
ROLES: dict[str, tuple[str, str]] = {
    name: (uuid.uuid5(uuid.NAMESPACE_URL, f"vmdash:role:{name}").hex, granted)
    for name, granted in (
        ("admin", Role.ADMIN),
        ("manager", Role.MANAGER),
        ("member", Role.MEMBER),
        ("reader", Role.MEMBER),
    )
}
_DOC: dict[str, Any] = {"tags": ["identity"]}
#: Keystone's bodies as documented (the views read only the fields listed).
PROJECT_BODY = {
    "type": "object",
    "properties": {
        "project": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": {"type": "string"},
                "domain_id": {"type": "string", "enum": [tokens.DOMAIN_ID]},
            },
            "required": ["name"],
        }
    },
    "required": ["project"],
}
USER_BODY = {
    "type": "object",
    "properties": {
        "user": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 150},
                "password": {"type": "string"},
                "email": {"type": "string"},
                "default_project_id": {"type": "string"},
                "domain_id": {"type": "string", "enum": [tokens.DOMAIN_ID]},
            },
            "required": ["name"],
        }
    },
    "required": ["user"],
}


def _not_found(kind: str, ident: str) -> APIFault:
    return APIFault(404, f"Could not find {kind}: {ident}.")


class IdentityAdminView(IdentityView):
    """Authenticated by ``X-Auth-Token``; the caller must be an admin."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        try:
            caller = tokens.token_check(request.headers.get("X-Auth-Token"))
        except APIFault:
            raise tokens.Unauthorized() from None
        try:
            admin = (
                caller.project_id is not None
                and context_for(
                    caller.user, project_id=caller.project_id, token_scoped=True
                ).is_admin
            )
        except PermissionError:
            admin = False
        if not admin:
            raise APIFault(403, "You are not authorized to perform the requested action.")

    def link(self, kind: str, ident: str) -> dict[str, str]:
        return {"self": self.request.build_absolute_uri(f"/identity/v3/{kind}/{ident}")}


def domain_body(view: IdentityAdminView) -> dict[str, Any]:
    return {
        **DOMAIN,
        "description": "The default domain",
        "enabled": True,
        "tags": [],
        "options": {},
        "links": view.link("domains", tokens.DOMAIN_ID),
    }


class Domains(IdentityAdminView):
    @extend_schema(operation_id="identityDomainList", summary="Domains (only Default)",
                   responses=responses({200: None}, 401, 403, style="keystone"), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        name = request.query_params.get("name")
        found = [] if name not in (None, tokens.DOMAIN_NAME) else [domain_body(self)]
        return Response({"domains": found, "links": {"self": request.build_absolute_uri()}})


class DomainItem(IdentityAdminView):
    @extend_schema(operation_id="identityDomainShow", summary="A domain",
                   responses=responses({200: None}, 401, 403, 404, style="keystone"), **_DOC)  # fmt: skip
    def get(self, request: Request, domain_id: str) -> Response:
        if domain_id != tokens.DOMAIN_ID:
            raise _not_found("domain", domain_id)
        return Response({"domain": domain_body(self)})


def project_body(view: IdentityAdminView, project: Project) -> dict[str, Any]:
    return {
        "id": project.pk,
        "name": project.name,
        "description": project.description,
        "domain_id": tokens.DOMAIN_ID,
        "parent_id": tokens.DOMAIN_ID,
        "is_domain": False,
        "enabled": True,
        "tags": [],
        "options": {},
        "links": view.link("projects", project.pk),
    }


class Projects(IdentityAdminView):
    @extend_schema(operation_id="identityProjectList", summary="Projects (admin)",
                   responses=responses({200: None}, 401, 403, style="keystone"), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        rows = Project.objects.order_by("name")
        if "name" in request.query_params:
            rows = rows.filter(name=request.query_params["name"])
        return Response(
            {
                "projects": [project_body(self, p) for p in rows],
                "links": {"self": request.build_absolute_uri()},
            }
        )

    @extend_schema(operation_id="identityProjectCreate", summary="Create a project (admin)",
                   request={"application/json": PROJECT_BODY},
                   responses=responses({201: None}, 400, 401, 403, 409, style="keystone"),
                   **_DOC)  # fmt: skip
    def post(self, request: Request) -> Response:
        given = request.data.get("project") if isinstance(request.data, dict) else None
        if not isinstance(given, dict) or not given.get("name"):
            raise APIFault(400, "Invalid input for field 'name': it is required.")
        if given.get("domain_id", tokens.DOMAIN_ID) != tokens.DOMAIN_ID:
            raise _not_found("domain", str(given["domain_id"]))
        try:
            with transaction.atomic():
                project = Project.objects.create(
                    name=str(given["name"]), description=str(given.get("description") or "")
                )
        except IntegrityError:
            raise APIFault(
                409,
                f"Conflict occurred attempting to store project - Duplicate entry {given['name']}.",
            ) from None
        return Response({"project": project_body(self, project)}, status=201)


class ProjectItem(IdentityAdminView):
    def project(self, project_id: str) -> Project:
        found = Project.objects.filter(pk=project_id).first()
        if found is None:
            raise _not_found("project", project_id)
        return found

    @extend_schema(operation_id="identityProjectShow", summary="A project (admin)",
                   responses=responses({200: None}, 401, 403, 404, style="keystone"), **_DOC)  # fmt: skip
    def get(self, request: Request, project_id: str) -> Response:
        return Response({"project": project_body(self, self.project(project_id))})

    @extend_schema(operation_id="identityProjectDelete", summary="Delete a project (admin)",
                   responses=responses({204: None}, 401, 403, 404, style="keystone"),
                   **_DOC)  # fmt: skip
    def delete(self, request: Request, project_id: str) -> Response:
        project = self.project(project_id)
        with transaction.atomic():
            Membership.objects.filter(project=project).delete()
            try:
                with transaction.atomic():
                    project.delete()
            except (IntegrityError, ProtectedError):
                # Servers (live or deleted) and their records still name it, as Nova's do a
                # deleted Keystone project: nobody can log in to it, and its name is free.
                Project.objects.filter(pk=project.pk).update(name=f"deleted-{project.pk}")
        return Response(status=204)


def user_body(view: IdentityAdminView, user: Any) -> dict[str, Any]:
    return {
        "id": str(user.pk),
        "name": user.username,
        "domain_id": tokens.DOMAIN_ID,
        "enabled": bool(user.is_active),
        "email": user.email or None,
        "password_expires_at": None,
        "options": {},
        "links": view.link("users", str(user.pk)),
    }


class Users(IdentityAdminView):
    @extend_schema(operation_id="identityUserList", summary="Users (admin)",
                   responses=responses({200: None}, 401, 403, style="keystone"), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        rows = get_user_model().objects.order_by("username")
        if "name" in request.query_params:
            rows = rows.filter(username=request.query_params["name"])
        return Response(
            {
                "users": [user_body(self, u) for u in rows],
                "links": {"self": request.build_absolute_uri()},
            }
        )

    @extend_schema(operation_id="identityUserCreate", summary="Create a user (admin)",
                   request={"application/json": USER_BODY},
                   responses=responses({201: None}, 400, 401, 403, 409, style="keystone"),
                   **_DOC)  # fmt: skip
    def post(self, request: Request) -> Response:
        given = request.data.get("user") if isinstance(request.data, dict) else None
        if not isinstance(given, dict) or not given.get("name"):
            raise APIFault(400, "Invalid input for field 'name': it is required.")
        User = get_user_model()
        try:
            with transaction.atomic():
                user = User.objects.create(
                    username=str(given["name"]), email=str(given.get("email") or "")
                )
                if given.get("password"):
                    user.set_password(str(given["password"]))
                else:
                    user.set_unusable_password()
                user.save(update_fields=["password"])
                default = given.get("default_project_id") or given.get("project_id")
                if default and Project.objects.filter(pk=default).exists():
                    Membership.objects.get_or_create(
                        user=user, project_id=default, defaults={"role": Role.MEMBER}
                    )
        except IntegrityError:
            raise APIFault(
                409,
                f"Conflict occurred attempting to store user - Duplicate entry {given['name']}.",
            ) from None
        return Response({"user": user_body(self, user)}, status=201)


class UserItem(IdentityAdminView):
    def user(self, user_id: str) -> Any:
        found = (
            get_user_model().objects.filter(pk=int(user_id)).first()
            if re.fullmatch(r"[0-9]{1,18}", user_id)
            else None
        )
        if found is None:
            raise _not_found("user", user_id)
        return found

    @extend_schema(operation_id="identityUserShow", summary="A user (admin)",
                   responses=responses({200: None}, 401, 403, 404, style="keystone"), **_DOC)  # fmt: skip
    def get(self, request: Request, user_id: str) -> Response:
        return Response({"user": user_body(self, self.user(user_id))})

    @extend_schema(operation_id="identityUserDelete", summary="Delete a user (admin)",
                   responses=responses({204: None}, 401, 403, 404, style="keystone"), **_DOC)  # fmt: skip
    def delete(self, request: Request, user_id: str) -> Response:
        user = self.user(user_id)
        # Keep the user's records (servers, actions name them): disable and forget the login.
        with transaction.atomic():
            Membership.objects.filter(user=user).delete()
            user.is_active = False
            user.username = f"deleted-{user.pk}-{uuid.uuid4().hex[:8]}"
            user.set_unusable_password()
            user.save()
        return Response(status=204)


def role_body(view: IdentityAdminView, name: str) -> dict[str, Any]:
    ident = ROLES[name][0]
    return {
        "id": ident,
        "name": name,
        "domain_id": None,
        "description": None,
        "options": {},
        "links": view.link("roles", ident),
    }


class Roles(IdentityAdminView):
    @extend_schema(operation_id="identityRoleList", summary="Roles (admin)",
                   responses=responses({200: None}, 401, 403, style="keystone"), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        names = [n for n in ROLES if request.query_params.get("name", n) == n]
        return Response(
            {
                "roles": [role_body(self, n) for n in names],
                "links": {"self": request.build_absolute_uri()},
            }
        )


class RoleAssignment(IdentityAdminView):
    """``/projects/{p}/users/{u}/roles/{r}``: grant (PUT), check (HEAD/GET), revoke (DELETE)."""

    def parts(self, project_id: str, user_id: str, role_id: str) -> tuple[Project, Any, str]:
        project = ProjectItem.project(self, project_id)  # type: ignore[arg-type]
        user = UserItem.user(self, user_id)  # type: ignore[arg-type]
        name = next((n for n, (ident, _) in ROLES.items() if ident == role_id), None)
        if name is None:
            raise _not_found("role", role_id)
        return project, user, name

    @extend_schema(operation_id="identityRoleGrant", summary="Grant a role on a project",
                   request=None,
                   responses=responses({204: None}, 401, 403, 404, style="keystone"), **_DOC)  # fmt: skip
    def put(self, request: Request, project_id: str, user_id: str, role_id: str) -> Response:
        project, user, name = self.parts(project_id, user_id, role_id)
        granted = ROLES[name][1]
        with transaction.atomic():
            membership, created = Membership.objects.get_or_create(
                user=user, project=project, defaults={"role": granted}
            )
            if not created and not Role(membership.role).implies(granted):
                membership.role = granted
                membership.save(update_fields=["role"])
        return Response(status=204)

    @extend_schema(operation_id="identityRoleCheck", summary="Whether a role is granted",
                   responses=responses({204: None}, 401, 403, 404, style="keystone"), **_DOC)  # fmt: skip
    def get(self, request: Request, project_id: str, user_id: str, role_id: str) -> Response:
        project, user, name = self.parts(project_id, user_id, role_id)
        role = (
            Membership.objects.filter(user=user, project=project)
            .values_list("role", flat=True)
            .first()
        )
        if role is None or name not in tokens.IMPLIED_ROLES.get(role, ()):
            raise _not_found("role assignment", role_id)
        return Response(status=204)

    @extend_schema(operation_id="identityRoleRevoke", summary="Revoke a role on a project",
                   responses=responses({204: None}, 401, 403, 404, style="keystone"), **_DOC)  # fmt: skip
    def delete(self, request: Request, project_id: str, user_id: str, role_id: str) -> Response:
        project, user, _ = self.parts(project_id, user_id, role_id)
        Membership.objects.filter(user=user, project=project).delete()
        return Response(status=204)
