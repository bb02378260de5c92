"""Neutron v2.0 under ``/network``: the version document, the resource list, networks, subnets,
ports and extensions. Reads follow Neutron's bodies and list query (``queries``); a write is
refused as Neutron's policy refuses it (``PolicyNotAuthorized``, 403), after the 404 of an item
the caller cannot see — nothing here may create or change a network, a subnet or a port, which
follow from the servers (``compute.networks``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compute.exceptions import Invalid, NotFound
from compute.models import SecurityGroup
from compute.networks import NETWORKS, SUBNETS, network_get, subnet_get, subnet_network
from compute.selectors.ports import network_owner_id, port_get, port_list
from compute.services import security_groups as sg
from dashboard.api.base import AuthenticatedView
from dashboard.api.docs.refs import ref
from dashboard.api.faults import NeutronFault, neutron_body
from dashboard.api.negotiation import JSONUnlessHTML
from dashboard.api.neutron import bodies, queries

TAGS = ["network (Neutron v2.0)"]
NOT_FOUND = "The resource could not be found."


def _responses(success: dict[int, Any], *errors: int) -> dict[int, Any]:
    from drf_spectacular.utils import OpenApiResponse

    text = {
        400: "Bad filter, sort or paging parameter",
        401: "No valid X-Auth-Token (Keystone's error body)",
        403: "Forbidden by policy: this slice of Neutron is read-only",
        404: "Not found (or not visible to the caller)",
        503: "The database is unreachable for a moment",
    }
    out: dict[int, Any] = {c: OpenApiResponse(response=b, description="Success")
                           for c, b in success.items()}  # fmt: skip
    for code in sorted({401, 503, *errors}):
        schema = "KeystoneError" if code == 401 else "NeutronError"
        out[code] = OpenApiResponse(response=ref(schema), description=text[code])
    return out


def refused(action: str) -> NeutronFault:
    return NeutronFault(403, "PolicyNotAuthorized", f"{action} is disallowed by policy")


def _param(name: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, OpenApiParameter.PATH)


_LIST_PARAMS = [
    OpenApiParameter(n, str, many=n in ("fields", "sort_key", "sort_dir"))
    for n in ("fields", "sort_key", "sort_dir", "limit", "marker")
]


class NeutronView(AuthenticatedView):
    error_style = "neutron"
    renderer_classes = [JSONRenderer]


class NetworkVersions(APIView):
    """``GET /network/``: Neutron's version list (no token needed)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONUnlessHTML
    error_style = "neutron"

    @extend_schema(operation_id="networkVersions", tags=TAGS, summary="Network API versions",
                   auth=[], responses={200: ref("NeutronVersions")})  # fmt: skip
    def get(self, request: Request) -> Response:
        href = request.build_absolute_uri(reverse("network-v20"))
        version = {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}
        return Response({"versions": [version]})


class NetworkV20(NeutronView):
    """``GET /network/v2.0/``: the resources of the v2.0 API served here."""

    @extend_schema(operation_id="networkV20", tags=TAGS, summary="The v2.0 resources",
                   responses=_responses({200: ref("NeutronResources")}))  # fmt: skip
    def get(self, request: Request) -> Response:
        root = request.build_absolute_uri(reverse("network-v20"))
        resources = [
            {"name": name, "collection": collection,
             "links": [{"rel": "self", "href": f"{root}{collection}"}]}
            for name, collection in (("network", "networks"), ("subnet", "subnets"),
                                     ("port", "ports"), ("security_group", "security-groups"),
                                     ("security_group_rule", "security-group-rules"))
        ]  # fmt: skip
        return Response({"resources": resources})


# --- networks -------------------------------------------------------------------------------
def _networks() -> list[dict[str, Any]]:
    owner = network_owner_id()
    return [bodies.network_body(n, owner) for n in NETWORKS]


NETWORK_ATTRIBUTES = set(bodies.network_body(NETWORKS[0], ""))


class NetworkList(NeutronView):
    @extend_schema(operation_id="neutronNetworkList", tags=TAGS, summary="List networks",
                   parameters=_LIST_PARAMS,
                   responses=_responses({200: ref("NeutronNetworkList")}, 400))  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response(queries.listing(request, "networks", _networks(), NETWORK_ATTRIBUTES))

    @extend_schema(operation_id="neutronNetworkCreate", tags=TAGS,
                   summary="Create a network: refused, the networks are the deployment's",
                   request=None, responses=_responses({}, 403))  # fmt: skip
    def post(self, request: Request) -> Response:
        raise refused("create_network")


def _network(network_id: str) -> dict[str, Any]:
    network = network_get(network_id)
    if network is None or network.id != network_id:
        raise NeutronFault(404, "NetworkNotFound", f"Network {network_id} could not be found.")
    return bodies.network_body(network, network_owner_id())


