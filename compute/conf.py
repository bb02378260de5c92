"""Typed access to the compute settings, with Nova's defaults.

Every knob lives in ``settings.COMPUTE`` (a dict); a missing key takes the default below, so
tests override one knob with ``override_settings(COMPUTE={...})`` or ``compute_settings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

#: Seconds a task may run before the reaper fails it, per task kind (the action's name).
DEFAULT_TASK_TIMEOUTS: dict[str, float] = {
    "create": 600.0,
    "resize": 1800.0,
    "migrate": 1800.0,
    "live-migration": 1800.0,
    "createImage": 1800.0,
    "createBackup": 1800.0,
    "shelve": 1800.0,
    "unshelve": 1200.0,
    "rebuild": 1200.0,
    "default": 600.0,
}


@dataclass(frozen=True)
class ComputeConf:
    #: Seconds without a heartbeat after which a compute service counts as down (Nova: 60).
    service_down_time: float = 60.0
    #: Seconds between heartbeats (Nova: 10).
    report_interval: float = 10.0
    #: Seconds between power-state syncs; negative disables the periodic sync (Nova: 600).
    sync_power_state_interval: float = 600.0
    #: Above 0, DELETE becomes a soft delete, reclaimed after that many seconds (Nova: 0).
    reclaim_instance_interval: float = 0.0
    #: 0 offloads right after shelve; below 0 never offloads (Nova: 0).
    shelved_offload_time: float = 0.0
    #: Seconds between an agent's looks for disks a confirmed move left on it, which it
    #: removes (Nova's ``instance_delete_interval``: 300); 0 or below never.
    instance_delete_interval: float = 300.0
    #: Seconds a clean shutdown may take before a hard power-off (Nova: 60).
    shutdown_timeout: float = 60.0
    #: Whether the agent listens to the driver's lifecycle events (Nova: True).
    handle_virt_lifecycle_events: bool = True
    #: Seconds a STOPPED lifecycle event is held, and dropped if another event for the same
    #: guest follows (a reboot); Nova hard-codes 15. Tests shorten it.
    lifecycle_stopped_delay: float = 15.0
    #: Nova defaults this to False; a one-host deployment needs it to resize at all.
    allow_resize_to_same_host: bool = True
    #: Seconds an accepted action may wait for its host's agent before it fails visibly.
    dispatch_timeout: float = 300.0
    #: Per-action timeouts for tasks in progress; see DEFAULT_TASK_TIMEOUTS.
    task_timeouts: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TASK_TIMEOUTS))
    #: Seconds between watchdog passes (expired heartbeats, stale dispatches, stuck tasks).
    watchdog_interval: float = 2.0
    #: Seconds between an agent's looks at its work queue when nothing wakes it. Wake-ups come
    #: from this process, or over the Redis channel layer from any (compute.agent.wakeup); with
    #: Redis the poll only covers a lost wake-up and can be long.
    agent_poll_interval: float = 0.5
    #: Fake hypervisor: seconds each operation takes, by operation name ("default" for the rest).
    fake_delays: dict[str, float] = field(default_factory=dict)
    #: host_status visibility: "admin" (Nova's default), "admin_or_owner", or "unknown_only"
    #: (members see it only when it is UNKNOWN).
    host_status_policy: str = "admin"
    #: Seconds the outbox keeps events for browsers catching up after a reconnect.
    outbox_retention: float = 3600.0
    #: Nova's ``[libvirt] virt_type``: "kvm" where the host has hardware virtualisation,
    #: "qemu" (TCG, emulated) where it has none or KVM cannot run guests (nested PVM).
    libvirt_virt_type: str = "kvm"
    #: Nova's ``instances_path``: the libvirt driver's disk pool (``disks/``) and, per
    #: instance, a directory with its console.log.
    libvirt_instances_path: str = "/var/lib/libvirt/vmdash"
    #: How this host's libvirt driver reaches other hosts' libvirtds for a live migration:
    #: host name → ``{"uri": …, "instances_path": …}``. A host not named here is reached at
    #: Nova's default ``qemu+tcp://<host>/system`` with this host's instances path.
    libvirt_peers: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Seconds a console URL's one-time token stays valid (Nova's ``[consoleauth] token_ttl``).
    console_token_ttl: float = 600.0
    #: Seconds between an agent's samples of its running guests' diagnostics (the instance
    #: page's charts, an hour of them kept); 0 or below: no samples, no charts.
    diagnostics_interval: float = 10.0

    def effective_service_down_time(self) -> float:
        """Nova overrides a down time that is not longer than the report interval, with
        ``int(report_interval * 2.5)`` (whole seconds, truncated)."""
        if self.service_down_time <= self.report_interval:
            return float(int(self.report_interval * 2.5))
        return self.service_down_time

    def task_timeout(self, action: str) -> float:
        return self.task_timeouts.get(action, self.task_timeouts.get("default", 600.0))


#: The last settings.COMPUTE read, and what it made. ``conf()`` is called all over the product
#: (per request, per relayed change, per agent pass); building the dataclass each time cost more
#: than most of its callers' own work. Held with a reference to the dict it was built from, so
#: the identity check cannot be fooled by a new dict at a recycled address.
_cache: tuple[object, ComputeConf] | None = None


def conf() -> ComputeConf:
    """The compute settings, built once per ``settings.COMPUTE`` object.

    A test that changes ``COMPUTE`` (``override_settings``, pytest-django's ``settings``) assigns
    a new dict, which the identity check notices, and sends ``setting_changed``, which empties
    the cache too. Changing the dict in place is not noticed: assign a new one.
    """
    global _cache
    raw = getattr(settings, "COMPUTE", None)
    cached = _cache
    if cached is not None and cached[0] is raw:
        return cached[1]
    built = _build(raw)
    _cache = (raw, built)
    return built


def _build(raw_setting: Any) -> ComputeConf:
    raw: dict[str, Any] = dict(raw_setting or {})
    known = {f.name for f in fields(ComputeConf)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"Unknown COMPUTE settings: {', '.join(sorted(unknown))}")
    if "task_timeouts" in raw:
        raw["task_timeouts"] = {**DEFAULT_TASK_TIMEOUTS, **raw["task_timeouts"]}
    return ComputeConf(**raw)


@receiver(setting_changed)
def _forget(*, setting: str, **_: Any) -> None:
    global _cache
    if setting == "COMPUTE":
        _cache = None
