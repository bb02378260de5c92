"""Nova's migrations API: ``/v2.1/os-migrations`` (every move, admins) and
``/v2.1/servers/{id}/migrations`` (a server's live migrations in progress, 2.23; force-complete
2.22, abort 2.24, abort of a queued one 2.65).

Bodies as Nova's ``migrations.py`` and ``server_migrations.py`` build them: from 2.23 a
migration carries ``migration_type`` and, while a live migration is in progress, links to it;
2.59 adds ``uuid``, paging by ``limit`` / ``marker`` (newest first) with ``migrations_links``,
``changes-since`` and a strict query string; 2.66 ``changes-before``; 2.80 ``user_id`` /
``project_id`` in the body and as filters. The host fields are null for a caller whose policy
does not show hosts.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.migration_records import LIVE_IN_PROGRESS
from compute.models import Migration
from compute.selectors import instance_get
from compute.selectors.migrations import (
    MarkerNotFound,
    MigrationFilters,
    migration_list,
    migration_of_instance,
    migrations_in_progress,
)
from compute.services.migrations import migration_abort, migration_force_complete
from dashboard.api import formats
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses, ref
from dashboard.api.faults import APIFault
from dashboard.api.queries import MAX_LIMIT, moment, strict_bool
from dashboard.api.validation import validate
from dashboard.api.views.servers import SERVER_ID

MIGRATION_ID = OpenApiParameter("migration_id", str, OpenApiParameter.PATH)
_FILTERS = ("hidden", "host", "instance_uuid", "source_compute", "status", "migration_type")
_LIST_PARAMETERS = [
    OpenApiParameter(name, str)
    for name in (
        *_FILTERS,
        "limit",
        "marker",
        "changes-since",
        "changes-before",
        "user_id",
        "project_id",
    )
]
#: Nova's ``schemas/server_migrations.force_complete``.
FORCE_COMPLETE_BODY = {
    "type": "object",
    "properties": {"force_complete": {"type": "null"}},
    "required": ["force_complete"],
    "additionalProperties": False,
}
_HOST_FIELDS = ("dest_compute", "dest_host", "dest_node", "source_compute", "source_node")


def _known_parameters(view: ComputeView) -> set[str] | None:
    """The query parameters Nova's schema allows at this version; None: any (before 2.59)."""
    if not view.since("2.59"):
        return None
    known = {*_FILTERS, "limit", "marker", "changes-since"}
    if view.since("2.66"):
        known.add("changes-before")
    if view.since("2.80"):
        known |= {"user_id", "project_id"}
    return known


