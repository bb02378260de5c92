"""Writes. Every change a user, an admin, the sync or the watchdog makes goes through here."""

from compute.services.hosts import host_heartbeat, host_register, host_update
from compute.services.instances import (
    instance_action,
    instance_create,
    instance_update,
)
from compute.services.tenancy import user_ensure

__all__ = [
    "host_heartbeat",
    "host_register",
    "host_update",
    "instance_action",
    "instance_create",
    "instance_update",
    "user_ensure",
]
