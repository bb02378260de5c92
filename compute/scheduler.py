"""Choosing a host: Nova's filter scheduler reduced to what this dashboard needs.

A host qualifies when its compute service is enabled, not forced down and has a fresh heartbeat
(host_status UP). Among those the one with the fewest live instances wins, so demo load spreads.

A create may carry placement constraints from its scheduler hints (``same_host``,
``different_host``, a server group's affinity): ``placement(only=…, avoid=…)`` sets them for the
``select_host`` calls made inside it (Nova's SameHost/DifferentHost/ServerGroup(Anti)Affinity
filters), so the create service needs no parameter for them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db.models import Count, Q

from compute.exceptions import NoValidHost
from compute.models import Host


@dataclass(frozen=True)
class Placement:
    #: Host pks the instance must land on (None: any).
    only: frozenset[int] | None
    #: Host pks it must not land on.
    avoid: frozenset[int]


_placement: ContextVar[Placement | None] = ContextVar("placement", default=None)


@contextmanager
def placement(*, only: Collection[int] | None, avoid: Collection[int]) -> Iterator[None]:
    """Constrain the hosts ``select_host`` may choose while the block runs."""
    token = _placement.set(
        Placement(only=None if only is None else frozenset(only), avoid=frozenset(avoid))
    )
    try:
        yield
    finally:
        _placement.reset(token)


def up_hosts() -> Q:
    """Hosts whose heartbeat is fresh (neither too old nor too far ahead), not disabled and not
    forced down."""
    return Q(disabled=False, forced_down=False) & Host.heartbeat_fresh()


def select_host(
    *,
    exclude: Collection[int] = (),
    requested: str | None = None,
    zone: str | None = None,
    reason: str = "",
) -> Host:
    """The host to place an instance on, or ``NoValidHost`` with Nova's text."""
    candidates = Host.objects.filter(up_hosts()).exclude(pk__in=list(exclude))
    constraints = _placement.get()
    if constraints is not None:
        candidates = candidates.exclude(pk__in=list(constraints.avoid))
        if constraints.only is not None:
            candidates = candidates.filter(pk__in=list(constraints.only))
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
