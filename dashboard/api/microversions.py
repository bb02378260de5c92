"""Compute API microversions: what a request asks for, and what it gets.

A client asks with ``OpenStack-API-Version: compute 2.x`` (Nova 2.27+) or the legacy
``X-OpenStack-Nova-API-Version: 2.x``; the new header wins when both name compute. No header
means 2.1, ``latest`` means the maximum. A malformed version is Nova's 400, one outside the
range Nova's 406 (a ``computeFault``, as Nova sends it). The answer echoes the version in both
headers and says with ``Vary`` that it depends on them.

Why the maximum is 2.89: every change from 2.54 to 2.89 that touches an endpoint served here is
implemented (rebuild key_name 2.54, flavor description 2.55, migrate host 2.56, personality gone
2.57, instance-action paging 2.58 / 2.66, flavor extra_specs 2.61, event host 2.62,
server_groups 2.71, lock reason and ``locked`` filter 2.73, create on a host 2.74, strict query
strings and full PUT / rebuild answers and ``swap: 0`` 2.75, unshelve to a zone 2.77, members'
state filters 2.83, event details 2.84; the migrations API's 2.59 paging, 2.65 abort of a queued
migration, 2.66 changes-before and 2.80 user / project); the rest concern APIs not served
(volumes, hypervisors, keypairs, server groups, external events). 2.90 makes the guest hostname a stored,
settable attribute (create / update / rebuild), which the instance model does not have.

Parameters that need storage the instance model lacks (user_data, personality, tags, trusted
certificates, block device mappings other than the image boot, access IPs, config drive,
scheduler hints) are refused with a 400 that names them, at every version, never dropped.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from django.http import HttpRequest

from dashboard.api.faults import APIFault

HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
SERVICE = "compute"

_FORMAT = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@dataclass(frozen=True, order=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = _FORMAT.match(text.strip())
        if match is None:
            raise APIFault(
                400,
                f"API Version String {text} is of invalid format. Must be of format "
                "MajorNum.MinorNum.",
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, version: str | APIVersion) -> bool:
        """Whether this is ``version`` or newer. The argument is a constant of the code, so each
        is parsed once per process (a list of servers asks about ten per server)."""
        if isinstance(version, str):
            version = _constant(version)
        return (self.major, self.minor) >= (version.major, version.minor)


@functools.lru_cache(maxsize=256)
def _constant(text: str) -> APIVersion:
    return APIVersion.parse(text)


MIN_VERSION = APIVersion(2, 1)
MAX_VERSION = APIVersion(2, 89)


def requested(request: HttpRequest) -> str | None:
    """The compute version string a request names, or None."""
    header = request.headers.get(HEADER)
    if header:
        for part in header.split(","):
            service, _, version = part.strip().partition(" ")
            if service.lower() == SERVICE and version.strip():
                return version.strip()
    legacy = request.headers.get(LEGACY_HEADER)
    return legacy.strip() if legacy else None


def negotiate(request: HttpRequest) -> APIVersion:
    text = requested(request)
    if text is None:
        return MIN_VERSION
    if text.lower() == "latest":
        return MAX_VERSION
    version = APIVersion.parse(text)
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise APIFault(
            406,
            f"Version {version} is not supported by the API. Minimum is {MIN_VERSION} and "
            f"maximum is {MAX_VERSION}.",
        )
    return version


def response_headers(version: APIVersion) -> dict[str, str]:
    return {
        HEADER: f"{SERVICE} {version}",
        LEGACY_HEADER: str(version),
        "Vary": f"{HEADER}, {LEGACY_HEADER}",
    }
