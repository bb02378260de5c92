"""``/v2.1/flavors``: list, detail, show; and the admin's ``os-flavor-manage`` (create, delete,
and from 2.55 describe). Shapes by microversion: ``description`` from 2.55, ``extra_specs`` from
2.61, ``swap`` 0 rather than "" from 2.75."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy
from compute.models import Flavor
from compute.selectors.catalog import flavor_get, flavor_list, page_after
from compute.services import flavor_specs
from compute.services import flavors as flavor_services
from dashboard.api.base import ComputeView
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses, ref
from dashboard.api.faults import APIFault
from dashboard.api.microversions import MAX_VERSION, APIVersion
from dashboard.api.queries import MAX_LIMIT, strict_bool
from dashboard.api.schemas import types as t
from dashboard.api.validation import validate

FLAVOR_ID = OpenApiParameter("flavor_id", str, OpenApiParameter.PATH)
_QUERY = ("is_public", "minRam", "minDisk", "sort_key", "sort_dir", "limit", "marker")
_LIST_PARAMS = [VERSION_HEADER, *(OpenApiParameter(n, str) for n in _QUERY)]


def create_schema(version: APIVersion) -> t.Schema:
    flavor: t.Schema = {
        "name": t.NAME,
        # Nova takes a number too (``flavor-create --id 42`` sends one) and stores its text.
        "id": {
            "type": ["string", "number", "null"],
            "minLength": 1,
            "maxLength": 255,
            "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$",
        },
        "ram": t.POSITIVE_INTEGER,
        "vcpus": t.POSITIVE_INTEGER,
        "disk": t.NON_NEGATIVE_INTEGER,
        "OS-FLV-EXT-DATA:ephemeral": t.NON_NEGATIVE_INTEGER,
        "swap": t.NON_NEGATIVE_INTEGER,
        "rxtx_factor": {"type": ["number", "string"], "pattern": r"^[0-9]+(\.[0-9]+)?$"},
        "os-flavor-access:is_public": t.BOOLEAN,
    }
    if version.at_least("2.55"):
        flavor["description"] = t.DESCRIPTION
    return t.wrapped("flavor", t.obj(flavor, required=("name", "ram", "vcpus", "disk")))


UPDATE_SCHEMA = t.wrapped(
    "flavor", t.obj({"description": {"type": ["string", "null"]}}, required=("description",))
)


class FlavorsBase(ComputeView):
    def links(self, flavor: Flavor) -> list[dict[str, str]]:
        compute = self.request.build_absolute_uri("/v2.1/flavors/")
        bookmark = self.request.build_absolute_uri("/flavors/")
        return [
            {"rel": "self", "href": f"{compute}{flavor.flavorid}"},
            {"rel": "bookmark", "href": f"{bookmark}{flavor.flavorid}"},
        ]

    def brief(self, flavor: Flavor) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": flavor.flavorid,
            "name": flavor.name,
            "links": self.links(flavor),
        }
        if self.since("2.55"):
            body["description"] = flavor.description
        return body

    def detail(self, flavor: Flavor) -> dict[str, Any]:
        body = self.brief(flavor)
        body.update(
            {
                "ram": flavor.ram,
                "disk": flavor.disk,
                "vcpus": flavor.vcpus,
                "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral,
                "OS-FLV-DISABLED:disabled": False,
                "swap": flavor.swap if flavor.swap or self.since("2.75") else "",
                "rxtx_factor": flavor.rxtx_factor,
                "os-flavor-access:is_public": flavor.is_public,
            }
        )
        if self.since("2.61"):
            body["extra_specs"] = dict(flavor.extra_specs or {})
        return body

    def listing(self, request: Request, *, detail: bool) -> Response:
        params = request.query_params
        if self.since("2.75"):
            for key in params:
                if key not in _QUERY:
                    raise APIFault(
                        400, f"Additional properties are not allowed ('{key}' was unexpected)"
                    )
        rows = flavor_list(
            context=self.context,
            is_public=_is_public(params.get("is_public")),
            min_ram=_int_filter("minRam", params.get("minRam")),
            min_disk=_int_filter("minDisk", params.get("minDisk")),
            sort_key=params.get("sort_key", "flavorid"),
            sort_dir=params.get("sort_dir", "asc"),
        )
        limit = _int_filter("limit", params.get("limit"))
        limit = MAX_LIMIT if limit is None else min(limit, MAX_LIMIT)
        page = page_after(rows, marker=params.get("marker"), limit=limit)
        show = self.detail if detail else self.brief
        body: dict[str, Any] = {"flavors": [show(f) for f in page]}
        if limit and len(page) == limit:
            query = urlencode({**params.dict(), "marker": page[-1].flavorid})
            href = request.build_absolute_uri(request.path) + "?" + query
            body["flavors_links"] = [{"rel": "next", "href": href}]
        return Response(body)


def _is_public(value: str | None) -> bool | None:
    if value is None:
        return True
    if value.lower() == "none":
        return None
    try:
        return strict_bool("is_public", value)
    except APIFault:
        raise APIFault(400, f"Invalid is_public filter [{value}]") from None


def _int_filter(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise APIFault(400, f"Invalid {name} filter [{value}]") from None
    if number < 0:
        raise APIFault(400, f"Invalid {name} filter [{value}]")
    return number


class FlavorList(FlavorsBase):
    @extend_schema(
        operation_id="flavorList",
        tags=["flavors"],
        summary="List flavors",
        parameters=_LIST_PARAMS,
        responses=compute_responses({200: ref("FlavorIndex")}),
    )
    def get(self, request: Request) -> Response:
        return self.listing(request, detail=False)

    @extend_schema(
        operation_id="flavorCreate",
        tags=["flavors"],
        summary="Create a flavor (admin)",
        parameters=[VERSION_HEADER],
        request={"application/json": create_schema(MAX_VERSION)},
        responses=compute_responses({200: ref("FlavorShow")}, 403, 409, 415),
    )
    def post(self, request: Request) -> Response:
        validate(request.data, create_schema(self.version))
        body = request.data["flavor"]
        flavor = flavor_services.flavor_create(
            context=self.context,
            name=body["name"],
            ram=body["ram"],
            vcpus=body["vcpus"],
            disk=body["disk"],
            flavorid=None if body.get("id") is None else str(body["id"]),
            ephemeral=body.get("OS-FLV-EXT-DATA:ephemeral", 0),
            swap=body.get("swap", 0),
            rxtx_factor=body.get("rxtx_factor", 1.0),
            is_public=t.truthy(body.get("os-flavor-access:is_public", True)),
            description=body.get("description"),
        )
        return Response({"flavor": self.detail(flavor)})


class FlavorDetailList(FlavorsBase):
    @extend_schema(
        operation_id="flavorListDetail",
        tags=["flavors"],
        summary="List flavors with details",
        parameters=_LIST_PARAMS,
        responses=compute_responses({200: ref("FlavorDetailList")}),
    )
    def get(self, request: Request) -> Response:
        return self.listing(request, detail=True)


class FlavorItem(FlavorsBase):
    @extend_schema(
        operation_id="flavorShow",
        tags=["flavors"],
        summary="Show a flavor",
        parameters=[FLAVOR_ID, VERSION_HEADER],
        responses=compute_responses({200: ref("FlavorShow")}, 404),
    )
    def get(self, request: Request, flavor_id: str) -> Response:
        return Response(
            {"flavor": self.detail(flavor_get(context=self.context, flavor_id=flavor_id))}
        )

    @extend_schema(
        operation_id="flavorUpdate",
        tags=["flavors"],
        summary="Update a flavor's description (admin, 2.55+)",
        parameters=[FLAVOR_ID, VERSION_HEADER],
        request={"application/json": UPDATE_SCHEMA},
        responses=compute_responses({200: ref("FlavorShow")}, 403, 404, 415),
    )
    def put(self, request: Request, flavor_id: str) -> Response:
        if not self.since("2.55"):
            raise APIFault(404, f"API version {self.version} is not supported on this method.")
        validate(request.data, UPDATE_SCHEMA)
        flavor = flavor_get(context=self.context, flavor_id=flavor_id)
        flavor = flavor_services.flavor_update(
            context=self.context, flavor=flavor, description=request.data["flavor"]["description"]
        )
        return Response({"flavor": self.detail(flavor)})

    @extend_schema(
        operation_id="flavorDelete",
        tags=["flavors"],
        summary="Delete a flavor (admin)",
        parameters=[FLAVOR_ID, VERSION_HEADER],
        responses=compute_responses({202: None}, 403, 404, 409),
    )
    def delete(self, request: Request, flavor_id: str) -> Response:
        policy.authorize(self.context, "os_compute_api:os-flavor-manage:delete")
        flavor = flavor_get(context=self.context, flavor_id=flavor_id)
        flavor_services.flavor_delete(context=self.context, flavor=flavor)
        return Response(status=202)


# --- os-extra_specs ---------------------------------------------------------------------------
SPEC_KEY = r"^[a-zA-Z0-9-_:. ]{1,255}$"
SPECS = {
    "type": "object",
    "patternProperties": {
        SPEC_KEY: {"type": ["string", "number", "boolean"], "minLength": 0, "maxLength": 255}
    },
    "additionalProperties": False,
}
SPECS_BODY = t.wrapped("extra_specs", SPECS)


def _text(specs: dict[str, Any]) -> dict[str, str]:
    """Nova keeps every value as text (``True`` becomes ``"True"``)."""
    return {k: str(v) for k, v in specs.items()}


class FlavorExtraSpecs(ComputeView):
    @extend_schema(operation_id="flavorExtraSpecsList", tags=["flavors"],
                   summary="A flavor's extra specs", parameters=[FLAVOR_ID, VERSION_HEADER],
                   responses=compute_responses({200: None}, 404))  # fmt: skip
    def get(self, request: Request, flavor_id: str) -> Response:
        flavor = flavor_get(context=self.context, flavor_id=flavor_id)
        return Response({"extra_specs": dict(flavor.extra_specs or {})})

    @extend_schema(operation_id="flavorExtraSpecsCreate", tags=["flavors"],
                   summary="Add or change extra specs (admin)",
                   parameters=[FLAVOR_ID, VERSION_HEADER],
                   request={"application/json": SPECS_BODY},
                   responses=compute_responses({200: None}, 403, 404, 415))  # fmt: skip
    def post(self, request: Request, flavor_id: str) -> Response:
        policy.authorize(self.context, "os_compute_api:os-flavor-extra-specs:create")
        flavor = flavor_get(context=self.context, flavor_id=flavor_id)
        validate(request.data, SPECS_BODY)
        specs = flavor_specs.extra_specs_set(
            context=self.context, flavor=flavor, specs=_text(request.data["extra_specs"])
        )
        return Response({"extra_specs": specs})


class FlavorExtraSpec(ComputeView):
    @extend_schema(operation_id="flavorExtraSpecShow", tags=["flavors"],
                   summary="One extra spec", parameters=[FLAVOR_ID, VERSION_HEADER],
                   responses=compute_responses({200: None}, 404))  # fmt: skip
    def get(self, request: Request, flavor_id: str, key: str) -> Response:
        flavor = flavor_get(context=self.context, flavor_id=flavor_id)
        specs = dict(flavor.extra_specs or {})
        if key not in specs:
            raise APIFault(404, f"Flavor {flavor_id} has no extra specs with key {key}.")
        return Response({key: specs[key]})

    @extend_schema(operation_id="flavorExtraSpecSet", tags=["flavors"],
                   summary="Set one extra spec (admin)", parameters=[FLAVOR_ID, VERSION_HEADER],
                   request={"application/json": {**SPECS, "minProperties": 1, "maxProperties": 1}},
                   responses=compute_responses({200: None}, 403, 404, 415))  # fmt: skip
    def put(self, request: Request, flavor_id: str, key: str) -> Response:
        policy.authorize(self.context, "os_compute_api:os-flavor-extra-specs:update")
        flavor = flavor_get(context=self.context, flavor_id=flavor_id)
        body = request.data
        validate(body, {**SPECS, "minProperties": 1})
        if len(body) > 1:
            raise APIFault(400, "Request body contains too many items")
        if key not in body:
            raise APIFault(400, "Request body and URI mismatch")
        specs = flavor_specs.extra_specs_set(context=self.context, flavor=flavor, specs=_text(body))
        return Response(specs)

    @extend_schema(operation_id="flavorExtraSpecDelete", tags=["flavors"],
                   summary="Delete one extra spec (admin)",
                   parameters=[FLAVOR_ID, VERSION_HEADER],
                   responses=compute_responses({200: None}, 403, 404))  # fmt: skip
    def delete(self, request: Request, flavor_id: str, key: str) -> Response:
        policy.authorize(self.context, "os_compute_api:os-flavor-extra-specs:delete")
        flavor = flavor_get(context=self.context, flavor_id=flavor_id)
        flavor_specs.extra_spec_delete(context=self.context, flavor=flavor, key=key)
        return Response(status=200)


# --- os-flavor-access -------------------------------------------------------------------------
TENANT = t.obj(
    {"tenant": {"type": "string", "minLength": 1, "maxLength": 255}}, required=("tenant",)
)
ACCESS_ACTION = {
    "oneOf": [t.wrapped("addTenantAccess", TENANT), t.wrapped("removeTenantAccess", TENANT)]
}


def _access_body(flavor: Flavor, projects: list[str]) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavor.flavorid, "tenant_id": p} for p in projects]}


class FlavorAccessList(ComputeView):
    @extend_schema(operation_id="flavorAccessList", tags=["flavors"],
                   summary="Projects given a private flavor (admin)",
                   parameters=[FLAVOR_ID, VERSION_HEADER],
                   responses=compute_responses({200: None}, 403, 404))  # fmt: skip
    def get(self, request: Request, flavor_id: str) -> Response:
        policy.authorize(self.context, "os_compute_api:os-flavor-access")
        flavor = flavor_get(context=self.context, flavor_id=flavor_id)
        projects = flavor_specs.flavor_access_list(context=self.context, flavor=flavor)
        return Response(_access_body(flavor, projects))


class FlavorAction(ComputeView):
    @extend_schema(operation_id="flavorAction", tags=["flavors"],
                   summary="addTenantAccess or removeTenantAccess (admin)",
                   parameters=[FLAVOR_ID, VERSION_HEADER],
                   request={"application/json": ACCESS_ACTION},
                   responses=compute_responses({200: None}, 403, 404, 409, 415))  # fmt: skip
    def post(self, request: Request, flavor_id: str) -> Response:
        body = request.data
        key = next(iter(body), "") if isinstance(body, dict) and len(body) == 1 else ""
        rule = {"addTenantAccess": "add_tenant_access"}.get(key, "remove_tenant_access")
        policy.authorize(self.context, f"os_compute_api:os-flavor-access:{rule}")
        validate(body, ACCESS_ACTION)
        flavor = flavor_get(context=self.context, flavor_id=flavor_id)
        project = body[key]["tenant"]
        if key == "addTenantAccess":
            flavor_specs.flavor_access_add(context=self.context, flavor=flavor, project_id=project)
        else:
            flavor_specs.flavor_access_remove(
                context=self.context, flavor=flavor, project_id=project
            )
        projects = flavor_specs.flavor_access_list(context=self.context, flavor=flavor)
        return Response(_access_body(flavor, projects))
