"""``GET /servers`` query strings, read as Nova reads them, into ``InstanceFilters``.

Nova's rules (``servers.py`` ``_get_servers``, ``schemas/servers.py``): members may use a fixed
list of filters that grows with the microversion and the rest are dropped silently; admins may
use any; from 2.75 an unknown parameter is a 400. ``all_tenants`` from a member is a 403,
``status=DELETED`` from a member too. Filters on attributes kept at one value here (key pairs,
config drive, kernel …) are answered by matching that value, as Nova's regex filter would.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.http import QueryDict
from django.utils.dateparse import parse_datetime

from compute import policy
from compute.context import RequestContext
from compute.selectors import SORT_KEYS, InstanceFilters
from compute.states import VmState
from compute.status import UnknownStatus, status_filter
from dashboard.api.actions import id_from_href
from dashboard.api.faults import APIFault
from dashboard.api.microversions import APIVersion
from dashboard.api.presenters.servers import ROOT_DEVICE_NAME

#: Nova's rule for the filters and sort keys only admins may use (``fatal=False``: the others
#: are ignored for everyone else).
ALL_FILTERS = "os_compute_api:servers:allow_all_filters"

MAX_LIMIT = 1000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_BASE = _words(
    "user_id project_id tenant_id launch_index image_ref image kernel_id ramdisk_id hostname "
    "key_name power_state vm_state task_state host node flavor reservation_id launched_at "
    "terminated_at availability_zone name display_name description display_description locked_by "
    "uuid root_device_name config_drive access_ip_v4 access_ip_v6 auto_disk_config progress "
    "sort_key sort_dir all_tenants soft_deleted deleted status changes-since ip ip6 created_at "
    "limit marker"
)
JOINED = _words(
    "block_device_mapping services metadata system_metadata info_cache security_groups pci_devices"
)
_MEMBER = _words("reservation_id name status image flavor ip changes-since all_tenants")
_MEMBER_283 = _words(
    "availability_zone config_drive key_name created_at launched_at terminated_at power_state "
    "task_state vm_state progress user_id"
)
_PAGING = ("limit", "marker", "sort_key", "sort_dir")
_TAGS = ("tags", "tags-any", "not-tags", "not-tags-any")

#: Attributes kept at one value here (None: never set, so a filter on it matches nothing).
CONSTANTS: dict[str, str | None] = {
    "kernel_id": "",
    "ramdisk_id": "",
    "root_device_name": ROOT_DEVICE_NAME,
    "access_ip_v4": None,
    "access_ip_v6": None,
    "key_name": None,
    "config_drive": "",
    "auto_disk_config": "False",
    "launch_index": "0",
}
_IGNORED_SORT_KEYS = frozenset(
    _words(
        "architecture cell_name cleaned default_ephemeral_device default_swap_device deleted "
        "deleted_at disable_terminate ephemeral_gb ephemeral_key_uuid id key_data launched_on locked "
        "memory_mb os_type reservation_id root_gb shutdown_terminate user_data vcpus vm_mode"
    )
)
_CONSTANT_SORT_KEYS = frozenset(
    _words(
        "access_ip_v4 access_ip_v6 auto_disk_config config_drive kernel_id key_name launch_index "
        "ramdisk_id root_device_name"
    )
)
_SORT_ALIASES = {"hostname": "display_name"}
_REGEX = {
    "availability_zone": "availability_zone",
    "description": "description",
    "display_description": "description",
    "locked_by": "locked_by",
    "progress": "progress",
    "created_at": "created_at",
    "launched_at": "launched_at",
    "terminated_at": "terminated_at",
    "node": "node",
    "hostname": "hostname",
}
_BOOL = {"1": True, "t": True, "true": True, "on": True, "y": True, "yes": True}
_BOOL |= {"0": False, "f": False, "false": False, "off": False, "n": False, "no": False}


@dataclass
class ServerQuery:
    filters: InstanceFilters
    limit: int
    marker: str | None
    #: Nothing can match (a filter on tags, or an unknown status before 2.38).
    empty: bool = False
    links_params: dict[str, list[str]] = field(default_factory=dict)


def _added_by_microversions(version: APIVersion) -> set[str]:
    """Filters later microversions brought, for admins and members alike."""
    added: set[str] = set()
    if version.at_least("2.26"):
        added.update(_TAGS)
    if version.at_least("2.66"):
        added.add("changes-before")
    if version.at_least("2.73"):
        added.add("locked")
    return added


def known_parameters(version: APIVersion) -> set[str]:
    return {*_BASE, *JOINED, *_added_by_microversions(version)}


def member_parameters(version: APIVersion) -> set[str]:
    allowed = {*_MEMBER, *_PAGING, *_added_by_microversions(version)}
    if version.at_least("2.5"):
        allowed.add("ip6")
    if version.at_least("2.83"):
        allowed.update(_MEMBER_283)
    return allowed


def strict_bool(name: str, value: str) -> bool:
    if value.strip().lower() not in _BOOL:
        raise APIFault(
            400,
            f"Invalid value '{value}' for {name}: acceptable values are '0', '1', 'f', 'false', "
            "'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'",
        )
    return _BOOL[value.strip().lower()]


def moment(name: str, value: str) -> datetime:
    """A ``changes-since`` style timestamp, or Nova's 400."""
    try:
        parsed = parse_datetime(value.replace(" ", "+"))
    except ValueError:  # well formed, but no such moment (month 13)
        parsed = None
    if parsed is None:
        raise APIFault(
            400, f"Invalid input for field/attribute {name}. Value: {value}. "
            f"'{value}' is not a 'date-time'"
        )  # fmt: skip
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        # In UTC, as the database compares it; a moment that leaves the calendar there
        # (0001-01-01T00:00+01:00) is no moment at all.
        return parsed.astimezone(UTC)
    except OverflowError:
        raise APIFault(
            400, f"Invalid input for field/attribute {name}. Value: {value}. Out of range."
        ) from None