class NetworkItem(NeutronView):
    @extend_schema(operation_id="neutronNetworkShow", tags=TAGS, summary="Show a network",
                   parameters=[_param("network_id"), _LIST_PARAMS[0]],
                   responses=_responses({200: ref("NeutronNetworkShow")}, 404))  # fmt: skip
    def get(self, request: Request, network_id: str) -> Response:
        body = queries.selected(_network(network_id), request.query_params)
        return Response({"network": body})

    @extend_schema(operation_id="neutronNetworkUpdate", tags=TAGS,
                   summary="Update a network: refused", parameters=[_param("network_id")],
                   request=None, responses=_responses({}, 403, 404))  # fmt: skip
    def put(self, request: Request, network_id: str) -> Response:
        _network(network_id)
        raise refused("update_network")

    @extend_schema(operation_id="neutronNetworkDelete", tags=TAGS,
                   summary="Delete a network: refused", parameters=[_param("network_id")],
                   responses=_responses({}, 403, 404))  # fmt: skip
    def delete(self, request: Request, network_id: str) -> Response:
        _network(network_id)
        raise refused("delete_network")


# --- subnets --------------------------------------------------------------------------------
def _subnets() -> list[dict[str, Any]]:
    owner = network_owner_id()
    return [bodies.subnet_body(s, subnet_network(s), owner) for s in SUBNETS]


SUBNET_ATTRIBUTES = set(bodies.subnet_body(SUBNETS[0], NETWORKS[0], ""))


class SubnetList(NeutronView):
    @extend_schema(operation_id="neutronSubnetList", tags=TAGS, summary="List subnets",
                   parameters=_LIST_PARAMS,
                   responses=_responses({200: ref("NeutronSubnetList")}, 400))  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response(queries.listing(request, "subnets", _subnets(), SUBNET_ATTRIBUTES))

    @extend_schema(operation_id="neutronSubnetCreate", tags=TAGS,
                   summary="Create a subnet: refused", request=None,
                   responses=_responses({}, 403))  # fmt: skip
    def post(self, request: Request) -> Response:
        raise refused("create_subnet")


def _subnet(subnet_id: str) -> dict[str, Any]:
    subnet = subnet_get(subnet_id)
    if subnet is None:
        raise NeutronFault(404, "SubnetNotFound", f"Subnet {subnet_id} could not be found.")
    return bodies.subnet_body(subnet, subnet_network(subnet), network_owner_id())


class SubnetItem(NeutronView):
    @extend_schema(operation_id="neutronSubnetShow", tags=TAGS, summary="Show a subnet",
                   parameters=[_param("subnet_id"), _LIST_PARAMS[0]],
                   responses=_responses({200: ref("NeutronSubnetShow")}, 404))  # fmt: skip
    def get(self, request: Request, subnet_id: str) -> Response:
        return Response({"subnet": queries.selected(_subnet(subnet_id), request.query_params)})

    @extend_schema(operation_id="neutronSubnetUpdate", tags=TAGS,
                   summary="Update a subnet: refused", parameters=[_param("subnet_id")],
                   request=None, responses=_responses({}, 403, 404))  # fmt: skip
    def put(self, request: Request, subnet_id: str) -> Response:
        _subnet(subnet_id)
        raise refused("update_subnet")

    @extend_schema(operation_id="neutronSubnetDelete", tags=TAGS,
                   summary="Delete a subnet: refused", parameters=[_param("subnet_id")],
                   responses=_responses({}, 403, 404))  # fmt: skip
    def delete(self, request: Request, subnet_id: str) -> Response:
        _subnet(subnet_id)
        raise refused("delete_subnet")


# --- ports ----------------------------------------------------------------------------------
PORT_ATTRIBUTES = {
    "id", "name", "network_id", "tenant_id", "project_id", "mac_address", "admin_state_up",
    "status", "device_id", "device_owner", "fixed_ips", "allowed_address_pairs",
    "extra_dhcp_opts", "security_groups", "port_security_enabled", "binding:vnic_type",
    "description", "tags", "created_at", "updated_at", "revision_number", "binding:host_id",
    "binding:profile", "binding:vif_type", "binding:vif_details",
}  # fmt: skip


