"""Neutron's list query over bodies: filters (any attribute; a repeated key is an OR),
``fields``, ``sort_key``/``sort_dir`` and ``limit``/``marker`` with a ``next`` link.

With the ``filter-validation`` extension Neutron refuses a filter on an attribute the resource
does not have with a 400; this does the same. ``fixed_ips=ip_address=…`` and
``fixed_ips=subnet_id=…`` filter ports by address, as in Neutron.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import QueryDict
from rest_framework.request import Request

from dashboard.api.faults import NeutronFault

PAGING = frozenset({"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"})
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def bad_request(message: str) -> NeutronFault:
    return NeutronFault(400, "HTTPBadRequest", message)


def _matches(value: Any, wanted: str, key: str) -> bool:
    if isinstance(value, bool):
        text = wanted.strip().lower()
        if text not in _TRUE | _FALSE:
            raise bad_request(f"Invalid input for {key}. Reason: '{wanted}' cannot be converted "
                              "to boolean.")  # fmt: skip
        return value == (text in _TRUE)
    if key == "fixed_ips" and isinstance(value, list):
        name, _, text = wanted.partition("=")
        if name not in ("ip_address", "subnet_id"):
            raise bad_request(f"Invalid input for fixed_ips. Reason: '{wanted}' is not of the "
                              "form ip_address=… or subnet_id=….")  # fmt: skip
        return any(ip.get(name) == text for ip in value)
    if isinstance(value, list):
        return wanted in [str(v) for v in value]
    if value is None:
        return wanted in ("", "None")
    return str(value) == wanted


def filtered(rows: list[dict[str, Any]], params: QueryDict, attributes: set[str]) -> list[dict[str, Any]]:  # fmt: skip
    keys = [k for k in params if k not in PAGING]
    invalid = sorted(k for k in keys if k not in attributes)
    if invalid:
        raise bad_request(f"{invalid} is invalid attribute for filtering")
    for key in keys:
        wanted = params.getlist(key)
        rows = [r for r in rows if key in r and any(_matches(r[key], w, key) for w in wanted)]
    return rows


def _sorted(rows: list[dict[str, Any]], params: QueryDict, attributes: set[str]) -> list[dict[str, Any]]:  # fmt: skip
    keys = params.getlist("sort_key")
    dirs = params.getlist("sort_dir")
    if dirs and len(dirs) != len(keys):
        raise bad_request("The number of sort_keys and sort_dirs must be same")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise bad_request(f"{direction} is invalid value for sort_dir, valid value is "
                              "'asc' and 'desc'")  # fmt: skip
    for key in keys:
        if key not in attributes:
            raise bad_request(f"{key} is an invalid attribute for sort_keys")
    # Stable sorts from the last key to the first: the first key decides first.
    for key, direction in reversed(list(zip(keys, dirs or ["asc"] * len(keys), strict=True))):
        rows = sorted(rows, key=lambda r: str(r.get(key)), reverse=direction == "desc")
    return rows


def _limit(params: QueryDict) -> int | None:
    if "limit" not in params:
        return None
    try:
        limit = int(params["limit"])
    except ValueError:
        raise bad_request(f"Invalid input for limit. Reason: '{params['limit']}' is not an "
                          "integer.") from None  # fmt: skip
    if limit < 0:
        raise bad_request(f"Invalid input for limit. Reason: '{limit}' should be non-negative.")
    return limit or None


def listing(
    request: Request, collection: str, rows: list[dict[str, Any]], attributes: set[str]
) -> dict[str, Any]:
    """``{collection: [...]}`` (with ``<collection>_links`` when a page is cut short)."""
    params = request.query_params
    rows = _sorted(filtered(rows, params, attributes), params, attributes)
    marker = params.get("marker")
    if marker:
        ids = [r["id"] for r in rows]
        rows = rows[ids.index(marker) + 1 :] if marker in ids else []
    limit = _limit(params)
    body: dict[str, Any] = {}
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        query = urlencode({**params.dict(), "marker": rows[-1]["id"]})
        href = request.build_absolute_uri(request.path) + "?" + query
        body[f"{collection}_links"] = [{"rel": "next", "href": href}]
    body[collection] = [selected(r, params) for r in rows]
    return dict(sorted(body.items()))


def selected(row: dict[str, Any], params: QueryDict) -> dict[str, Any]:
    """Only the ``fields`` asked for, when some are."""
    fields = [f for f in params.getlist("fields") if f]
    return {k: v for k, v in row.items() if k in fields} if fields else row
