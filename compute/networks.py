"""The one network this cloud's address model knows: every server gets a fixed IPv4 address on
``private`` (``compute.agent.finish``), from its one subnet. Nova's deprecated ``os-networks``
proxy, Neutron's v2.0 slice (``dashboard.api.neutron``) and a create's ``networks`` list name it
by this id; nothing else is a network here.

A server's address on a network is its port there. Ports are not rows of their own: a port is
the pair (server, network) of a live server that has an address, so its id and MAC address are
derived from that pair (``port_id``, ``mac_address``) and stay the same for the server's life.
Nothing here creates, changes or deletes a network, a subnet or a port: they follow from the
servers (``compute.selectors.ports``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "vmdash:" + ":".join(parts)))


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    cidr: str
    gateway_ip: str
    #: The addresses servers get (``compute.agent.finish``: 10.0.0.2 – 10.0.15.254).
    pool_start: str
    pool_end: str
    ip_version: int = 4


@dataclass(frozen=True)
class Network:
    id: str
    label: str
    cidr: str
    subnets: tuple[Subnet, ...] = ()
    mtu: int = 1500


PRIVATE_SUBNET = Subnet(
    id=_stable_id("subnet", "private"),
    name="private-subnet",
    cidr="10.0.0.0/16",
    gateway_ip="10.0.0.1",
    pool_start="10.0.0.2",
    pool_end="10.0.15.254",
)
PRIVATE = Network(
    id=_stable_id("network", "private"),
    label="private",
    cidr="10.0.0.0/16",
    subnets=(PRIVATE_SUBNET,),
)
NETWORKS = (PRIVATE,)
SUBNETS = tuple(s for n in NETWORKS for s in n.subnets)


def network_get(ident: str) -> Network | None:
    return next((n for n in NETWORKS if ident in (n.id, n.label)), None)


def network_by_label(label: str) -> Network | None:
    return next((n for n in NETWORKS if n.label == label), None)


def subnet_get(ident: str) -> Subnet | None:
    return next((s for s in SUBNETS if s.id == ident), None)


def subnet_network(subnet: Subnet) -> Network:
    return next(n for n in NETWORKS if subnet in n.subnets)


def port_id(instance_uuid: str, network: Network) -> str:
    """The id of a server's port on ``network``: the same for the server's whole life."""
    return _stable_id("port", str(instance_uuid), network.id)


def mac_address(port: str) -> str:
    """The port's MAC address, in the OpenStack prefix ``fa:16:3e`` Neutron gives its ports."""
    tail = uuid.UUID(port).bytes[:3]
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in tail)


def security_group_id(project_id: str, name: str) -> str:
    """A project's security group by name (only ``default`` exists here)."""
    return _stable_id("security-group", project_id, name)


Addresses = dict[str, list[dict[str, object]]]


def addresses_shown(instance_uuid: str, addresses: Addresses | None) -> Addresses:
    """A server's ``addresses`` as Nova shows them: each address with its ``OS-EXT-IPS:type``
    and its port's ``OS-EXT-IPS-MAC:mac_addr`` (the same MAC the Neutron slice gives the
    port)."""
    shown: Addresses = {}
    for label, rows in (addresses or {}).items():
        network = network_by_label(label)
        mac = mac_address(port_id(instance_uuid, network)) if network is not None else None
        shown[label] = [
            {
                "version": row.get("version", 4),
                "addr": row.get("addr"),
                "OS-EXT-IPS:type": row.get("OS-EXT-IPS:type", "fixed"),
                **({"OS-EXT-IPS-MAC:mac_addr": mac} if mac else {}),
            }
            for row in rows
        ]
    return shown