class MigrationList(ComputeView):
    @extend_schema(
        operation_id="migrationList",
        tags=["migrations"],
        summary="List migrations (admins), newest first from 2.59",
        parameters=[VERSION_HEADER, *_LIST_PARAMETERS],
        responses=compute_responses({200: ref("MigrationList")}, 403),
    )
    def get(self, request: Request) -> Response:
        context = self.context
        policy.authorize(context, "os_compute_api:os-migrations:index")
        params = request.query_params
        known = _known_parameters(self)
        if known is not None:
            for key in params:
                if key not in known:
                    raise APIFault(
                        400, f"Additional properties are not allowed ('{key}' was unexpected)"
                    )
        last = {key: params.getlist(key)[-1] for key in params}
        project_id = last.get("project_id")
        if not project_id or project_id != context.project_id:
            policy.authorize(context, "os_compute_api:os-migrations:index:all_projects")
        show_host = policy.allowed(context, "os_compute_api:os-migrations:index:host")
        filters = self._filters(last)
        limit = marker = None
        if self.since("2.59"):
            limit = _limit(last.get("limit"))
            marker = last.get("marker")
        try:
            rows = migration_list(filters=filters, limit=limit, marker=marker)
        except MarkerNotFound as missing:
            raise APIFault(400, missing.message) from None
        body: dict[str, Any] = {
            "migrations": [self.item(request, m, show_host=show_host) for m in rows]
        }
        if self.since("2.59"):
            links = self._next(request, rows, limit)
            if links:
                body["migrations_links"] = links
        return Response(body)

    def _filters(self, last: dict[str, str]) -> MigrationFilters:
        since = before = None
        if "changes-since" in last and self.since("2.59"):
            since = moment("changes-since", last["changes-since"])
        if "changes-before" in last and self.since("2.66"):
            before = moment("changes-before", last["changes-before"])
            if since is not None and before < since:
                raise APIFault(
                    400,
                    "The value of changes-since must be less than or equal to changes-before.",
                )
        hidden = None
        if "hidden" in last:
            try:
                hidden = strict_bool("hidden", last["hidden"])
            except APIFault:
                hidden = last["hidden"] not in ("0", "")
        return MigrationFilters(
            status=(last["status"],) if "status" in last else None,
            host=last.get("host"),
            source_compute=last.get("source_compute"),
            migration_type=last.get("migration_type"),
            hidden=hidden,
            instance_uuid=last.get("instance_uuid"),
            user_id=last.get("user_id"),
            project_id=last.get("project_id"),
            changes_since=since,
            changes_before=before,
        )

    def item(self, request: Request, migration: Migration, *, show_host: bool) -> dict[str, Any]:
        """One migration as Nova's ``_output`` gives it."""
        body: dict[str, Any] = {
            "created_at": formats.naive(migration.created_at),
            "dest_compute": migration.dest_compute,
            "dest_host": migration.dest_host,
            "dest_node": migration.dest_node,
            "id": migration.pk,
            "instance_uuid": str(migration.instance.uuid),
            "new_instance_type_id": migration.new_instance_type_id,
            "old_instance_type_id": migration.old_instance_type_id,
            "source_compute": migration.source_compute,
            "source_node": migration.source_node,
            "status": migration.status,
            "updated_at": formats.naive(migration.updated_at),
        }
        if not show_host:
            body.update(dict.fromkeys(_HOST_FIELDS))
        if self.since("2.23"):
            body["migration_type"] = migration.migration_type
            if migration.is_live and migration.status in LIVE_IN_PROGRESS:
                body["links"] = _links(request, migration)
        if self.since("2.59"):
            body["uuid"] = str(migration.uuid)
        if self.since("2.80"):
            body["user_id"] = str(migration.user_id) if migration.user_id is not None else None
            body["project_id"] = migration.project_id
        return body

    def _next(
        self, request: Request, rows: list[Migration], limit: int | None
    ) -> list[dict[str, str]]:
        """Nova's next link: when the page is as long as the limit asked (or the maximum)."""
        if not limit or len(rows) != limit:
            return []
        params = {**request.query_params.dict(), "limit": str(limit), "marker": str(rows[-1].uuid)}
        href = request.build_absolute_uri(request.path) + "?" + urlencode(sorted(params.items()))
        return [{"rel": "next", "href": href}]


def _limit(raw: str | None) -> int:
    if raw is None:
        return MAX_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise APIFault(400, "limit param must be an integer") from None
    if limit < 0:
        raise APIFault(400, "limit param must be positive")
    return min(limit, MAX_LIMIT)


def _links(request: Request, migration: Migration) -> list[dict[str, str]]:
    tail = f"servers/{migration.instance.uuid}/migrations/{migration.pk}"
    return [
        {"rel": "self", "href": request.build_absolute_uri(f"/v2.1/{tail}")},
        {"rel": "bookmark", "href": request.build_absolute_uri(f"/{tail}")},
    ]


def server_migration_body(view: ComputeView, migration: Migration, *, show_host: bool) -> dict:
    """One migration as Nova's ``server_migrations.output`` gives it."""
    body: dict[str, Any] = {
        "created_at": formats.naive(migration.created_at),
        "dest_compute": None,
        "dest_host": None,
        "dest_node": None,
        "disk_processed_bytes": migration.disk_processed,
        "disk_remaining_bytes": migration.disk_remaining,
        "disk_total_bytes": migration.disk_total,
        "id": migration.pk,
        "memory_processed_bytes": migration.memory_processed,
        "memory_remaining_bytes": migration.memory_remaining,
        "memory_total_bytes": migration.memory_total,
        "server_uuid": str(migration.instance.uuid),
        "source_compute": None,
        "source_node": None,
        "status": migration.status,
        "updated_at": formats.naive(migration.updated_at),
    }
    if show_host:
        body.update({field: getattr(migration, field) for field in _HOST_FIELDS})
    if view.since("2.59"):
        body["uuid"] = str(migration.uuid)
    if view.since("2.80"):
        body["user_id"] = str(migration.user_id) if migration.user_id is not None else None
        body["project_id"] = migration.project_id
    return body


