"""The notifier's knobs: ``settings.NOTIFICATIONS`` (a dict; a missing key takes the default)."""

from __future__ import annotations

from dataclasses import dataclass

from compute.conf import SettingsDict


@dataclass(frozen=True)
class NotifyConf:
    #: Seconds between two passes of the loop when nothing was due.
    interval: float = 0.25
    #: Outbox rows read per pass at most.
    batch: int = 500
    #: Seconds a missing sequence number is awaited (a transaction still in flight).
    gap_patience: float = 30.0
    #: The first retry's delay; each next one doubles, up to ``retry_max``.
    retry_base: float = 1.0
    retry_max: float = 300.0
    #: Attempts before a delivery is given up (marked failed, in its log).
    max_attempts: int = 12
    #: Seconds a claimed delivery is held for its sender before another process may retry it.
    claim_timeout: float = 60.0
    webhook_timeout: float = 5.0
    #: Deliveries of one batch sent at once (threads).
    send_concurrency: int = 8
    #: Allow webhook URLs on private, loopback and link-local addresses (tests, labs).
    allow_private_webhooks: bool = False
    #: Signatures older (or newer) than this are refused by ``signing.verify``.
    signature_tolerance: float = 300.0
    #: The ``publisher_id`` host of Nova's envelope.
    publisher_host: str = "vmdash"


#: The notifier's settings (``settings.NOTIFICATIONS``), read as the compute settings are.
notify_conf = SettingsDict("NOTIFICATIONS", NotifyConf)
