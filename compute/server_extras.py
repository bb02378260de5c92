"""What Nova's API keeps about a server beside its state: access IPs, the disk config, the key
pair's name, user data and tags, in ``ServerExtras`` (one row per server that has any). No state
column is touched, so this is not the state machine's business.
"""

from __future__ import annotations

from typing import Any

from compute.models import Instance, ServerExtras

EXTRA_KEYS = ("access_ip_v4", "access_ip_v6", "disk_config", "key_name", "user_data", "tags")
#: The value columns a server list reads, in ``EXTRA_KEYS`` order (a LEFT JOIN).
COLUMNS = tuple(f"extras__{key}" for key in EXTRA_KEYS)


def server_extras_set(*, instance_uuid: str, values: dict[str, Any]) -> None:
    """Set ``values`` (keys of ``EXTRA_KEYS``; None clears one) on the server's extras."""
    unknown = set(values) - set(EXTRA_KEYS)
    if unknown:
        raise ValueError(f"not a server extra: {sorted(unknown)}")
    pk = Instance.objects.filter(uuid=instance_uuid).values_list("pk", flat=True).first()
    if pk is None:
        return
    fields = {k: ([] if k == "tags" and v is None else v) for k, v in values.items()}
    ServerExtras.objects.update_or_create(instance_id=pk, defaults=fields)


def server_extras_of(instance: Instance) -> dict[str, Any]:
    row = ServerExtras.objects.filter(instance_id=instance.pk).first()
    return {key: getattr(row, key) if row is not None else None for key in EXTRA_KEYS}