def _limit(params: QueryDict) -> int:
    raw = params.get("limit")
    if raw is None:
        return MAX_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise APIFault(400, "limit param must be an integer") from None
    if limit < 0:
        raise APIFault(400, "limit param must be positive")
    return min(limit, MAX_LIMIT)


def _sort(params: QueryDict, context: RequestContext, version: APIVersion) -> list[tuple[str, str]]:
    keys = params.getlist("sort_key") or ["created_at"]
    dirs = params.getlist("sort_dir")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise APIFault(400, "Unknown sort direction, must be 'desc' or 'asc'")
    if len(dirs) > len(keys):
        raise APIFault(400, "Sort direction size exceeds sort key size")
    dirs = dirs + [dirs[0] if dirs else "desc"] * (len(keys) - len(dirs))
    strict = version.at_least("2.75")
    ignored = _IGNORED_SORT_KEYS - ({"locked"} if version.at_least("2.73") else set())
    sort = []
    for key, direction in zip(keys, dirs, strict=True):
        key = _SORT_ALIASES.get(key, key)
        if key in ignored and not strict:
            continue
        if key in _CONSTANT_SORT_KEYS:  # one value everywhere: ordering by it changes nothing
            continue
        if key in ("host", "node") and not policy.allowed(context, ALL_FILTERS):
            continue
        if key not in SORT_KEYS:
            raise APIFault(400, f"Invalid input for field/attribute sort_key. Value: {key}.")
        sort.append((key, direction))
    return sort or [("created_at", "desc")]


def server_query(
    params: QueryDict, context: RequestContext, version: APIVersion, *, listing: str = "detail"
) -> ServerQuery:
    known = known_parameters(version)
    for key in params:
        if key.startswith("_"):
            raise APIFault(400, f"Invalid filter field: {key}.")
        if version.at_least("2.75") and key not in known:
            raise APIFault(400, f"Additional properties are not allowed ('{key}' was unexpected)")
    allowed = known if policy.allowed(context, ALL_FILTERS) else member_parameters(version)
    p = {key: params.getlist(key) for key in params if key in allowed}
    last = {key: values[-1] for key, values in p.items() if values}
    for key in JOINED:
        if key in p:
            raise APIFault(400, f"Invalid filter field: {key}.")
    return _build(params, p, last, context, version, listing)


