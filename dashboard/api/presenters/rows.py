"""What the server views read of an instance, its host and its flavor: one shape for both ways a
server reaches a view.

A single server (show, the answers to PUT and rebuild) comes as a model instance; a page of a
list comes as value rows of exactly the columns the views show — no model instances, no columns
nobody shows, no image or project join — because building five models and decoding every column
per row was most of a list's time. ``ServerRow`` is built from either, so both render through
the same code and cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from compute.models import Instance
from compute.selectors.server_extras import COLUMNS as EXTRA_COLUMNS
from compute.selectors.server_extras import EXTRA_KEYS, server_extras_of
from compute.status import Status, status_from_state


class HostFacts(NamedTuple):
    """What host_status, liveness and the host's name are computed from."""

    pk: int
    host: str
    last_seen_up: datetime | None
    created_at: datetime | None
    forced_down: bool
    disabled: bool


class FlavorFacts(NamedTuple):
    flavorid: str
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int
    swap: int
    extra_specs: dict[str, Any] | None


#: The instance columns a view shows, in ``ServerRow``'s order; then the host's and the flavor's.
_INSTANCE = (
    "pk", "uuid", "name", "description", "project_id", "user_id", "vm_state", "task_state",
    "power_state", "progress", "locked", "locked_by", "locked_reason", "availability_zone",
    "launched_at",
    "terminated_at", "created_at", "updated_at", "deleted_at", "metadata", "addresses",
    "image_id", "host_id",
)  # fmt: skip
_HOST = ("host", "last_seen_up", "created_at", "forced_down", "disabled")
_FLAVOR = ("flavorid", "name", "vcpus", "ram", "disk", "ephemeral", "swap", "extra_specs")
#: What a list selects (``compute.selectors.paginate(columns=…)``).
COLUMNS: tuple[str, ...] = (
    *_INSTANCE,
    *(f"host__{c}" for c in _HOST),
    *(f"flavor__{c}" for c in _FLAVOR),
    *EXTRA_COLUMNS,
)
_HOST_AT = len(_INSTANCE)
_FLAVOR_AT = _HOST_AT + len(_HOST)
_EXTRAS_AT = _FLAVOR_AT + len(_FLAVOR)


class ServerRow:
    """One server as the views read it. ``status`` is computed once, as the model's is."""

    __slots__ = (*_INSTANCE, "host", "flavor", "status", "extras")

    pk: int
    uuid: UUID
    name: str
    description: str | None
    project_id: str
    user_id: int | None
    vm_state: str
    task_state: str | None
    power_state: int
    progress: int
    locked: bool
    locked_reason: str | None
    availability_zone: str
    launched_at: datetime | None
    terminated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    metadata: dict[str, Any] | None
    addresses: dict[str, Any] | None
    image_id: UUID | None
    host_id: int | None
    host: HostFacts | None
    flavor: FlavorFacts
    status: Status
    #: ``compute.services.server_extras``: access IPs, disk config, key name, user data, tags.
    extras: dict[str, Any]

    @classmethod
    def of(cls, instance: Instance) -> ServerRow:
        """From a model instance (its host and flavor are read if not joined)."""
        row = cls.__new__(cls)
        for name in _INSTANCE:
            setattr(row, name, getattr(instance, name))
        host = instance.host if instance.host_id is not None else None
        row.host = None if host is None else HostFacts(host.pk, *(getattr(host, c) for c in _HOST))
        flavor = instance.flavor
        row.flavor = FlavorFacts(*(getattr(flavor, c) for c in _FLAVOR))
        row.status = instance.status
        row.extras = server_extras_of(instance)
        return row

    @classmethod
    def from_values(cls, values: Iterable[tuple[Any, ...]]) -> list[ServerRow]:
        """From value rows of ``COLUMNS``."""
        rows = []
        slots = _INSTANCE
        for value in values:
            row = cls.__new__(cls)
            for name, item in zip(slots, value, strict=False):
                setattr(row, name, item)
            row.host = (
                None if row.host_id is None else HostFacts(row.host_id, *value[_HOST_AT:_FLAVOR_AT])
            )
            row.flavor = FlavorFacts(*value[_FLAVOR_AT:_EXTRAS_AT])
            row.extras = dict(zip(EXTRA_KEYS, value[_EXTRAS_AT:], strict=True))
            row.status = status_from_state(
                row.vm_state, row.task_state, deleted=row.deleted_at is not None
            )
            rows.append(row)
        return rows
