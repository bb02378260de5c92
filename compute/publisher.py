"""The event publisher: from the outbox to every page that shows the object (DESIGN flow 6, 7).

``OutboxRelay`` runs inside each web process's event loop. It tails ``ChangeEvent`` rows by
their global sequence and sends each through the channel layer to the groups allowed to see it:
an instance's project group (without admin-only fields) and the admins' group (with them); a
host only to admins. Because the outbox is written in the changing transaction, a change made
by any process — the API, an agent, the sync, ``fake_guest`` — reaches every browser, with no
Redis needed between processes in the embedded default.

With an in-process channel layer each web process relays to its own sockets. With Redis, every
process would reach every socket, so only the process holding the relay lease sends.

On PostgreSQL the relay does not wait for its next poll: ``compute.events`` calls ``pg_notify``
in the changing transaction, the notification is delivered at commit, and ``OutboxListener``
wakes the relay at once (a change reaches the channel layer in about a millisecond instead of
half a poll interval). The poll stays as the fallback, every second; SQLite polls every 50 ms.
A batch of rows goes out with one ordered chain of ``group_send`` per group, the groups
concurrently, so a row costs the round trips of one group_send, not of all its groups in turn.

The relay tails by sequence number, but a number is taken at INSERT and becomes visible at
COMMIT: of two concurrent transactions the one holding the smaller number may commit second,
after the relay has moved past it. So the relay remembers the holes it passes and asks for them
again until they show up (or ``GAP_PATIENCE`` says the transaction rolled back); a late commit
is sent late, never skipped (invariant 4).

``replay`` serves a reconnecting page: every visible event after the sequence it last saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypedDict

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection, connections

from compute.context import RequestContext
from compute.events import NOTIFY_CHANNEL
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


@dataclass(frozen=True)
class OutboxRow:
    """The columns of a ``ChangeEvent`` the relay sends, read without the ORM (hot path)."""

    id: int
    kind: str
    project_id: str | None
    payload: dict[str, Any]


def messages_for(row: ChangeEvent | OutboxRow) -> list[tuple[str, DeltaMessage]]:
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
        self.ttl = ttl
        self.ttl_ms = int(ttl * 1000)
        self.token = f"{os.getpid()}-{id(self)}"
        #: Monotonic time of the last successful take or renewal.
        self.renewed_at: float | None = None

    async def hold(self) -> bool:
        if await self.client.set(self.KEY, self.token, nx=True, px=self.ttl_ms):
            self.renewed_at = time.monotonic()
            return True
        holder = await self.client.get(self.KEY)
        if holder is not None and holder.decode() == self.token:
            await self.client.pexpire(self.KEY, self.ttl_ms)
            self.renewed_at = time.monotonic()
            return True
        self.renewed_at = None
        return False

    def fresh(self) -> bool:
        """Held and renewed within a third of its time to live: no need to ask Redis again
        (the relay renews at least that often, so the lease cannot lapse in between)."""
        return self.renewed_at is not None and time.monotonic() - self.renewed_at < self.ttl / 3

    async def last_seq(self) -> int | None:
        raw = await self.client.get(self.SEQ_KEY)
        return int(raw) if raw is not None else None

    async def record(self, seq: int) -> None:
        await self.client.set(self.SEQ_KEY, seq)


#: Seconds a missing sequence number is looked for again. An outbox id is taken at INSERT but
#: becomes visible at COMMIT, so a transaction that commits after one holding a later id leaves
#: a hole the relay has already passed; the relay keeps asking for the hole until the row shows
#: up or this long has passed (then the transaction rolled back: ids are never reused).
GAP_PATIENCE = 30.0
#: Holes remembered at most; a larger jump in the sequence is not transactions in flight.
GAPS_KEPT = 1000


class OutboxListener:
    """Wakes the relay when a transaction that wrote the outbox commits (PostgreSQL only).

    Holds one connection of its own in autocommit, LISTENing on ``NOTIFY_CHANNEL``. Each
    notification sets ``wake``; so does (re)connecting, so a change committed while it was not
    listening is picked up by the pass that follows. If the connection fails it retries every
    second and the relay falls back to polling meanwhile (``listening`` is False).
    """

    def __init__(self, wake: asyncio.Event) -> None:
        self.wake = wake
        self.listening = False

    @staticmethod
    def available() -> bool:
        return connection.vendor == "postgresql"

    async def run(self) -> None:
        import psycopg

        params = connection.get_connection_params()
        for django_only in ("cursor_factory", "context"):
            params.pop(django_only, None)
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening = True
                    self.wake.set()
                    async for _ in conn.notifies():
                        self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox listener lost its connection; polling until it is back")
            finally:
                self.listening = False
            await asyncio.sleep(1.0)


class OutboxRelay:
    """Tails the outbox and fans it out. One per web process, started on its event loop."""

    def __init__(
        self,
        channel_layer: Any,
        *,
        poll_interval: float = 0.05,
        idle_poll: float = 1.0,
        batch: int = 500,
        lease: RelayLease | None = None,
        listen: bool | None = None,
    ) -> None:
        self.layer = channel_layer
        #: Seconds between passes when nothing wakes the relay (SQLite, or no listener).
        self.poll_interval = poll_interval
        #: Seconds between passes when NOTIFY wakes it: only a safety net.
        self.idle_poll = idle_poll
        self.batch = batch
        self.lease = lease
        self.listen = listen
        self.last_seq: int | None = None
        #: Sequence numbers skipped over that may still commit → when first noticed.
        self._gaps: dict[int, float] = {}
        self._leading = False
        self._task: asyncio.Task[None] | None = None
        self._listener: OutboxListener | None = None
        self._listener_task: asyncio.Task[None] | None = None
        # One thread, so the relay keeps one database connection for its life.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="outbox-relay")

    def ensure_started(self) -> None:
        """Start on the running loop unless already running there (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        """Cancel the relay and its listener, and close the relay thread's connection."""
        for task in (self._task, self._listener_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._listener_task = None
        await self._db(connections.close_all)()
        self._executor.shutdown(wait=False)

    def _db(self, func: Any) -> Any:
        return sync_to_async(func, thread_sensitive=False, executor=self._executor)

    async def run(self) -> None:
        wake = asyncio.Event()
        listen = self.listen if self.listen is not None else OutboxListener.available()
        if listen:
            self._listener = OutboxListener(wake)
            self._listener_task = asyncio.get_running_loop().create_task(
                self._listener.run(), name="outbox-listener"
            )
        failures = 0
        try:
            while True:
                wake.clear()  # before the pass: a commit during it wakes the next one
                try:
                    sent = await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Redis or the database is gone: the traceback once, then one line per
                    # retry, backing off to a second — not a traceback twenty times a second.
                    failures += 1
                    if failures == 1:
                        log.exception("outbox relay failed; retrying")
                    else:
                        log.warning("outbox relay still failing (attempt %d); retrying", failures)
                    await self._db(close_old_connections)()
                    await asyncio.sleep(min(1.0, self.poll_interval * 2**failures))
                    continue
                failures = 0
                if sent:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self._wait())
        finally:
            if self._listener_task is not None:
                self._listener_task.cancel()

    def _wait(self) -> float:
        """How long to sleep when idle: a follower only checks the lease now and then; a relay
        woken by NOTIFY polls as a safety net only."""
        if self.lease is not None and not self._leading:
            return self.lease.ttl / 3
        if self._listener is not None and self._listener.listening:
            return min(self.idle_poll, self.lease.ttl / 3) if self.lease else self.idle_poll
        return self.poll_interval

    async def step(self) -> int:
        """One pass: take or keep the lease if there is one, then relay what is new."""
        if self.lease is not None:
            leading = (self._leading and self.lease.fresh()) or await self.lease.hold()
            if leading and not self._leading:
                self.last_seq = await self._resume_from(await self.lease.last_seq())
            self._leading = leading
            if not leading:
                return 0
        if self.last_seq is None:
            self.last_seq = await self._db(latest_seq)()
        sent = await self.relay_once()
        if sent and self.lease is not None and self.last_seq is not None:
            # A successor resumes below any hole still open, so a late commit is not lost with
            # this process (it may resend a few deltas; pages ignore versions they have).
            await self.lease.record(min([self.last_seq, *(g - 1 for g in self._gaps)]))
        return sent

    async def _resume_from(self, recorded: int | None) -> int:
        """Where a new lease holder starts: where the last one stopped — unless that sequence
        is beyond this outbox's end (Redis outlived the database, or serves another one), in
        which case it would skip every change up to it; then from the end, as a fresh relay."""
        latest = await self._db(latest_seq)()
        if recorded is None or recorded > latest:
            return latest
        return recorded

    async def relay_once(self) -> int:
        rows = await self._db(self._fetch)()
        if not rows:
            return 0
        # Each group's messages in sequence order; the groups side by side.
        by_group: dict[str, list[DeltaMessage]] = {}
        for row in rows:
            for group, message in messages_for(row):
                by_group.setdefault(group, []).append(message)
        await asyncio.gather(*(self._send(group, chain) for group, chain in by_group.items()))
        self._advance([row.id for row in rows])
        return len(rows)

    def _advance(self, sent: list[int]) -> None:
        """Move past the rows just sent, remembering the holes below the newest of them."""
        now = time.monotonic()
        for pk in sent:
            self._gaps.pop(pk, None)
        expected = (self.last_seq or 0) + 1
        for pk in sorted(p for p in sent if p >= expected):
            if pk - expected <= GAPS_KEPT:
                for missing in range(expected, pk):
                    self._gaps.setdefault(missing, now)
            expected = pk + 1
        self.last_seq = max(self.last_seq or 0, expected - 1)
        for missing, since in list(self._gaps.items()):
            if now - since > GAP_PATIENCE:
                del self._gaps[missing]
        while len(self._gaps) > GAPS_KEPT:
            del self._gaps[min(self._gaps)]

    async def _send(self, group: str, chain: list[DeltaMessage]) -> None:
        for message in chain:
            await self.layer.group_send(group, message)

    def _fetch(self) -> list[OutboxRow]:
        # Raw SQL: on every wake-up, the ORM's query building and model instances cost more
        # than the query itself.
        table = connection.ops.quote_name(ChangeEvent._meta.db_table)
        holes = sorted(self._gaps)
        also = f" OR id IN ({', '.join(['%s'] * len(holes))})" if holes else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, kind, project_id, payload FROM {table} "
                f"WHERE id > %s{also} ORDER BY id LIMIT %s",
                [self.last_seq or 0, *holes, self.batch],
            )
            rows = cursor.fetchall()
        return [
            OutboxRow(
                pk, kind, project, payload if isinstance(payload, dict) else json.loads(payload)
            )
            for pk, kind, project, payload in rows
        ]


def relay_for(channel_layer: Any) -> OutboxRelay:
    """The relay this process should run: leased when the channel layer is shared (Redis)."""
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", "")
    return OutboxRelay(channel_layer, lease=RelayLease(url) if url else None)
