"""The timestamp spellings of the APIs, which differ by field as they do in OpenStack."""

from __future__ import annotations

from datetime import UTC, datetime


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def isotime(value: datetime | None) -> str | None:
    """Nova's ``created`` / ``updated``: ``2012-09-07T16:56:37Z``."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def naive(value: datetime | None) -> str | None:
    """Nova's naive timestamps (launched_at, action times, services): ``…T13:53:12.774549``."""
    return _utc(value).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def keystone(value: datetime | None) -> str | None:
    """Keystone's and Glance's: ``2015-11-09T01:42:57.527363Z``."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None
