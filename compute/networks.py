"""The one network this cloud's address model knows: every server gets a fixed IPv4 address on
``private`` (``compute.agent.executor``). Nova's deprecated ``os-networks`` proxy and a create's
``networks`` list name it by this id; nothing else is a network here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    id: str
    label: str
    cidr: str


PRIVATE = Network(
    id=str(uuid.uuid5(uuid.NAMESPACE_URL, "vmdash:network:private")),
    label="private",
    cidr="10.0.0.0/16",
)
NETWORKS = (PRIVATE,)


def network_get(ident: str) -> Network | None:
    return next((n for n in NETWORKS if ident in (n.id, n.label)), None)
