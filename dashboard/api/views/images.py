"""Images, two ways: Nova's image proxy (``/v2.1/images``, gone from 2.36 as in Nova) and the
sliver of Glance v2 (``/image/v2/images``) that stock clients call to show image names.

Both read ``compute.selectors.catalog``: the public catalogue plus the caller's projects' snapshots.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from compute.exceptions import NotFound
from compute.models import Image
from compute.selectors.catalog import image_get, image_list
from compute.services import glance, quotas
from dashboard.api import formats
from dashboard.api.base import AuthenticatedView, ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses, ref, responses
from dashboard.api.faults import APIFault
from dashboard.api.queries import MAX_LIMIT
from dashboard.api.schemas import types as t
from dashboard.api.validation import validate

IMAGE_ID = OpenApiParameter("image_id", str, OpenApiParameter.PATH)
NOVA_STATUS = {"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING", "deleted": "DELETED"}
NOVA_PROGRESS = {"queued": 25, "saving": 50, "active": 100}
GLANCE_DEFAULT_LIMIT = 25


def _limit(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        limit = int(value)
    except ValueError:
        raise APIFault(400, "limit param must be an integer") from None
    if limit < 0:
        raise APIFault(400, "limit param must be positive")
    return min(limit, MAX_LIMIT)


def _after(rows: list[Image], marker: str | None) -> list[Image]:
    if marker is None:
        return rows
    ids = [str(i.pk) for i in rows]
    if marker not in ids:
        raise APIFault(400, f"marker [{marker}] not found")
    return rows[ids.index(marker) + 1 :]


# --- Nova's image proxy ---------------------------------------------------------------------
class NovaImagesBase(ComputeView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.since("2.36"):
            raise APIFault(404, f"API version {self.version} is not supported on this method.")

    def brief(self, image: Image) -> dict[str, Any]:
        ident = str(image.pk)
        compute = self.request.build_absolute_uri(reverse("compute-version"))
        root = self.request.build_absolute_uri(reverse("api-root"))
        glance = self.request.build_absolute_uri(reverse("image-versions"))
        return {
            "id": ident,
            "name": image.name,
            "links": [
                {"rel": "self", "href": f"{compute}images/{ident}"},
                {"rel": "bookmark", "href": f"{root}images/{ident}"},
                {
                    "rel": "alternate",
                    "type": "application/vnd.openstack.image",
                    "href": f"{glance}images/{ident}",
                },
            ],
        }

    def detail(self, image: Image) -> dict[str, Any]:
        body = {
            **self.brief(image),
            "status": NOVA_STATUS.get(image.status, "UNKNOWN"),
            "progress": NOVA_PROGRESS.get(image.status, 0),
            "minDisk": image.min_disk,
            "minRam": image.min_ram,
            "created": formats.isotime(image.created_at),
            "updated": formats.isotime(image.updated_at),
            "metadata": glance.custom_properties(image),
            "OS-EXT-IMG-SIZE:size": image.size,
        }
        if image.server is not None:
            ident = str(image.server.uuid)
            compute = self.request.build_absolute_uri(reverse("compute-version"))
            body["server"] = {
                "id": ident,
                "links": [{"rel": "self", "href": f"{compute}servers/{ident}"}],
            }
        return body

    def listing(self, request: Request, *, detail: bool) -> Response:
        params = request.query_params
        rows = list(image_list(context=self.context))
        if "name" in params:
            rows = [i for i in rows if i.name == params["name"]]
        if "status" in params:
            rows = [i for i in rows if NOVA_STATUS.get(i.status) == params["status"].upper()]
        if "server" in params:  # an id or a server's URL, as Nova takes it
            server = params["server"].rstrip("/").rsplit("/", 1)[-1]
            rows = [i for i in rows if i.server and str(i.server.uuid) == server]
        if "type" in params:
            wanted = params["type"]
            rows = [
                i
                for i in rows
                if (i.metadata or {}).get("image_type", "snapshot" if i.server_id else "image")
                == wanted
            ]
        for name, column in (("minRam", "min_ram"), ("minDisk", "min_disk")):
            if name in params:
                floor = _limit(params[name], 0)
                rows = [i for i in rows if getattr(i, column) >= floor]
        limit = _limit(params.get("limit"), MAX_LIMIT)
        page = _after(rows, params.get("marker"))[:limit]
        show = self.detail if detail else self.brief
        body: dict[str, Any] = {"images": [show(i) for i in page]}
        if limit and len(page) == limit:
            href = (
                request.build_absolute_uri(request.path)
                + "?"
                + urlencode({**params.dict(), "marker": str(page[-1].pk)})
            )
            body["images_links"] = [{"rel": "next", "href": href}]
        return Response(body)


_NOVA_LIST_PARAMS = [VERSION_HEADER] + [
    OpenApiParameter(n, str)
    for n in ("name", "status", "server", "type", "minRam", "minDisk", "limit", "marker")
]


class NovaImageList(NovaImagesBase):
    @extend_schema(
        operation_id="novaImageList",
        tags=["images"],
        summary="List images (Nova's image proxy, before 2.36)",
        parameters=_NOVA_LIST_PARAMS,
        responses=compute_responses({200: ref("NovaImageIndex")}, 404),
    )
    def get(self, request: Request) -> Response:
        return self.listing(request, detail=False)


class NovaImageCollection(NovaImageList):
    """``/v2.1/images``: GET lists; a DELETE without an id names no image (Nova's 404)."""

    @extend_schema(
        operation_id="novaImageDeleteNoId",
        tags=["images"],
        summary="Delete with no image id: 404, as Nova (before 2.36)",
        parameters=[VERSION_HEADER],
        responses=compute_responses({}, 404),
    )
    def delete(self, request: Request) -> Response:
        raise APIFault(404, "Image not found.")


class NovaImageDetailList(NovaImagesBase):
    @extend_schema(
        operation_id="novaImageListDetail",
        tags=["images"],
        summary="List images with details (Nova's image proxy, before 2.36)",
        parameters=_NOVA_LIST_PARAMS,
        responses=compute_responses({200: ref("NovaImageDetailList")}, 404),
    )
    def get(self, request: Request) -> Response:
        return self.listing(request, detail=True)


class NovaImage(NovaImagesBase):
    @extend_schema(
        operation_id="novaImageShow",
        tags=["images"],
        summary="Show an image (Nova's image proxy, before 2.36)",
        parameters=[IMAGE_ID, VERSION_HEADER],
        responses=compute_responses({200: ref("NovaImageShow")}, 404),
    )
    def get(self, request: Request, image_id: str) -> Response:
        return Response({"image": self.detail(image_get(context=self.context, image_id=image_id))})

    @extend_schema(
        operation_id="novaImageDelete",
        tags=["images"],
        summary="Delete an image (Nova's image proxy, before 2.36)",
        parameters=[IMAGE_ID, VERSION_HEADER],
        responses=compute_responses({204: None}, 403, 404),
    )
    def delete(self, request: Request, image_id: str) -> Response:
        image = image_get(context=self.context, image_id=image_id)
        glance.image_delete(context=self.context, image=image)
        return Response(status=204)


_META_KEY = r"^[a-zA-Z0-9-_:. ]{1,255}$"
_METADATA = {
    "type": "object",
    "patternProperties": {_META_KEY: {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}
METADATA_BODY = t.wrapped("metadata", _METADATA)
META_BODY = t.wrapped("meta", {**_METADATA, "minProperties": 1, "maxProperties": 1})


class NovaImageMetadataBase(ComputeView):
    """``/v2.1/images/{id}/metadata`` (before 2.39): the image's custom properties."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.since("2.39"):
            raise APIFault(404, f"API version {self.version} is not supported on this method.")

    def image(self, image_id: str) -> Image:
        try:
            return image_get(context=self.context, image_id=image_id)
        except NotFound:
            raise APIFault(404, "Image not found.") from None

    def check_quota(self, count: int) -> None:
        if self.context.project_id is None:
            return
        limit = quotas.project_limits(self.context.project_id)["metadata_items"]
        if 0 <= limit < count:
            raise APIFault(403, f"Maximum number of metadata items exceeds {limit}")


class NovaImageMetadata(NovaImageMetadataBase):
    @extend_schema(operation_id="novaImageMetadataList", tags=["images"],
                   summary="An image's metadata (before 2.39)",
                   parameters=[IMAGE_ID, VERSION_HEADER],
                   responses=compute_responses({200: None}, 404))  # fmt: skip
    def get(self, request: Request, image_id: str) -> Response:
        return Response({"metadata": glance.custom_properties(self.image(image_id))})

    @extend_schema(operation_id="novaImageMetadataMerge", tags=["images"],
                   summary="Add or change an image's metadata (before 2.39)",
                   parameters=[IMAGE_ID, VERSION_HEADER],
                   request={"application/json": METADATA_BODY},
                   responses=compute_responses({200: None}, 403, 404, 415))  # fmt: skip
    def post(self, request: Request, image_id: str) -> Response:
        image = self.image(image_id)
        validate(request.data, METADATA_BODY)
        given = request.data["metadata"]
        self.check_quota(len({**glance.custom_properties(image), **given}))
        merged = glance.image_properties_set(
            context=self.context, image=image, values=given, replace=False
        )
        return Response({"metadata": merged})

    @extend_schema(operation_id="novaImageMetadataReplace", tags=["images"],
                   summary="Replace an image's metadata (before 2.39)",
                   parameters=[IMAGE_ID, VERSION_HEADER],
                   request={"application/json": METADATA_BODY},
                   responses=compute_responses({200: None}, 403, 404, 415))  # fmt: skip
    def put(self, request: Request, image_id: str) -> Response:
        image = self.image(image_id)
        validate(request.data, METADATA_BODY)
        self.check_quota(len(request.data["metadata"]))
        replaced = glance.image_properties_set(
            context=self.context, image=image, values=request.data["metadata"], replace=True
        )
        return Response({"metadata": replaced})


class NovaImageMetadataItem(NovaImageMetadataBase):
    @extend_schema(operation_id="novaImageMetadataShow", tags=["images"],
                   summary="One metadata item of an image (before 2.39)",
                   parameters=[IMAGE_ID, VERSION_HEADER],
                   responses=compute_responses({200: None}, 404))  # fmt: skip
    def get(self, request: Request, image_id: str, key: str) -> Response:
        custom = glance.custom_properties(self.image(image_id))
        if key not in custom:
            raise APIFault(404, "Image not found.")
        return Response({"meta": {key: custom[key]}})

    @extend_schema(operation_id="novaImageMetadataSet", tags=["images"],
                   summary="Set one metadata item of an image (before 2.39)",
                   parameters=[IMAGE_ID, VERSION_HEADER],
                   request={"application/json": META_BODY},
                   responses=compute_responses({200: None}, 403, 404, 415))  # fmt: skip
    def put(self, request: Request, image_id: str, key: str) -> Response:
        image = self.image(image_id)
        body: Any = request.data
        given = body.get("meta") if isinstance(body, dict) else None
        if isinstance(given, dict) and len(given) > 1:
            raise APIFault(400, "Request body contains too many items")
        validate(body, META_BODY)
        if key not in body["meta"]:
            raise APIFault(400, "Request body and URI mismatch")
        self.check_quota(len({**glance.custom_properties(image), **body["meta"]}))
        glance.image_properties_set(
            context=self.context, image=image, values=body["meta"], replace=False
        )
        return Response({"meta": body["meta"]})

    @extend_schema(operation_id="novaImageMetadataDelete", tags=["images"],
                   summary="Delete one metadata item of an image (before 2.39)",
                   parameters=[IMAGE_ID, VERSION_HEADER],
                   responses=compute_responses({204: None}, 403, 404))  # fmt: skip
    def delete(self, request: Request, image_id: str, key: str) -> Response:
        image = self.image(image_id)
        glance.image_property_delete(context=self.context, image=image, key=key)
        return Response(status=204)


# --- Glance v2 ------------------------------------------------------------------------------
class GlanceVersions(AuthenticatedView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="imageVersions",
        tags=["image service"],
        summary="Image service versions",
        auth=[],
        responses={300: ref("GlanceVersions")},
    )
    def get(self, request: Request) -> Response:
        href = request.build_absolute_uri(reverse("glance-images")).rsplit("images", 1)[0]
        version = {"id": "v2.16", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}
        return Response({"versions": [version]}, status=300)


class GlanceBase(AuthenticatedView):
    """Glance answers without microversions; errors keep the Nova fault shape."""

    renderer_classes = [JSONRenderer]

    def glance(self, image: Image) -> dict[str, Any]:
        ident = str(image.pk)
        meta = image.metadata or {}
        body = {
            **{str(k): v for k, v in glance.custom_properties(image).items()},
            "id": ident,
            "name": image.name or None,
            "status": image.status,
            "visibility": meta.get("visibility") or ("private" if image.server_id else "public"),
            "protected": bool(meta.get("protected", False)),
            "os_hidden": False,
            "checksum": image.checksum,
            "os_hash_algo": "sha512" if image.os_hash_value else None,
            "os_hash_value": image.os_hash_value,
            "owner": glance.image_owner(image),
            "size": image.size if image.status != Image.Status.QUEUED else None,
            "virtual_size": image.virtual_size,
            "min_ram": image.min_ram,
            "min_disk": image.min_disk,
            "disk_format": image.disk_format or ("qcow2" if not meta.get("owner") else None),
            "container_format": image.container_format
            or ("bare" if not meta.get("owner") else None),
            "created_at": formats.isotime(image.created_at),
            "updated_at": formats.isotime(image.updated_at),
            "tags": list(meta.get("tags") or []),
            "self": f"/v2/images/{ident}",
            "file": f"/v2/images/{ident}/file",
            "schema": "/v2/schemas/image",
        }
        if image.server is not None:
            body["instance_uuid"] = str(image.server.uuid)
        return body


#: The list's own parameters; any other is an image property to match.
GLANCE_LIST_PARAMS = frozenset({"id", "name", "status", "visibility", "owner", "limit", "marker",
                                "sort_key", "sort_dir", "sort", "member_status", "tag"})  # fmt: skip
#: Glance's sortable attributes and the image column each reads.
GLANCE_SORT_KEYS = {"created_at": "created_at", "updated_at": "updated_at", "name": "name",
                    "id": "pk", "size": "size", "min_disk": "min_disk", "min_ram": "min_ram",
                    "status": "status"}  # fmt: skip


def _has_properties(body: dict[str, Any], wanted: dict[str, str]) -> bool:
    return all(k in body and str(body[k]) == v for k, v in wanted.items())


def _glance_sorted(rows: list[Image], params: Any) -> list[Image]:
    """``sort_key``/``sort_dir`` (Glance's defaults: created_at, desc), when asked for."""
    if "sort_key" not in params and "sort_dir" not in params:
        return rows
    key, direction = params.get("sort_key", "created_at"), params.get("sort_dir", "desc")
    if key not in GLANCE_SORT_KEYS:
        raise APIFault(400, f"Invalid sort key: {key}.")
    if direction not in ("asc", "desc"):
        raise APIFault(400, f"Invalid sort direction: {direction}")
    column = GLANCE_SORT_KEYS[key]

    def order(image: Image) -> tuple[bool, Any, Any]:
        value = getattr(image, column)
        return (value is None, value if value is not None else "", image.pk)

    return sorted(rows, key=order, reverse=direction == "desc")


def _in(value: str) -> list[str]:
    return value[3:].split(",") if value.startswith("in:") else [value]


class GlanceImageList(GlanceBase):
    @extend_schema(
        operation_id="glanceImageList",
        tags=["image service"],
        summary="List images (Glance v2)",
        parameters=[
            OpenApiParameter(n, str)
            for n in ("id", "name", "status", "visibility", "owner", "limit", "marker")
        ],
        responses=responses({200: ref("GlanceImageList")}, 400, 401),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        rows = list(
            image_list(context=self.context, ids=_in(params["id"]) if "id" in params else ())
        )
        for key in ("name", "status", "visibility", "owner"):
            if key in params:
                wanted = set(_in(params[key]))
                rows = [i for i in rows if str(self.glance(i)[key]) in wanted]
        # Any other parameter is an image property, matched exactly (Glance's additional
        # properties: ``image_type=backup&backup_type=daily&instance_uuid=…``).
        properties = {k: v for k, v in params.items() if k not in GLANCE_LIST_PARAMS}
        if properties:
            rows = [i for i in rows if _has_properties(self.glance(i), properties)]
        rows = _glance_sorted(rows, params)
        limit = _limit(params.get("limit"), GLANCE_DEFAULT_LIMIT)
        page = _after(rows, params.get("marker"))[:limit]
        body: dict[str, Any] = {
            "images": [self.glance(i) for i in page],
            "first": "/v2/images",
            "schema": "/v2/schemas/images",
        }
        if limit and len(page) == limit:
            query = urlencode({**params.dict(), "marker": str(page[-1].pk)})
            body["next"] = f"/v2/images?{query}"
        return Response(body)


GLANCE_CREATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": ["string", "null"], "maxLength": 255},
        "visibility": {"type": "string", "enum": ["public", "private", "shared", "community"]},
        "protected": {"type": "boolean"},
        "os_hidden": {"type": "boolean"},
        "container_format": {
            "type": ["string", "null"],
            "enum": [None, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"],
        },
        "disk_format": {
            "type": ["string", "null"],
            "enum": [None, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi",
                     "iso", "ploop"],
        },
        "min_ram": {"type": "integer", "minimum": 0},
        "min_disk": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
    },
}  # fmt: skip
#: Read-only attributes a create may not set (Glance answers 403 for them).
GLANCE_READ_ONLY = ("status", "checksum", "size", "virtual_size", "created_at", "updated_at",
                    "owner", "direct_url", "self", "file", "schema", "os_hash_algo",
                    "os_hash_value", "locations")  # fmt: skip


class GlanceImageCreate(GlanceImageList):
    @extend_schema(
        operation_id="glanceImageCreate",
        tags=["image service"],
        summary="Create an image record (Glance v2); its data comes with PUT …/file",
        request={"application/json": GLANCE_CREATE},
        responses=responses({201: ref("GlanceImage")}, 400, 401, 403, 409, 415),
    )
    def post(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict):
            raise APIFault(400, "Malformed request body")
        for name in GLANCE_READ_ONLY:
            if name in body:
                raise APIFault(403, f"Attribute '{name}' is read-only.")
        validate(body, GLANCE_CREATE)
        known = set(GLANCE_CREATE["properties"])
        image = glance.image_create(
            context=self.context,
            name=body.get("name"),
            image_id=body.get("id"),
            disk_format=body.get("disk_format"),
            container_format=body.get("container_format"),
            visibility=body.get("visibility", "shared"),
            min_disk=body.get("min_disk", 0),
            min_ram=body.get("min_ram", 0),
            protected=body.get("protected", False),
            tags=body.get("tags"),
            properties={k: v for k, v in body.items() if k not in known},
        )
        response = Response(self.glance(image), status=201)
        response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{image.pk}")
        return response


class GlanceImage(GlanceBase):
    @extend_schema(
        operation_id="glanceImageShow",
        tags=["image service"],
        summary="Show an image (Glance v2)",
        parameters=[IMAGE_ID],
        responses=responses({200: ref("GlanceImage")}, 401, 404),
    )
    def get(self, request: Request, image_id: str) -> Response:
        return Response(self.glance(image_get(context=self.context, image_id=image_id)))

    @extend_schema(
        operation_id="glanceImageDelete",
        tags=["image service"],
        summary="Delete an image (Glance v2)",
        parameters=[IMAGE_ID],
        responses=responses({204: None}, 401, 403, 404),
    )
    def delete(self, request: Request, image_id: str) -> Response:
        image = image_get(context=self.context, image_id=image_id)
        glance.image_delete(context=self.context, image=image)
        return Response(status=204)


class GlanceImageTasks(GlanceBase):
    """``/image/v2/images/{id}/tasks`` (Glance 2.12+): the import tasks of an image; images are
    never imported through tasks here, so the list is empty."""

    @extend_schema(
        operation_id="glanceImageTasks",
        tags=["image service"],
        summary="An image's tasks (Glance v2): always none here",
        parameters=[IMAGE_ID],
        responses=responses({200: None}, 401, 404),
    )
    def get(self, request: Request, image_id: str) -> Response:
        image_get(context=self.context, image_id=image_id)
        return Response({"tasks": []})
