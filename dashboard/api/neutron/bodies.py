"""Neutron's bodies for the network, the subnet and the ports of ``compute.networks``, and the
extensions whose attributes those bodies carry (``EXTENSIONS``: nothing else is claimed)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from compute.context import RequestContext
from compute.models import SecurityGroup, SecurityGroupRule
from compute.networks import Network, Subnet, mac_address
from compute.selectors.ports import Port

#: The network and its subnet are the deployment's, there from the start.
CREATED = datetime(2024, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def network_body(network: Network, owner: str) -> dict[str, Any]:
    return {
        "id": network.id,
        "name": network.label,
        "tenant_id": owner,
        "project_id": owner,
        "admin_state_up": True,
        "status": "ACTIVE",
        "subnets": [s.id for s in network.subnets],
        "shared": True,
        "mtu": network.mtu,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "router:external": False,
        "port_security_enabled": True,
        "l2_adjacency": True,
        "description": "",
        "tags": [],
        "created_at": timestamp(CREATED),
        "updated_at": timestamp(CREATED),
        "revision_number": 1,
    }


def subnet_body(subnet: Subnet, network: Network, owner: str) -> dict[str, Any]:
    return {
        "id": subnet.id,
        "name": subnet.name,
        "tenant_id": owner,
        "project_id": owner,
        "network_id": network.id,
        "ip_version": subnet.ip_version,
        "cidr": subnet.cidr,
        "gateway_ip": subnet.gateway_ip,
        "allocation_pools": [{"start": subnet.pool_start, "end": subnet.pool_end}],
        "dns_nameservers": [],
        "host_routes": [],
        "enable_dhcp": True,
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "service_types": [],
        "description": "",
        "tags": [],
        "created_at": timestamp(CREATED),
        "updated_at": timestamp(CREATED),
        "revision_number": 0,
    }


def port_body(port: Port, context: RequestContext) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": port.id,
        "name": "",
        "network_id": port.network.id,
        "tenant_id": port.project_id,
        "project_id": port.project_id,
        "mac_address": mac_address(port.id),
        "admin_state_up": True,
        "status": "ACTIVE" if port.active else "DOWN",
        "device_id": port.device_id,
        "device_owner": f"compute:{port.availability_zone}",
        "fixed_ips": [{"subnet_id": s, "ip_address": ip} for s, ip in port.fixed_ips],
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "security_groups": list(port.security_groups),
        "port_security_enabled": True,
        "binding:vnic_type": "normal",
        "description": "",
        "tags": [],
        "created_at": timestamp(port.created_at),
        "updated_at": timestamp(port.updated_at),
        "revision_number": 1,
    }
    if context.is_admin:  # Neutron's binding attributes are the admin's to see
        body.update(
            {
                "binding:host_id": port.host,
                "binding:profile": {},
                "binding:vif_type": "other" if port.host else "unbound",
                "binding:vif_details": {},
            }
        )
    return body


#: (alias, name, description, updated): the extensions whose attributes or behaviour this
#: slice serves, with Neutron's texts.
EXTENSIONS: tuple[tuple[str, str, str, str], ...] = (
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs",
     "2013-07-23T10:00:00-00:00"),
    ("binding", "Port Binding",
     "Expose port bindings of a virtual port to external application",
     "2014-02-03T10:00:00-00:00"),
    ("external-net", "Neutron external network",
     "Adds external network attribute to network resource.", "2013-01-14T10:00:00-00:00"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options",
     "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can "
     "be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
     "2013-03-17T12:00:00-00:00"),
    ("filter-validation", "Filter parameters validation",
     "Provides validation on filter parameters.", "2018-03-21T10:00:00-00:00"),
    ("l2_adjacency", "L2 Adjacency", "Display L2 Adjacency for Neutron Networks.",
     "2016-04-12T16:00:00-00:00"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource.",
     "2015-03-25T10:00:00-00:00"),
    ("network_availability_zone", "Network Availability Zone",
     "Availability zone support for network.", "2015-01-01T10:00:00-00:00"),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled.",
     "2016-06-12T00:00:00-00:00"),
    ("port-security", "Port Security", "Provides port security", "2012-07-23T10:00:00-00:00"),
    ("security-group", "security-group", "The security groups extension.",
     "2012-10-05T10:00:00-00:00"),
    ("project-id", "project_id field enabled",
     "Extension that indicates that project_id field is enabled.",
     "2016-09-09T09:09:09-09:09"),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled.",
     "2016-06-12T00:00:00-00:00"),
    ("standard-attr-description", "standard-attr-description",
     "Extension to add descriptions to standard attributes", "2016-02-10T10:00:00-00:00"),
    ("standard-attr-revisions", "Resource revision numbers",
     "This extension will display the revision number of neutron resources.",
     "2016-04-11T10:00:00-00:00"),
    ("standard-attr-timestamp", "Resource timestamps",
     "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
     "standard attributes.", "2016-09-12T10:00:00-00:00"),
)  # fmt: skip


def extension_body(alias: str, name: str, description: str, updated: str) -> dict[str, Any]:
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": updated,
        "links": [],
    }


def security_group_rule_body(rule: SecurityGroupRule) -> dict[str, Any]:
    """A rule kept through Nova's proxy, as Neutron shows it: ingress, ICMP's -1 as null."""
    cidr = rule.cidr
    version = ipaddress.ip_network(cidr, strict=False).version if cidr else 4
    project = rule.group.project_id
    return {
        "id": str(rule.uuid),
        "tenant_id": project,
        "project_id": project,
        "security_group_id": str(rule.group.uuid),
        "direction": "ingress",
        "ethertype": f"IPv{version}",
        "protocol": rule.protocol,
        "port_range_min": None if rule.from_port in (None, -1) else rule.from_port,
        "port_range_max": None if rule.to_port in (None, -1) else rule.to_port,
        "remote_ip_prefix": cidr,
        "remote_group_id": str(rule.remote_group.uuid) if rule.remote_group else None,
        "remote_address_group_id": None,
        "description": "",
        "tags": [],
        "created_at": timestamp(rule.created_at),
        "updated_at": timestamp(rule.created_at),
        "revision_number": 0,
    }


def security_group_body(group: SecurityGroup) -> dict[str, Any]:
    return {
        "id": str(group.uuid),
        "name": group.name,
        "tenant_id": group.project_id,
        "project_id": group.project_id,
        "description": group.description,
        "security_group_rules": [security_group_rule_body(r) for r in group.rules.all()],
        "stateful": True,
        "shared": False,
        "tags": [],
        "created_at": timestamp(group.created_at),
        "updated_at": timestamp(group.updated_at),
        "revision_number": 1,
    }
