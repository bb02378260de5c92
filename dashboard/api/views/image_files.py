"""Glance v2's image data: ``PUT`` and ``GET /image/v2/images/{image_id}/file``.

``openstack image create --file F`` creates a queued image and then PUTs its bytes here; the
image store (``compute.image_store``) writes them under ``IMAGE_DIR``, probes the format and
makes the image active with its size and checksums. The bytes are read from the request in
chunks, never held whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpRequest, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from compute.image_store import CHUNK, image_path, image_store_file
from compute.models import Image
from compute.selectors.catalog import image_get
from dashboard.api.base import AuthenticatedView
from dashboard.api.faults import APIFault

IMAGE_ID = OpenApiParameter("image_id", str, OpenApiParameter.PATH)


def _chunks(request: HttpRequest) -> Iterator[bytes]:
    while chunk := request.read(CHUNK):
        yield chunk


class GlanceImageFile(AuthenticatedView):
    renderer_classes = [JSONRenderer]

    def _image(self, image_id: str, *, write: bool) -> Image:
        image = image_get(context=self.context, image_id=image_id)
        if write and not self.context.is_admin:
            owner = image.server.project_id if image.server is not None else None
            owner = getattr(image, "owner", None) or owner
            if owner is None or owner not in self.context.project_ids:
                raise APIFault(403, "You are not authorized to complete upload action.")
        return image

    @extend_schema(
        operation_id="glanceImageUpload",
        tags=["image service"],
        summary="Upload an image's data (Glance v2)",
        parameters=[IMAGE_ID],
        request={"application/octet-stream": bytes},
        responses={
            204: OpenApiResponse(description="Stored: the image is active"),
            400: OpenApiResponse(description="Not a qcow2 or raw disk image"),
            403: OpenApiResponse(description="Not the image's owner"),
            404: OpenApiResponse(description="No such image"),
            409: OpenApiResponse(description="The image already has data"),
        },
    )
    def put(self, request: Request, image_id: str) -> Response:
        image = self._image(image_id, write=True)
        image_store_file(image, chunks=_chunks(request._request))
        return Response(status=204)

    @extend_schema(
        operation_id="glanceImageDownload",
        tags=["image service"],
        summary="Download an image's data (Glance v2)",
        parameters=[IMAGE_ID],
        responses={
            200: OpenApiResponse(description="The image's bytes"),
            204: OpenApiResponse(description="The image has no data"),
            404: OpenApiResponse(description="No such image"),
        },
    )
    def get(self, request: Request, image_id: str) -> Response | StreamingHttpResponse:
        image = self._image(image_id, write=False)
        path = image_path(image)
        if path is None or not path.is_file():
            return Response(status=204)
        response = StreamingHttpResponse(
            _file_chunks(path), content_type="application/octet-stream"
        )
        response["Content-Length"] = str(path.stat().st_size)
        if image.checksum:
            response["Content-MD5"] = image.checksum
        return response


def _file_chunks(path: object) -> Iterator[bytes]:
    with open(str(path), "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk
