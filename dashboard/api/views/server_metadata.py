"""``/v2.1/servers/{id}/metadata`` and ``/v2.1/servers/{id}/tags`` (2.26+), as Nova serves them:
bodies ``{"metadata": {…}}`` / ``{"meta": {key: value}}`` and ``{"tags": […]}``; writes go
through ``compute.services.server_metadata``, which holds Nova's state, lock and quota rules.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute.services import server_metadata as meta
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses
from dashboard.api.faults import APIFault
from dashboard.api.schemas import types as t
from dashboard.api.validation import validate

_DOC = {"parameters": [VERSION_HEADER], "tags": ["server metadata"]}
KEY = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[a-zA-Z0-9-_:. ]{1,255}$"}
METADATA = {
    "type": "object",
    "patternProperties": {r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}
METADATA_BODY = t.wrapped("metadata", METADATA)
META_BODY = t.wrapped(
    "meta",
    {**METADATA, "minProperties": 1, "maxProperties": 1},
)
TAGS_BODY = t.wrapped("tags", {"type": "array", "items": t.TAG, "maxItems": 50})


class ServerMetadata(ComputeView):
    @extend_schema(operation_id="serverMetadataList", summary="A server's metadata",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, server_id: str) -> Response:
        return Response(
            {"metadata": meta.metadata_get(context=self.context, instance_uuid=server_id)}
        )

    @extend_schema(operation_id="serverMetadataMerge", summary="Add or change metadata items",
                   request={"application/json": METADATA_BODY},
                   responses=compute_responses({200: None}, 403, 404, 409, 415), **_DOC)  # fmt: skip
    def post(self, request: Request, server_id: str) -> Response:
        return self._set(request, server_id, replace=False)

    @extend_schema(operation_id="serverMetadataReplace", summary="Replace all metadata",
                   request={"application/json": METADATA_BODY},
                   responses=compute_responses({200: None}, 403, 404, 409, 415), **_DOC)  # fmt: skip
    def put(self, request: Request, server_id: str) -> Response:
        return self._set(request, server_id, replace=True)

    def _set(self, request: Request, server_id: str, *, replace: bool) -> Response:
        validate(request.data, METADATA_BODY)
        after = meta.metadata_set(
            context=self.context,
            instance_uuid=server_id,
            metadata=request.data["metadata"],
            replace=replace,
        )
        return Response({"metadata": after})


class ServerMetadataItem(ComputeView):
    @extend_schema(operation_id="serverMetadataShow", summary="One metadata item",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, server_id: str, key: str) -> Response:
        items = meta.metadata_get(context=self.context, instance_uuid=server_id)
        if key not in items:
            raise APIFault(404, "Metadata item was not found")
        return Response({"meta": {key: items[key]}})

    @extend_schema(operation_id="serverMetadataSet", summary="Set one metadata item",
                   request={"application/json": META_BODY},
                   responses=compute_responses({200: None}, 403, 404, 409, 415), **_DOC)  # fmt: skip
    def put(self, request: Request, server_id: str, key: str) -> Response:
        body: Any = request.data
        given = body.get("meta") if isinstance(body, dict) else None
        if isinstance(given, dict) and len(given) > 1:
            raise APIFault(400, "Request body contains too many items")
        validate(body, META_BODY)
        if key not in body["meta"]:
            raise APIFault(400, "Request body and URI mismatch")
        meta.metadata_set(
            context=self.context, instance_uuid=server_id, metadata=body["meta"], replace=False
        )
        return Response({"meta": body["meta"]})

    @extend_schema(operation_id="serverMetadataDelete", summary="Delete one metadata item",
                   responses=compute_responses({204: None}, 404, 409), **_DOC)  # fmt: skip
    def delete(self, request: Request, server_id: str, key: str) -> Response:
        meta.metadata_delete(context=self.context, instance_uuid=server_id, key=key)
        return Response(status=204)


class TagsBase(ComputeView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.since("2.26"):
            raise APIFault(404, "The resource could not be found.")


class ServerTags(TagsBase):
    @extend_schema(operation_id="serverTagList", summary="A server's tags (2.26+)",
                   responses=compute_responses({200: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, server_id: str) -> Response:
        return Response({"tags": meta.tags_get(context=self.context, instance_uuid=server_id)})

    @extend_schema(operation_id="serverTagReplace", summary="Replace a server's tags (2.26+)",
                   request={"application/json": TAGS_BODY},
                   responses=compute_responses({200: None}, 404, 409, 415), **_DOC)  # fmt: skip
    def put(self, request: Request, server_id: str) -> Response:
        validate(request.data, TAGS_BODY)
        tags = meta.tags_set(
            context=self.context, instance_uuid=server_id, tags=request.data["tags"]
        )
        return Response({"tags": tags})

    @extend_schema(operation_id="serverTagDeleteAll", summary="Delete a server's tags (2.26+)",
                   responses=compute_responses({204: None}, 404, 409), **_DOC)  # fmt: skip
    def delete(self, request: Request, server_id: str) -> Response:
        meta.tags_set(context=self.context, instance_uuid=server_id, tags=[])
        return Response(status=204)


class ServerTag(TagsBase):
    @extend_schema(operation_id="serverTagCheck", summary="Whether a server has a tag (2.26+)",
                   responses=compute_responses({204: None}, 404), **_DOC)  # fmt: skip
    def get(self, request: Request, server_id: str, tag: str) -> Response:
        if tag not in meta.tags_get(context=self.context, instance_uuid=server_id):
            raise APIFault(404, f"Tag {tag} could not be found.")
        return Response(status=204)

    @extend_schema(operation_id="serverTagAdd", summary="Add a tag (2.26+)", request=None,
                   responses=compute_responses({201: None, 204: None}, 404, 409), **_DOC)  # fmt: skip
    def put(self, request: Request, server_id: str, tag: str) -> Response:
        validate(tag, t.TAG)
        added = meta.tag_add(context=self.context, instance_uuid=server_id, tag=tag)
        response = Response(status=201 if added else 204)
        response["Location"] = request.build_absolute_uri(request.path)
        return response

    @extend_schema(operation_id="serverTagDelete", summary="Delete a tag (2.26+)",
                   responses=compute_responses({204: None}, 404, 409), **_DOC)  # fmt: skip
    def delete(self, request: Request, server_id: str, tag: str) -> Response:
        meta.tag_delete(context=self.context, instance_uuid=server_id, tag=tag)
        return Response(status=204)
