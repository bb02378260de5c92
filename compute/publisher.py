"""The event publisher: from the outbox to every page that shows the object (DESIGN flow 6, 7).

Every web process runs one ``OutboxRelay`` on its event loop. It tails ``ChangeEvent`` rows by
their global sequence and hands each to this process's ``compute.fanout.LocalFanout`` for the
groups allowed to see it: an instance's project group (without admin-only fields) and the
admins' group (with them); a host to the admins' group, and — when policy lets members see
host_status — to the project groups of the instances on it as a ``host_status`` delta keyed by
Nova's opaque per-project ``hostId`` (never the host's name). Because the outbox is written in
the changing transaction, a change made by any process — the API, an agent, the sync,
``fake_guest`` — reaches every browser with nothing between the processes but the database:
each process reads the outbox for its own sockets, whether or not Redis is configured.

On PostgreSQL the relay does not wait for its next poll: ``compute.events`` calls ``pg_notify``
in the changing transaction, the notification is delivered at commit, and ``OutboxListener``
wakes every process's relay at once. The poll stays as the fallback, every second; SQLite polls
every 50 ms.

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
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection, connections
from django.db.models import Q

from compute.context import RequestContext
from compute.events import NOTIFY_CHANNEL
from compute.fanout import DeltaMessage
from compute.models import ChangeEvent, Instance
from compute.policy import members_see_host_status, opaque_host_id, owner_host_status

log = logging.getLogger(__name__)

ADMINS_GROUP = "admins"
#: Fields of an instance delta only admins receive (Nova's extended-server-attributes policy).
ADMIN_ONLY_FIELDS = ("host",)

__all__ = ["ADMINS_GROUP", "DeltaMessage", "OutboxRelay", "latest_seq", "replay"]


def project_group(project_id: str) -> str:
    return f"project.{project_id}"


class Sink(Protocol):
    """Where the relay hands a delta: this process's fan-out (or a test's recorder)."""

    async def group_send(self, group: str, message: DeltaMessage) -> None: ...


def for_viewer(payload: dict[str, Any], *, admin: bool) -> dict[str, Any]:
    """An instance delta as a member sees it: no host name, but Nova's opaque ``hostId`` (what
    the page finds the instance's host_status cell by, as the API's ``hostId``)."""
    if admin or payload.get("type") != "instance":
        return payload
    out = {k: v for k, v in payload.items() if k not in ADMIN_ONLY_FIELDS}
    out["host_id"] = opaque_host_id(payload.get("project_id") or "", payload.get("host"))
    return out


def host_status_delta(payload: dict[str, Any], project_id: str) -> dict[str, Any]:
    """A host change as a member of ``project_id`` may see it: the host_status of their
    instances on that host (or None where policy hides it), keyed by the opaque hostId."""
    return {
        "type": "host_status",
        "id": opaque_host_id(project_id, payload["host"]),
        "version": payload["version"],
        "host_status": owner_host_status(payload["host_status"]),
    }


@dataclass(frozen=True)
class OutboxRow:
    """The columns of a ``ChangeEvent`` the relay sends, read without the ORM (hot path)."""

    id: int
    kind: str
    project_id: str | None
    payload: dict[str, Any]
    #: For a host row while members may see host_status: the projects with instances on it.
    projects: tuple[str, ...] = field(default=())


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
    elif row.kind == ChangeEvent.Kind.HOST:
        for project in getattr(row, "projects", ()):
            out.append(
                (
                    project_group(project),
                    {
                        "type": "state.delta",
                        "seq": row.id,
                        "delta": host_status_delta(row.payload, project),
                    },
                )
            )
    return out


def projects_on_host(host_uuid: str) -> tuple[str, ...]:
    """The projects with live instances on a host: who sees its host_status change."""
    return tuple(
        sorted(
            Instance.objects.filter(host__uuid=host_uuid, deleted_at__isnull=True)
            .values_list("project_id", flat=True)
            .distinct()
        )
    )


def replay(
    *, context: RequestContext, since: int, limit: int = 1000
) -> tuple[list[DeltaMessage], bool]:
    """Visible events after ``since``; the flag is False if the outbox no longer reaches back
    that far (or there are more than ``limit``), and the page must reload its state instead."""
    rows = ChangeEvent.objects.filter(id__gt=since).order_by("id")
    member_hosts: dict[str, list[str]] = {}
    if not context.is_admin:
        if members_see_host_status():
            # The hosts of the caller's instances now: where their host_status cells are.
            for host_uuid, project in (
                Instance.objects.filter(
                    project_id__in=context.project_ids,
                    deleted_at__isnull=True,
                    host__isnull=False,
                )
                .values_list("host__uuid", "project_id")
                .distinct()
            ):
                member_hosts.setdefault(str(host_uuid), []).append(project)
        visible = Q(kind=ChangeEvent.Kind.INSTANCE, project_id__in=context.project_ids)
        if member_hosts:
            visible |= Q(kind=ChangeEvent.Kind.HOST, object_id__in=list(member_hosts))
        rows = rows.filter(visible)
    oldest = ChangeEvent.objects.order_by("id").values_list("id", flat=True).first()
    complete = oldest is None or since >= oldest - 1
    batch = list(rows[: limit + 1])
    if len(batch) > limit:
        complete = False
        batch = batch[:limit]
    messages: list[DeltaMessage] = []
    for r in batch:
        if r.kind == ChangeEvent.Kind.HOST and not context.is_admin:
            messages.extend(
                {"type": "state.delta", "seq": r.id, "delta": host_status_delta(r.payload, p)}
                for p in sorted(member_hosts.get(r.object_id, ()))
            )
        else:
            messages.append(
                {
                    "type": "state.delta",
                    "seq": r.id,
                    "delta": for_viewer(r.payload, admin=context.is_admin),
                }
            )
    return messages, complete


def latest_seq() -> int:
    return ChangeEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


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
        sink: Sink,
        *,
        poll_interval: float = 0.05,
        idle_poll: float = 1.0,
        batch: int = 500,
        listen: bool | None = None,
    ) -> None:
        self.sink = sink
        #: Seconds between passes when nothing wakes the relay (SQLite, or no listener).
        self.poll_interval = poll_interval
        #: Seconds between passes when NOTIFY wakes it: only a safety net.
        self.idle_poll = idle_poll
        self.batch = batch
        self.listen = listen
        self.last_seq: int | None = None
        #: Sequence numbers skipped over that may still commit → when first noticed.
        self._gaps: dict[int, float] = {}
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
                    # The database is gone: the traceback once, then one line per
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
        """How long to sleep when idle: a relay woken by NOTIFY polls as a safety net only."""
        if self._listener is not None and self._listener.listening:
            return self.idle_poll
        return self.poll_interval

    async def step(self) -> int:
        """One pass: relay what is new (a fresh relay starts at the outbox's end: pages catch
        up on what came before from their own sequence, with ``replay``)."""
        if self.last_seq is None:
            self.last_seq = await self._db(latest_seq)()
        return await self.relay_once()

    async def relay_once(self) -> int:
        rows = await self._db(self._fetch)()
        if not rows:
            return 0
        # In sequence order; each hand-over is a loop over this process's sockets, no I/O wait.
        for row in rows:
            for group, message in messages_for(row):
                await self.sink.group_send(group, message)
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
        members_see = members_see_host_status()
        return [
            OutboxRow(
                pk,
                kind,
                project,
                decoded := payload if isinstance(payload, dict) else json.loads(payload),
                projects_on_host(decoded["id"])
                if members_see and kind == ChangeEvent.Kind.HOST
                else (),
            )
            for pk, kind, project, payload in rows
        ]


def relay_for(sink: Sink) -> OutboxRelay:
    """This process's relay, feeding ``sink`` (its ``LocalFanout``)."""
    return OutboxRelay(sink)
