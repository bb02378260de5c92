"""Images, two ways: Nova's image proxy (``/v2.1/images``, gone from 2.36 as in Nova) and the
sliver of Glance v2 (``/image/v2/images``) that stock clients call to show image names.

Both read ``compute.catalog``: the public catalogue plus the caller's projects' snapshots.
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

from compute.catalog import image_get, image_list
from compute.models import Image
from dashboard.api import formats
from dashboard.api.base import AuthenticatedView, ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses, ref, responses
from dashboard.api.faults import APIFault
from dashboard.api.queries import MAX_LIMIT

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
            "metadata": dict(image.metadata or {}),
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
        if "server" in params:
            rows = [i for i in rows if i.server and str(i.server.uuid) == params["server"]]
        if "type" in params:
            rows = [i for i in rows if (i.metadata or {}).get("image_type") == params["type"]]
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
        body = {
            **{str(k): v for k, v in (image.metadata or {}).items()},
            "id": ident,
            "name": image.name,
            "status": image.status,
            "visibility": "private" if image.server_id else "public",
            "protected": False,
            "os_hidden": False,
            "checksum": None,
            "os_hash_algo": None,
            "os_hash_value": None,
            "owner": image.server.project_id if image.server is not None else None,
            "size": image.size,
            "virtual_size": None,
            "min_ram": image.min_ram,
            "min_disk": image.min_disk,
            "disk_format": "qcow2",
            "container_format": "bare",
            "created_at": formats.isotime(image.created_at),
            "updated_at": formats.isotime(image.updated_at),
            "tags": [],
            "self": f"/v2/images/{ident}",
            "file": f"/v2/images/{ident}/file",
            "schema": "/v2/schemas/image",
        }
        if image.server is not None:
            body["instance_uuid"] = str(image.server.uuid)
        return body


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
