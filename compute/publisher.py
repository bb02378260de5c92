"""The event publisher: from the outbox to every page that shows the object (DESIGN flow 6, 7).

``OutboxRelay`` runs inside each web process's event loop. It tails ``ChangeEvent`` rows by
their global sequence and sends each through the channel layer to the groups allowed to see it:
an instance's project group (without admin-only fields) and the admins' group (with them); a
host only to admins. Because the outbox is written in the changing transaction, a change made
by any process — the API, an agent, the sync, ``fake_guest`` — reaches every browser, with no
Redis needed between processes in the embedded default.

With an in-process channel layer each web process relays to its own sockets. With Redis, every
process would reach every socket, so only the process holding the relay lease sends.

``replay`` serves a reconnecting page: every visible event after the sequence it last saw.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, TypedDict

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from compute.context import RequestContext
from compute.models import ChangeEvent

log = logging.getLogger(__name__)

ADMINS_GROUP = "admins"
#: Fields of an instance delta only admins receive (Nova's extended-server-attributes policy).
ADMIN_ONLY_FIELDS = ("host",)


def project_group(project_id: str) -> str:
    return f"project.{project_id}"


class DeltaMessage(TypedDict):
    type: str
    seq: int
    delta: dict[str, Any]


def for_viewer(payload: dict[str, Any], *, admin: bool) -> dict[str, Any]:
    if admin or payload.get("type") != "instance":
        return payload
    return {k: v for k, v in payload.items() if k not in ADMIN_ONLY_FIELDS}


def messages_for(row: ChangeEvent) -> list[tuple[str, DeltaMessage]]:
    """The (group, message) pairs one outbox row fans out to."""
    out: list[tuple[str, DeltaMessage]] = [
        (ADMINS_GROUP, {"type": "state.delta", "seq": row.id, "delta": row.payload})
    ]
    if row.kind == ChangeEvent.Kind.INSTANCE and row.project_id:
        out.append(
            (
                project_group(row.project_id),
                {
                    "type": "state.delta",
                    "seq": row.id,
                    "delta": for_viewer(row.payload, admin=False),
                },
            )
        )
    return out


def replay(
    *, context: RequestContext, since: int, limit: int = 1000
) -> tuple[list[DeltaMessage], bool]:
    """Visible events after ``since``; the flag is False if the outbox no longer reaches back
    that far (or there are more than ``limit``), and the page must reload its state instead."""
    rows = ChangeEvent.objects.filter(id__gt=since).order_by("id")
    if not context.is_admin:
        rows = rows.filter(kind=ChangeEvent.Kind.INSTANCE, project_id__in=context.project_ids)
    oldest = ChangeEvent.objects.order_by("id").values_list("id", flat=True).first()
    complete = oldest is None or since >= oldest - 1
    batch = list(rows[: limit + 1])
    if len(batch) > limit:
        complete = False
        batch = batch[:limit]
    return (
        [
            {
                "type": "state.delta",
                "seq": r.id,
                "delta": for_viewer(r.payload, admin=context.is_admin),
            }
            for r in batch
        ],
        complete,
    )


def latest_seq() -> int:
    return ChangeEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


class RelayLease:
    """With a shared (Redis) channel layer, one relay for all processes: the lease holder.

    The holder renews the lease every pass and records the last sequence it sent, so a process
    that takes over after the holder dies resumes where it stopped (at-least-once: a page drops
    a delta whose version it already shows).
    """

    KEY = "vmdash:relay:lease"
    SEQ_KEY = "vmdash:relay:seq"

    def __init__(self, url: str, *, ttl: float = 3.0) -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)
        self.ttl_ms = int(ttl * 1000)
        self.token = f"{os.getpid()}-{id(self)}"

    async def hold(self) -> bool:
        if await self.client.set(self.KEY, self.token, nx=True, px=self.ttl_ms):
            return True
        holder = await self.client.get(self.KEY)
        if holder is not None and holder.decode() == self.token:
            await self.client.pexpire(self.KEY, self.ttl_ms)
            return True
        return False

    async def last_seq(self) -> int | None:
        raw = await self.client.get(self.SEQ_KEY)
        return int(raw) if raw is not None else None

    async def record(self, seq: int) -> None:
        await self.client.set(self.SEQ_KEY, seq)


class OutboxRelay:
    """Tails the outbox and fans it out. One per web process, started on its event loop."""

    def __init__(
        self,
        channel_layer: Any,
        *,
        poll_interval: float = 0.05,
        batch: int = 500,
        lease: RelayLease | None = None,
    ) -> None:
        self.layer = channel_layer
        self.poll_interval = poll_interval
        self.batch = batch
        self.lease = lease
        self.last_seq: int | None = None
        self._leading = False
        self._task: asyncio.Task[None] | None = None

    def ensure_started(self) -> None:
        """Start on the running loop unless already running there (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="outbox-relay")

    async def run(self) -> None:
        while True:
            try:
                sent = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await sync_to_async(close_old_connections, thread_sensitive=False)()
                sent = 0
            if not sent:
                await asyncio.sleep(self.poll_interval)

    async def step(self) -> int:
        """One pass: take or keep the lease if there is one, then relay what is new."""
        if self.lease is not None:
            leading = await self.lease.hold()
            if leading and not self._leading:
                self.last_seq = await self.lease.last_seq()
            self._leading = leading
            if not leading:
                return 0
        if self.last_seq is None:
            self.last_seq = await sync_to_async(latest_seq, thread_sensitive=False)()
        sent = await self.relay_once()
        if sent and self.lease is not None and self.last_seq is not None:
            await self.lease.record(self.last_seq)
        return sent

    async def relay_once(self) -> int:
        rows = await sync_to_async(self._fetch, thread_sensitive=False)()
        for row in rows:
            for group, message in messages_for(row):
                await self.layer.group_send(group, message)
            self.last_seq = row.id
        return len(rows)

    def _fetch(self) -> list[ChangeEvent]:
        try:
            return list(
                ChangeEvent.objects.filter(id__gt=self.last_seq or 0).order_by("id")[: self.batch]
            )
        finally:
            close_old_connections()


def relay_for(channel_layer: Any) -> OutboxRelay:
    """The relay this process should run: leased when the channel layer is shared (Redis)."""
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", "")
    return OutboxRelay(channel_layer, lease=RelayLease(url) if url else None)
