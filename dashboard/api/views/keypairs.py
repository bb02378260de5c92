"""``/v2.1/os-keypairs``: Nova's key pair API per microversion (``type`` and 201/204 from 2.2,
another user's key pairs for admins from 2.10, paging from 2.35)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.models import KeyPair
from compute.services import keypairs
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, Latest, compute_responses
from dashboard.api.faults import APIFault
from dashboard.api.formats import naive
from dashboard.api.validation import validate

NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^(?! )[a-zA-Z0-9 _-]+(?<! )$",
}
_DOC = {"parameters": [VERSION_HEADER], "tags": ["key pairs"]}


def create_schema(view: ComputeView) -> dict[str, Any]:
    keypair: dict[str, Any] = {"name": NAME, "public_key": {"type": "string"}}
    if view.since("2.2"):
        keypair["type"] = {"type": "string", "enum": ["ssh", "x509"]}
    if view.since("2.10"):
        keypair["user_id"] = {"type": "string"}
    return {
        "type": "object",
        "properties": {
            "keypair": {
                "type": "object",
                "properties": keypair,
                "required": ["name"],
                "additionalProperties": False,
            }
        },
        "required": ["keypair"],
        "additionalProperties": False,
    }


class KeyPairsBase(ComputeView):
    def owner(self, request: Request, given: str | None = None) -> str:
        """Whose key pairs: the caller's, or (2.10+, admins) ``user_id``'s."""
        wanted = given
        if wanted is None and self.since("2.10"):
            wanted = request.query_params.get("user_id")
        mine = str(self.context.user_id)
        if wanted and wanted != mine:
            policy.authorize(self.context, "os_compute_api:os-keypairs:show")
            return wanted
        return mine

    def brief(self, keypair: KeyPair) -> dict[str, Any]:
        body = {
            "name": keypair.name,
            "public_key": keypair.public_key,
            "fingerprint": keypair.fingerprint,
        }
        if self.since("2.2"):
            body["type"] = keypair.type
        return body


class KeyPairList(KeyPairsBase):
    @extend_schema(operation_id="keypairList", summary="List key pairs",
                   responses=compute_responses({200: None}, 403), **_DOC)  # fmt: skip
    def get(self, request: Request) -> Response:
        rows = keypairs.keypair_list(user_id=self.owner(request))
        params = request.query_params
        links = False
        if self.since("2.35"):
            marker = params.get("marker")
            if marker is not None:
                names = [k.name for k in rows]
                if marker not in names:
                    raise APIFault(400, f"marker [{marker}] not found")
                rows = rows[names.index(marker) + 1 :]
            if "limit" in params:
                try:
                    limit = int(params["limit"])
                except ValueError:
                    raise APIFault(400, "limit param must be an integer") from None
                links = len(rows) > limit
                rows = rows[:limit]
        body: dict[str, Any] = {"keypairs": [{"keypair": self.brief(k)} for k in rows]}
        if links and rows:
            href = request.build_absolute_uri(request.path)
            body["keypairs_links"] = [
                {"rel": "next", "href": f"{href}?limit={len(rows)}&marker={rows[-1].name}"}
            ]
        return Response(body)

    @extend_schema(operation_id="keypairCreate", request={"application/json": create_schema(Latest())},
                    summary="Create or import a key pair",
                   responses=compute_responses({200: None, 201: None}, 403, 409, 415),
                   **_DOC)  # fmt: skip
    def post(self, request: Request) -> Response:
        validate(request.data, create_schema(self))
        given = request.data["keypair"]
        user_id = self.owner(request, given.get("user_id"))
        keypair, private = keypairs.keypair_create(
            user_id=user_id,
            project_id=self.context.project_id,
            name=given["name"],
            key_type=given.get("type", "ssh"),
            public_key=given.get("public_key"),
        )
        body = self.brief(keypair)
        body["user_id"] = keypair.user_id
        if private is not None:
            body["private_key"] = private
        return Response({"keypair": body}, status=201 if self.since("2.2") else 200)


class KeyPairItem(KeyPairsBase):
    @extend_schema(operation_id="keypairShow", summary="Show a key pair",
                   responses=compute_responses({200: None}, 403, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, name: str) -> Response:
        keypair = keypairs.keypair_get(user_id=self.owner(request), name=name)
        body = self.brief(keypair)
        body.update(
            {
                "user_id": keypair.user_id,
                "created_at": naive(keypair.created_at),
                "deleted": False,
                "deleted_at": None,
                "id": keypair.pk,
                "updated_at": None,
            }
        )
        return Response({"keypair": body})

    @extend_schema(operation_id="keypairDelete", summary="Delete a key pair",
                   responses=compute_responses({202: None, 204: None}, 403, 404),
                   **_DOC)  # fmt: skip
    def delete(self, request: Request, name: str) -> Response:
        keypairs.keypair_delete(user_id=self.owner(request), name=name)
        return Response(status=204 if self.since("2.2") else 202)