def _build(
    params: QueryDict,
    p: dict[str, list[str]],
    last: dict[str, str],
    context: RequestContext,
    version: APIVersion,
    listing: str,
) -> ServerQuery:
    empty = any(last.get(k) for k in ("tags", "tags-any"))
    # A bare ``all_tenants`` means yes; a value must be a boolean.
    given = last.get("all_tenants")
    all_tenants = "all_tenants" in p and (not given or strict_bool("all_tenants", given))
    if all_tenants:
        policy.authorize(context, f"os_compute_api:servers:{listing}:get_all_tenants")
    statuses = p.get("status", [])
    # Nova reads ``deleted`` leniently: anything but a true value means live servers.
    deleted = _BOOL.get(last.get("deleted", "").strip().lower(), False)
    if statuses:
        try:
            wanted = status_filter(statuses)
        except UnknownStatus:
            # Nova ignores the values that name no status, and fails only when none matched.
            if version.at_least("2.38"):
                raise APIFault(400, "Invalid status value") from None
            empty = True
        else:
            # Nova compares the merged vm_states with ['deleted']: ``status=DELETED`` given
            # twice, or beside a value that matches nothing, lists deleted servers too.
            if wanted.vm_states == {VmState.DELETED}:
                if not context.is_admin:
                    raise APIFault(403, "Only administrators may list deleted instances")
                deleted = True
    since = moment("changes-since", last["changes-since"]) if "changes-since" in last else None
    before = moment("changes-before", last["changes-before"]) if "changes-before" in last else None
    if since and before and since > before:
        raise APIFault(
            400, "The value of changes-since must be less than or equal to changes-before."
        )
    regex: list[tuple[str, str]] = [(_REGEX[k], v) for k, v in last.items() if k in _REGEX]
    for _, pattern in regex:
        _compiles(pattern)
    for key, constant in CONSTANTS.items():
        if key in last and not _matches(last[key], constant):
            empty = True
    reservation = last.get("reservation_id")
    if reservation is not None:
        match = re.fullmatch(r"r-([0-9a-f]{1,8})", reservation)
        empty = empty or match is None
    project = last.get("project_id") or last.get("tenant_id")
    # Nova matches ``uuid`` exactly: a value that is no UUID matches nothing (never a 404).
    uuids = [u for u in p.get("uuid", []) if _is_uuid(u)]
    empty = empty or (bool(p.get("uuid")) and not uuids)
    # A user id is a number here; any other value (or one past the column's range) is nobody.
    user_id = last.get("user_id")
    if user_id is not None and _small_int(user_id) is None:
        empty = True
    filters = InstanceFilters(
        statuses=statuses if not empty else (),
        name=last.get("name") or last.get("display_name"),
        host=last.get("host"),
        all_tenants=all_tenants,
        project_id=project if all_tenants else None,
        changes_since=since,
        changes_before=before,
        deleted=deleted,
        vm_states=p.get("vm_state", []),
        task_states=p.get("task_state", []),
        power_states=_ints(p.get("power_state", [])),
        sort=_sort(params, context, version),
        uuids=uuids,
        uuid_prefix=match.group(1) if reservation is not None and match else None,
        image_id=id_from_href(last["image"] if "image" in last else last["image_ref"])
        if "image" in last or "image_ref" in last
        else None,
        flavor_id=id_from_href(last["flavor"]) if "flavor" in last else None,
        user_id=user_id,
        locked=strict_bool("locked", last["locked"]) if "locked" in last else None,
        regex=regex,
        ip=last.get("ip"),
        ip6=last.get("ip6"),
    )
    links = {k: v for k, v in params.lists() if k not in ("marker",)}
    return ServerQuery(
        filters=filters,
        limit=_limit(params),
        marker=params.get("marker"),
        empty=empty or (bool(p.get("power_state")) and not filters.power_states),
        links_params=links,
    )


def _is_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True


def _small_int(value: str) -> int | None:
    """``value`` as a non-negative ASCII integer that fits a database integer, else None.

    ``str.isdigit`` alone is not enough: it accepts "²", which ``int`` refuses.
    """
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if number < 2**31 else None


def _ints(values: list[str]) -> list[int]:
    return [n for v in values if (n := _small_int(v)) is not None]


def _compiles(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error:
        raise APIFault(400, f"Invalid regular expression: {pattern}") from None


def _matches(pattern: str, value: Any) -> bool:
    if value is None:
        return False
    _compiles(pattern)
    return re.search(pattern, str(value)) is not None
