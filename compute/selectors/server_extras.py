"""What Nova's API keeps about a server beside its state, read: access IPs, the disk config, the
key pair's name, user data, tags, a multi-server create's reservation id and the security
groups, in ``ServerExtras`` (one row per server that has any). The writes are
``compute.services.server_extras``.
"""

from __future__ import annotations

from typing import Any

from compute.models import Instance, ServerExtras

EXTRA_KEYS = ("access_ip_v4", "access_ip_v6", "disk_config", "key_name", "user_data", "tags",
              "reservation_id", "security_groups")  # fmt: skip
DEFAULT_GROUP = "default"
#: The value columns a server list reads, in ``EXTRA_KEYS`` order (a LEFT JOIN).
COLUMNS = tuple(f"extras__{key}" for key in EXTRA_KEYS)


def server_extras_of(instance: Instance) -> dict[str, Any]:
    row = ServerExtras.objects.filter(instance_id=instance.pk).first()
    return {key: getattr(row, key) if row is not None else None for key in EXTRA_KEYS}


def security_groups_of(extras: dict[str, Any]) -> list[str]:
    groups = extras.get("security_groups")
    return [DEFAULT_GROUP] if groups is None else list(groups)
