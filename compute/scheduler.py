"""Choosing a host: Nova's filter scheduler reduced to what this dashboard needs.

A host qualifies when its compute service is enabled, not forced down and has a fresh heartbeat
(host_status UP). Among those the one with the fewest live instances wins, so demo load spreads.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from compute.conf import conf
from compute.exceptions import NoValidHost
from compute.models import Host


def up_hosts() -> Q:
    """Hosts whose heartbeat is fresh (neither too old nor too far ahead), not disabled and not
    forced down."""
    now, down = timezone.now(), timedelta(seconds=conf().effective_service_down_time())
    return Q(
        disabled=False,
        forced_down=False,
        last_seen_up__gte=now - down,
        last_seen_up__lte=now + down,
    )


def select_host(
    *,
    exclude: Collection[int] = (),
    requested: str | None = None,
    zone: str | None = None,
    reason: str = "",
) -> Host:
    """The host to place an instance on, or ``NoValidHost`` with Nova's text."""
    candidates = Host.objects.filter(up_hosts()).exclude(pk__in=list(exclude))
    if requested:
        candidates = candidates.filter(host=requested)
    if zone:
        candidates = candidates.filter(zone=zone)
    best = (
        candidates.annotate(load=Count("instances", filter=Q(instances__deleted_at__isnull=True)))
        .order_by("load", "host")
        .first()
    )
    if best is None:
        raise NoValidHost(reason)
    return best
