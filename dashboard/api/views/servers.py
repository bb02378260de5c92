"""``/v2.1/servers``: list, detail, show, create, rename, delete.

Each handler parses, calls one domain function (a selector or ``compute.services``), and renders
Nova's view for the negotiated microversion (``presenters.servers``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import services
from compute.exceptions import Forbidden, NotFound
from compute.models import Instance, ServerGroup
from compute.scheduler import placement
from compute.selectors import instance_get, instance_list, paginate
from compute.selectors.catalog import flavor_get
from compute.services import quotas
from compute.services.server_extras import server_extras_set
from compute.services.server_groups import (
    hint_constraints,
    server_group_add_member,
    server_group_get,
)
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import EXTRAS_PARAMETER, VERSION_HEADER, compute_responses, ref
from dashboard.api.faults import APIFault
from dashboard.api.microversions import MAX_VERSION
from dashboard.api.presenters.rows import COLUMNS, ServerRow
from dashboard.api.presenters.servers import ServerViews, reservation_id
from dashboard.api.queries import server_query
from dashboard.api.schemas import servers as schemas
from dashboard.api.server_create import CreateArgs, create_args, extras_of
from dashboard.api.validation import validate

#: The relations a server view reads (the image is shown by id, the project not at all).
SHOWN = ("host", "flavor")
SERVER_ID = OpenApiParameter("server_id", str, OpenApiParameter.PATH, description="Server UUID")
_LIST_PARAMS = [
    VERSION_HEADER,
    EXTRAS_PARAMETER,
    *(
        OpenApiParameter(name, str, many=name in ("status", "sort_key", "sort_dir"))
        for name in (
            "status", "name", "host", "all_tenants", "changes-since", "changes-before",
            "deleted", "image", "flavor", "locked", "ip", "ip6", "vm_state", "task_state",
            "power_state", "availability_zone", "user_id", "project_id", "uuid",
            "sort_key", "sort_dir", "limit", "marker",
        )
    ),
]  # fmt: skip


class ServerViewMixin(ComputeView):
    def views(self) -> ServerViews:
        return ServerViews(
            request=self.request, context=self.context, version=self.version, extras=self.extras
        )

    def listing(self, request: Request, *, detail: bool) -> Response:
        query = server_query(
            request.query_params,
            self.context,
            self.version,
            listing="detail" if detail else "index",
        )
        items: list[ServerRow] = []
        if not query.empty:
            rows = instance_list(context=self.context, filters=query.filters, joined=())
            items = ServerRow.from_values(
                paginate(
                    rows,
                    limit=query.limit,
                    marker=query.marker,
                    context=self.context,
                    columns=COLUMNS,
                )
            )
        views = self.views()
        body: dict[str, Any] = {
            "servers": views.detail_many(items) if detail else [views.basic(i) for i in items]
        }
        if query.limit and len(items) == query.limit:
            params = {**query.links_params, "marker": [str(items[-1].uuid)]}
            href = request.build_absolute_uri(request.path) + "?" + urlencode(params, doseq=True)
            body["servers_links"] = [{"rel": "next", "href": href}]
        return Response(body)


class ServerList(ServerViewMixin):
    def _build(self, args: CreateArgs, group: ServerGroup | None, name: str) -> Instance:
        """One server of a create (of ``max_count`` ones, each placed after the previous)."""
        only, avoid = hint_constraints(hints=args.hints, group=group)
        with placement(only=only, avoid=avoid):
            instance = services.instance_create(
                context=self.context,
                name=name,
                flavor_ref=args.flavor_ref,
                image_ref=args.image_ref,
                host=args.host,
                availability_zone=args.availability_zone,
                description=args.description,
                metadata=args.metadata,
            )
        if args.extras:
            server_extras_set(instance_uuid=str(instance.uuid), values=args.extras)
        if group is not None:
            server_group_add_member(group=group, instance_uuid=str(instance.uuid))
            group.refresh_from_db()
        return instance

    @extend_schema(
        operation_id="serverList",
        tags=["servers"],
        summary="List servers (id, name, links)",
        parameters=_LIST_PARAMS,
        responses=compute_responses({200: ref("ServerIndex")}, 403),
    )
    def get(self, request: Request) -> Response:
        return self.listing(request, detail=False)

    @extend_schema(
        operation_id="serverCreate",
        tags=["servers"],
        summary="Create a server (202; it starts BUILD)",
        parameters=[VERSION_HEADER],
        request={"application/json": schemas.create(MAX_VERSION)},
        responses=compute_responses({202: ref("ServerCreated")}, 403, 415),
    )
    def post(self, request: Request) -> Response:
        args = create_args(request.data, self.context, self.version)
        try:  # a private flavor needs access (Nova's create looks it up as the caller)
            flavor_get(context=self.context, flavor_id=args.flavor_ref)
        except NotFound:
            raise APIFault(400, f"Flavor {args.flavor_ref} could not be found.") from None
        quotas.check_image_fits(flavor_ref=args.flavor_ref, image_ref=args.image_ref)
        count = args.max_count
        try:
            quotas.check_create(
                project_id=self.context.project_id,
                flavor_ref=args.flavor_ref,
                count=count,
                metadata_items=len(args.metadata),
            )
        except Forbidden:
            if args.min_count == args.max_count:
                raise
            # Nova builds as many as the quota allows, down to min_count.
            count = args.min_count
            quotas.check_create(
                project_id=self.context.project_id,
                flavor_ref=args.flavor_ref,
                count=count,
                metadata_items=len(args.metadata),
            )
        group = None
        if args.hints.get("group"):
            group = server_group_get(
                group_id=str(args.hints["group"]),
                project_ids=None if self.context.is_admin else self.context.project_ids,
            )
        built = [self._build(args, group, f"{args.name}-{n}" if count > 1 else args.name)
                 for n in range(1, count + 1)]  # fmt: skip
        instance = built[0]
        for other in built[1:]:  # one reservation for the request, as Nova's
            server_extras_set(
                instance_uuid=str(other.uuid), values={"reservation_id": reservation_id(instance)}
            )
        if args.return_reservation_id:
            return Response({"reservation_id": reservation_id(instance)}, status=202)
        views = self.views()
        ident = str(instance.uuid)
        body = {  # Nova's create answer: no name, no status
            "id": ident,
            "links": views.links("servers", ident),
            "OS-DCF:diskConfig": args.extras.get("disk_config", "MANUAL"),
            "security_groups": [{"name": "default"}],
            "adminPass": args.admin_pass,
        }
        response = Response({"server": body}, status=202)
        response["Location"] = body["links"][0]["href"]
        return response


class ServerDetailList(ServerViewMixin):
    @extend_schema(
        operation_id="serverListDetail",
        tags=["servers"],
        summary="List servers with details and allowed actions",
        parameters=_LIST_PARAMS,
        responses=compute_responses({200: ref("ServerDetailList")}, 403),
    )
    def get(self, request: Request) -> Response:
        return self.listing(request, detail=True)


class Server(ServerViewMixin):
    @extend_schema(
        operation_id="serverShow",
        tags=["servers"],
        summary="Show a server",
        parameters=[SERVER_ID, VERSION_HEADER, EXTRAS_PARAMETER],
        responses=compute_responses({200: ref("ServerShow")}, 404),
    )
    def get(self, request: Request, server_id: str) -> Response:
        instance = instance_get(context=self.context, instance_uuid=server_id, joined=SHOWN)
        return Response({"server": self.views().show(instance)})

    @extend_schema(
        operation_id="serverUpdate",
        tags=["servers"],
        summary="Rename or re-describe a server",
        parameters=[SERVER_ID, VERSION_HEADER],
        request={"application/json": schemas.update(MAX_VERSION)},
        responses=compute_responses({200: ref("ServerShow")}, 403, 404, 415),
    )
    def put(self, request: Request, server_id: str) -> Response:
        validate(request.data, schemas.update(self.version))
        server = request.data["server"]
        extras = extras_of({k: v for k, v in server.items() if k != "key_name"}, self.context)
        description = server.get("description")
        services.instance_update(
            context=self.context,
            instance_uuid=server_id,
            name=server.get("name"),
            description="" if "description" in server and description is None else description,
        )
        if extras:
            server_extras_set(instance_uuid=server_id, values=extras)
        instance = instance_get(context=self.context, instance_uuid=server_id, joined=SHOWN)
        return Response({"server": self.views().updated(instance)})

    @extend_schema(
        operation_id="serverDelete",
        tags=["servers"],
        summary="Delete a server",
        parameters=[SERVER_ID, VERSION_HEADER],
        responses=compute_responses({204: None}, 403, 404, 409),
    )
    def delete(self, request: Request, server_id: str) -> Response:
        services.instance_action(context=self.context, instance_uuid=server_id, action="delete")
        return Response(status=204)