class PortList(NeutronView):
    @extend_schema(
        operation_id="neutronPortList",
        tags=TAGS,
        summary="List the ports of the caller's servers (device_id, network_id, fixed_ips … "
        "filter)",
        parameters=[*_LIST_PARAMS, OpenApiParameter("device_id", str, many=True)],
        responses=_responses({200: ref("NeutronPortList")}, 400),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        devices = params.getlist("device_id") if "device_id" in params else None
        ports = port_list(context=self.context, device_ids=devices)
        rows = [bodies.port_body(p, self.context) for p in ports]
        return Response(queries.listing(request, "ports", rows, PORT_ATTRIBUTES))

    @extend_schema(operation_id="neutronPortCreate", tags=TAGS,
                   summary="Create a port: refused, a server's port comes with its address",
                   request=None, responses=_responses({}, 403))  # fmt: skip
    def post(self, request: Request) -> Response:
        raise refused("create_port")


class PortItem(NeutronView):
    def port(self, port_id: str) -> dict[str, Any]:
        port = port_get(context=self.context, port=port_id)
        if port is None:
            raise NeutronFault(404, "PortNotFound", f"Port {port_id} could not be found.")
        return bodies.port_body(port, self.context)

    @extend_schema(operation_id="neutronPortShow", tags=TAGS, summary="Show a port",
                   parameters=[_param("port_id"), _LIST_PARAMS[0]],
                   responses=_responses({200: ref("NeutronPortShow")}, 404))  # fmt: skip
    def get(self, request: Request, port_id: str) -> Response:
        return Response({"port": queries.selected(self.port(port_id), request.query_params)})

    @extend_schema(operation_id="neutronPortUpdate", tags=TAGS,
                   summary="Update a port: refused", parameters=[_param("port_id")],
                   request=None, responses=_responses({}, 403, 404))  # fmt: skip
    def put(self, request: Request, port_id: str) -> Response:
        self.port(port_id)
        raise refused("update_port")

    @extend_schema(operation_id="neutronPortDelete", tags=TAGS,
                   summary="Delete a port: refused (delete the server)",
                   parameters=[_param("port_id")], responses=_responses({}, 403, 404))  # fmt: skip
    def delete(self, request: Request, port_id: str) -> Response:
        self.port(port_id)
        raise refused("delete_port")


# --- security groups (read-only here; Nova's proxy writes them) --------------------------------
def _groups(view: NeutronView) -> list[SecurityGroup]:
    return sg.security_group_list(context=view.context, all_tenants=view.context.is_admin)


def _group(view: NeutronView, group_id: str) -> SecurityGroup:
    try:
        return sg.security_group_get(context=view.context, group_id=group_id)
    except (Invalid, NotFound):
        raise NeutronFault(
            404, "SecurityGroupNotFound", f"Security group {group_id} does not exist"
        ) from None


GROUP_ATTRIBUTES = {
    "id", "name", "tenant_id", "project_id", "description", "security_group_rules", "stateful",
    "shared", "tags", "created_at", "updated_at", "revision_number",
}  # fmt: skip
RULE_ATTRIBUTES = {
    "id", "tenant_id", "project_id", "security_group_id", "direction", "ethertype", "protocol",
    "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id",
    "remote_address_group_id", "description", "tags", "created_at", "updated_at",
    "revision_number",
}  # fmt: skip


class SecurityGroupList(NeutronView):
    @extend_schema(operation_id="neutronSecurityGroupList", tags=TAGS,
                   summary="List security groups (those kept through Nova's proxy)",
                   parameters=_LIST_PARAMS,
                   responses=_responses({200: ref("NeutronSecurityGroupList")}, 400))  # fmt: skip
    def get(self, request: Request) -> Response:
        rows = [bodies.security_group_body(g) for g in _groups(self)]
        return Response(queries.listing(request, "security_groups", rows, GROUP_ATTRIBUTES))

    @extend_schema(operation_id="neutronSecurityGroupCreate", tags=TAGS,
                   summary="Create a security group: refused here (use os-security-groups)",
                   request=None, responses=_responses({}, 403))  # fmt: skip
    def post(self, request: Request) -> Response:
        raise refused("create_security_group")


class SecurityGroupItem(NeutronView):
    @extend_schema(operation_id="neutronSecurityGroupShow", tags=TAGS,
                   summary="Show a security group",
                   parameters=[_param("group_id"), _LIST_PARAMS[0]],
                   responses=_responses({200: ref("NeutronSecurityGroupShow")}, 404))  # fmt: skip
    def get(self, request: Request, group_id: str) -> Response:
        body = bodies.security_group_body(_group(self, group_id))
        return Response({"security_group": queries.selected(body, request.query_params)})

    @extend_schema(operation_id="neutronSecurityGroupUpdate", tags=TAGS,
                   summary="Update a security group: refused here",
                   parameters=[_param("group_id")], request=None,
                   responses=_responses({}, 403, 404))  # fmt: skip
    def put(self, request: Request, group_id: str) -> Response:
        _group(self, group_id)
        raise refused("update_security_group")

    @extend_schema(operation_id="neutronSecurityGroupDelete", tags=TAGS,
                   summary="Delete a security group: refused here",
                   parameters=[_param("group_id")], responses=_responses({}, 403, 404))  # fmt: skip
    def delete(self, request: Request, group_id: str) -> Response:
        _group(self, group_id)
        raise refused("delete_security_group")


def _rules(view: NeutronView) -> list[dict[str, Any]]:
    return [bodies.security_group_rule_body(r) for g in _groups(view) for r in g.rules.all()]


class SecurityGroupRuleList(NeutronView):
    @extend_schema(operation_id="neutronSecurityGroupRuleList", tags=TAGS,
                   summary="List security group rules", parameters=_LIST_PARAMS,
                   responses=_responses({200: ref("NeutronSecurityGroupRuleList")}, 400))  # fmt: skip
    def get(self, request: Request) -> Response:
        listing = queries.listing(request, "security_group_rules", _rules(self), RULE_ATTRIBUTES)
        return Response(listing)

    @extend_schema(operation_id="neutronSecurityGroupRuleCreate", tags=TAGS,
                   summary="Create a rule: refused here (use os-security-group-rules)",
                   request=None, responses=_responses({}, 403))  # fmt: skip
    def post(self, request: Request) -> Response:
        raise refused("create_security_group_rule")


class SecurityGroupRuleItem(NeutronView):
    def rule(self, rule_id: str) -> dict[str, Any]:
        found = next((r for r in _rules(self) if r["id"] == rule_id), None)
        if found is None:
            raise NeutronFault(404, "SecurityGroupRuleNotFound",
                               f"Security group rule {rule_id} does not exist")  # fmt: skip
        return found

    @extend_schema(operation_id="neutronSecurityGroupRuleShow", tags=TAGS,
                   summary="Show a security group rule",
                   parameters=[_param("rule_id"), _LIST_PARAMS[0]],
                   responses=_responses({200: ref("NeutronSecurityGroupRuleShow")}, 404))  # fmt: skip
    def get(self, request: Request, rule_id: str) -> Response:
        body = queries.selected(self.rule(rule_id), request.query_params)
        return Response({"security_group_rule": body})

    @extend_schema(operation_id="neutronSecurityGroupRuleDelete", tags=TAGS,
                   summary="Delete a rule: refused here", parameters=[_param("rule_id")],
                   responses=_responses({}, 403, 404))  # fmt: skip
    def delete(self, request: Request, rule_id: str) -> Response:
        self.rule(rule_id)
        raise refused("delete_security_group_rule")


# --- quotas ---------------------------------------------------------------------------------
#: Neutron's default quotas (neutron/conf/quota.py): this slice keeps none of its own, so a
#: project's network quotas are Neutron's defaults, read-only.
NEUTRON_QUOTAS: dict[str, int] = {
    "network": 100,
    "subnet": 100,
    "subnetpool": -1,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
    "rbac_policy": 10,
}


class QuotaItem(NeutronView):
    """``GET /network/v2.0/quotas/{project_id}``: what ``openstack quota show`` reads beside
    Nova's; a project's own, or any for an admin."""

    @extend_schema(operation_id="neutronQuotaShow", tags=TAGS,
                   summary="A project's network quotas (Neutron's defaults)",
                   parameters=[_param("project_id")],
                   responses=_responses({200: None}, 403))  # fmt: skip
    def get(self, request: Request, project_id: str) -> Response:
        if not (self.context.is_admin or project_id in self.context.project_ids):
            raise refused("get_quota")
        return Response({"quota": dict(NEUTRON_QUOTAS)})

    @extend_schema(operation_id="neutronQuotaUpdate", tags=TAGS,
                   summary="Set network quotas: refused, this slice keeps Neutron's defaults",
                   parameters=[_param("project_id")], request=None,
                   responses=_responses({}, 403))  # fmt: skip
    def put(self, request: Request, project_id: str) -> Response:
        raise refused("update_quota")


# --- extensions -----------------------------------------------------------------------------
class ExtensionList(NeutronView):
    @extend_schema(operation_id="neutronExtensionList", tags=TAGS,
                   summary="The extensions this slice serves",
                   responses=_responses({200: ref("NeutronExtensionList")}))  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response({"extensions": [bodies.extension_body(*e) for e in bodies.EXTENSIONS]})


class ExtensionShow(NeutronView):
    @extend_schema(operation_id="neutronExtensionShow", tags=TAGS, summary="An extension",
                   parameters=[_param("alias")],
                   responses=_responses({200: ref("NeutronExtensionShow")}, 404))  # fmt: skip
    def get(self, request: Request, alias: str) -> Response:
        for extension in bodies.EXTENSIONS:
            if extension[0] == alias:
                return Response({"extension": bodies.extension_body(*extension)})
        raise NeutronFault(404, "HTTPNotFound", f"Extension with alias {alias} does not exist")


@csrf_exempt
def network_not_found(request: HttpRequest) -> JsonResponse:
    """Any other path under /network: Neutron's 404 rather than an HTML page."""
    return JsonResponse(neutron_body(404, NOT_FOUND), status=404)
