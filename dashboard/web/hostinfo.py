"""Hosts as the admin pages show them: status, heartbeat, last power sync, instances per vm_state.

A whole page of hosts costs three queries (hosts, counts, latest syncs: the selectors'), however
many hosts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext

from compute.models import Host, PowerSyncPass
from compute.selectors import host_list, hosts_last_sync, hosts_vm_state_counts
from compute.states import VmState
from dashboard.web.presentation import Badge, badge


@dataclass(frozen=True)
class SyncSummary:
    started_at: datetime
    duration_ms: float
    checked: int
    #: Readable lines: "web-1: power running → shutdown; stop".
    changes: tuple[str, ...]
    unknown_guests: int
    error: str


@dataclass(frozen=True)
class HostCard:
    host: Host
    host_status: Badge
    service: Badge
    counts: tuple[tuple[Badge, int], ...]
    live_instances: int
    last_sync: SyncSummary | None

    @property
    def uuid(self) -> str:
        return str(self.host.uuid)


def summarize_sync(sync: PowerSyncPass) -> SyncSummary:
    lines = []
    for change in sync.changes or []:
        name = change.get("name") or change.get("instance", "?")
        parts = []
        power = change.get("power_state")
        if isinstance(power, list | tuple) and len(power) == 2:
            old, new = (badge("power_state", p).label.lower() for p in power)
            parts.append(gettext("power %(old)s → %(new)s") % {"old": old, "new": new})
        if change.get("action"):
            parts.append(gettext("then %(action)s") % {"action": change["action"]})
        said = "; ".join(parts) or gettext("changed")
        lines.append(f"{name}: {said}")
    return SyncSummary(
        started_at=sync.started_at,
        duration_ms=sync.duration_ms,
        checked=sync.checked,
        changes=tuple(lines),
        unknown_guests=len(sync.unknown_guests or []),
        error=sync.error,
    )


def _ordered_counts(counts: dict[str, int]) -> tuple[tuple[Badge, int], ...]:
    return tuple((badge("vm_state", v), counts[v]) for v in VmState.values if counts.get(v))


def host_cards(hosts: Sequence[Host] | None = None) -> list[HostCard]:
    rows = list(hosts if hosts is not None else host_list())
    counts = hosts_vm_state_counts(rows)
    syncs = hosts_last_sync(rows)
    cards = []
    for host in rows:
        per_state = counts.get(host.pk, {})
        sync = syncs.get(host.pk)
        cards.append(
            HostCard(
                host=host,
                host_status=badge("host_status", host.host_status),
                service=badge("service", "disabled" if host.disabled else "enabled"),
                counts=_ordered_counts(per_state),
                live_instances=sum(per_state.values()),
                last_sync=summarize_sync(sync) if sync else None,
            )
        )
    return cards


def recent_syncs(host: Host, limit: int = 5) -> list[SyncSummary]:
    return [summarize_sync(s) for s in host.sync_passes.order_by("-started_at")[:limit]]