class ServerMigrationList(ComputeView):
    @extend_schema(
        operation_id="serverMigrationList",
        tags=["migrations"],
        summary="List a server's live migrations in progress (2.23)",
        parameters=[SERVER_ID, VERSION_HEADER],
        responses=compute_responses({200: ref("ServerMigrationList")}, 403, 404),
    )
    def get(self, request: Request, server_id: str) -> Response:
        _from(self, "2.23")
        instance = instance_get(context=self.context, instance_uuid=server_id)
        policy.authorize(self.context, "os_compute_api:servers:migrations:index")
        show_host = policy.allowed(self.context, "os_compute_api:servers:migrations:index:host")
        rows = migrations_in_progress(instance)
        for row in rows:
            row.instance = instance
        return Response(
            {"migrations": [server_migration_body(self, m, show_host=show_host) for m in rows]}
        )


class ServerMigration(ComputeView):
    @extend_schema(
        operation_id="serverMigrationShow",
        tags=["migrations"],
        summary="Show a server's live migration in progress (2.23)",
        parameters=[SERVER_ID, MIGRATION_ID, VERSION_HEADER],
        responses=compute_responses({200: ref("ServerMigrationShow")}, 403, 404),
    )
    def get(self, request: Request, server_id: str, migration_id: str) -> Response:
        _from(self, "2.23")
        instance = instance_get(context=self.context, instance_uuid=server_id)
        policy.authorize(self.context, "os_compute_api:servers:migrations:show")
        migration = migration_of_instance(instance, migration_id)
        if migration is None:
            raise APIFault(
                404,
                f"In-progress live migration {migration_id} is not found for server {server_id}.",
            )
        if not migration.is_live:
            raise APIFault(
                404, f"Migration {migration_id} for server {server_id} is not live-migration."
            )
        if migration.status not in LIVE_IN_PROGRESS:
            raise APIFault(
                404, f"Live migration {migration_id} for server {server_id} is not in progress."
            )
        migration.instance = instance
        return Response({"migration": server_migration_body(self, migration, show_host=True)})

    @extend_schema(
        operation_id="serverMigrationAbort",
        tags=["migrations"],
        summary="Abort a live migration (2.24; queued or preparing from 2.65)",
        parameters=[SERVER_ID, MIGRATION_ID, VERSION_HEADER],
        responses=compute_responses({202: None}, 403, 404, 409),
    )
    def delete(self, request: Request, server_id: str, migration_id: str) -> Response:
        _from(self, "2.24")
        migration_abort(
            context=self.context,
            instance_uuid=server_id,
            migration_id=migration_id,
            queued=self.since("2.65"),
        )
        return Response(status=202)


class ServerMigrationAction(ComputeView):
    @extend_schema(
        operation_id="serverMigrationForceComplete",
        tags=["migrations"],
        summary='Force a running live migration to complete: {"force_complete": null} (2.22)',
        parameters=[SERVER_ID, MIGRATION_ID, VERSION_HEADER],
        request={
            "application/json": {
                "type": "object",
                "properties": {"force_complete": {"type": "null"}},
                "required": ["force_complete"],
                "additionalProperties": False,
            }
        },
        responses=compute_responses({202: None}, 403, 404, 409, 415),
    )
    def post(self, request: Request, server_id: str, migration_id: str) -> Response:
        _from(self, "2.22")
        body = request.data
        if not isinstance(body, dict) or len(body) != 1:
            raise APIFault(400, "Malformed request body")
        key = next(iter(body))
        if key != "force_complete":
            raise APIFault(400, f"There is no such action: {key}")
        validate(body, FORCE_COMPLETE_BODY)
        migration_force_complete(
            context=self.context, instance_uuid=server_id, migration_id=migration_id
        )
        return Response(status=202)


def _from(view: ComputeView, version: str) -> None:
    """Nova's ``api_version`` decorator: below ``version`` the method is not served."""
    if not view.since(version):
        raise APIFault(404, f"API version {view.version} is not supported on this method.")
