"""The service catalog a token carries, and the identity version documents.

This server answers for four services, each listed once per interface with the same URL:
``compute`` (Nova, ``/v2.1``), ``identity`` (Keystone, ``/identity``), ``image`` (the Glance
sliver stock clients read image names from, ``/image``) and ``network`` (the read-only Neutron
v2.0 slice of the address model, ``/network``). URLs are absolute, built from the
request, so a client follows them back to the host and port it used.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

REGION = "RegionOne"
INTERFACES = ("public", "internal", "admin")

#: (type, name, URL name of the service's root)
SERVICES: tuple[tuple[str, str, str], ...] = (
    ("compute", "nova", "compute-version"),
    ("identity", "keystone", "identity-versions"),
    ("image", "glance", "image-versions"),
    ("network", "neutron", "network-versions"),
)

V3_UPDATED = "2024-04-09T00:00:00Z"
V3_VERSION = "v3.14"


def _stable_id(*parts: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, "vmdash:" + ":".join(parts)).hex


def service_url(request: HttpRequest, url_name: str) -> str:
    return request.build_absolute_uri(reverse(url_name)).rstrip("/")


def catalog(request: HttpRequest) -> list[dict[str, Any]]:
    entries = []
    for kind, name, url_name in SERVICES:
        url = service_url(request, url_name)
        entries.append(
            {
                "id": _stable_id("service", kind),
                "type": kind,
                "name": name,
                "endpoints": [
                    {
                        "id": _stable_id("endpoint", kind, interface),
                        "interface": interface,
                        "region": REGION,
                        "region_id": REGION,
                        "url": url,
                    }
                    for interface in INTERFACES
                ],
            }
        )
    return entries


def role_ref(name: str) -> dict[str, str]:
    return {"id": _stable_id("role", name), "name": name}


def v3_version(request: HttpRequest) -> dict[str, Any]:
    return {
        "id": V3_VERSION,
        "status": "stable",
        "updated": V3_UPDATED,
        "links": [{"rel": "self", "href": request.build_absolute_uri(reverse("identity-v3"))}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }
