"""Typed access to the compute settings, with Nova's defaults.

Every knob lives in ``settings.COMPUTE`` (a dict); a missing key takes the default below, so
tests override one knob with ``override_settings(COMPUTE={...})`` or ``compute_settings``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

ConfT = TypeVar("ConfT")

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
    #: Seconds a recurring schedule must leave between two runs at least: cron's optional
    #: sixth field (seconds) could otherwise reboot a guest every second. Tests lower it.
    schedule_min_interval: float = 60.0
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


class SettingsDict(Generic[ConfT]):
    """A dict setting (``settings.<name>``) read as a frozen dataclass, built once per object.

    ``conf()`` is called all over the product (per request, per relayed change, per agent pass);
    building the dataclass each time cost more than most of its callers' own work. The last
    dict read is held with what it made, by reference, so the identity check cannot be fooled
    by a new dict at a recycled address. A test that changes the setting
    (``override_settings``, pytest-django's ``settings``) assigns a new dict, which the identity
    check notices, and sends ``setting_changed``, which empties the cache too. Changing the dict
    in place is not noticed: assign a new one. An unknown key is refused, so a misspelt knob
    fails loudly instead of silently taking the default.
    """

    def __init__(
        self,
        setting: str,
        cls: type[ConfT],
        prepare: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.setting = setting
        self.cls = cls
        self.prepare = prepare
        self._cache: tuple[object, ConfT] | None = None
        _readers.append(self)

    def __call__(self) -> ConfT:
        raw = getattr(settings, self.setting, None)
        cached = self._cache
        if cached is not None and cached[0] is raw:
            return cached[1]
        built = self._build(raw)
        self._cache = (raw, built)
        return built

    def _build(self, raw_setting: Any) -> ConfT:
        raw: dict[str, Any] = dict(raw_setting or {})
        unknown = set(raw) - {f.name for f in fields(self.cls)}  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"Unknown {self.setting} settings: {', '.join(sorted(unknown))}")
        if self.prepare is not None:
            self.prepare(raw)
        return self.cls(**raw)

    def forget(self) -> None:
        self._cache = None


_readers: list[SettingsDict[Any]] = []


@receiver(setting_changed)
def _forget(*, setting: str, **_: Any) -> None:
    for reader in _readers:
        if reader.setting == setting:
            reader.forget()


def _with_default_timeouts(raw: dict[str, Any]) -> None:
    if "task_timeouts" in raw:
        raw["task_timeouts"] = {**DEFAULT_TASK_TIMEOUTS, **raw["task_timeouts"]}


#: The compute settings (``settings.COMPUTE``).
conf = SettingsDict("COMPUTE", ComputeConf, _with_default_timeouts)
