"""The relay: from the outbox to every page that shows the object.

Every web process runs one ``OutboxRelay`` on its event loop. It tails ``ChangeEvent`` rows by
their global sequence and hands each to this process's ``compute.outbox.fanout.LocalFanout`` for
the groups allowed to see it (``compute.outbox.audience``). Because the outbox is written in
the changing transaction, a change made by any process — the API, an agent, the sync,
``fake_guest`` — reaches every browser with nothing between the processes but the database:
each process reads the outbox for its own sockets, whether or not Redis is configured.

On PostgreSQL the relay does not wait for its next poll: ``compute.outbox.write`` calls ``pg_notify``
in the changing transaction, the notification is delivered at commit, and ``OutboxListener``
wakes every process's relay at once. The same connection, the relay's own, then reads the new
rows on the event loop (a prepared statement, no thread). The poll stays as the fallback, every
second; SQLite polls every 50 ms, reading through Django on the relay's thread.

The relay's work per change is kept to what someone receives: a row's payload stays JSON text
until a message needs it, and no message is built for a group with no socket in this process
(the sequence and the holes move on all the same).

The relay tails by sequence number, but a number is taken at INSERT and becomes visible at
COMMIT: of two concurrent transactions the one holding the smaller number may commit second,
after the relay has moved past it. So the relay remembers the holes it passes and asks for them
again until they show up (or ``GAP_PATIENCE`` says the transaction rolled back); a late commit
is sent late, never skipped (invariant 4).

Who receives what is ``compute.outbox.audience``'s; a reconnecting page is caught up by
``compute.outbox.replay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection, connections

from compute.models import ChangeEvent, Host, Instance
from compute.outbox.audience import (
    PROJECT_PREFIX,
    OutboxRow,
    everyone,
    messages_for,
    projects_on_hosts,
)
from compute.outbox.fanout import DeltaMessage
from compute.outbox.listener import OutboxListener
from compute.outbox.replay import latest_seq
from compute.outbox.write import tail_sql
from compute.policy import members_see_host_status

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where the relay hands a delta: this process's fan-out (or a test's recorder)."""

    async def group_send(self, group: str, message: DeltaMessage) -> None: ...


# A sink may also say which groups have a receiver in this process (``LocalFanout`` does):
# ``wants(group)`` and ``wants_any(prefix)``. The relay builds no message for a group nobody
# here receives; a sink without them is handed every group's message.

#: Seconds a missing sequence number is looked for again. An outbox id is taken at INSERT but
#: becomes visible at COMMIT, so a transaction that commits after one holding a later id leaves
#: a hole the relay has already passed; the relay keeps asking for the hole until the row shows
#: up or this long has passed (then the transaction rolled back: ids are never reused).
GAP_PATIENCE = 30.0
#: Holes remembered at most; a larger jump in the sequence is not transactions in flight.
GAPS_KEPT = 1000


async def _woken(wake: asyncio.Event, timeout: float) -> None:
    """Wait until ``wake`` is set or ``timeout`` passes (then it is set: time for a poll).

    ``asyncio.wait_for`` would create and cancel a task per wait; this is one timer handle.
    """
    if wake.is_set():
        return
    handle = asyncio.get_running_loop().call_later(timeout, wake.set)
    try:
        await wake.wait()
    finally:
        handle.cancel()


class OutboxRelay:
    """Tails the outbox and fans it out. One per web process, started on its event loop.

    On PostgreSQL the relay reads the outbox on a connection of its own, on the event loop,
    the same connection that LISTENs (``OutboxListener``): a wake-up costs one prepared
    statement's round trip and no thread hop. Elsewhere (SQLite) it reads through Django on one
    worker thread of its own, and polls.
    """

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
        #: PostgreSQL: the relay's own connection (LISTENing when ``run`` listens).
        self._listener: OutboxListener | None = None
        self._wake: asyncio.Event | None = None
        # One thread, so the relay keeps one database connection for its life (SQLite).
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="outbox-relay")
        #: Read through a connection of the relay's own, not Django's (``OutboxListener``).
        self._on_postgresql = connection.vendor == "postgresql"
        #: The task running ``run``: the one that keeps the connection between passes.
        self._runner: asyncio.Task[Any] | None = None

    def ensure_started(self) -> None:
        """Start on the running loop unless already running there (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        """Cancel the relay and its listener, and close the relay's connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        await self._close_aconn()
        await self._db(connections.close_all)()
        self._executor.shutdown(wait=False)

    def _db(self, func: Any) -> Any:
        return sync_to_async(func, thread_sensitive=False, executor=self._executor)

    async def run(self) -> None:
        self._runner = asyncio.current_task()
        wake = asyncio.Event()
        listen = self.listen if self.listen is not None else OutboxListener.available()
        # On PostgreSQL the relay's connection LISTENs (see ``_connection``); elsewhere the
        # relay polls.
        self._wake = wake if listen else None
        failures = 0
        try:
            while True:
                wake.clear()  # before the pass: a commit during it wakes the next one
                try:
                    read = await self.step()
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
                    await self._close_aconn()
                    if not self._on_postgresql:
                        await self._db(close_old_connections)()
                    await asyncio.sleep(min(1.0, self.poll_interval * 2**failures))
                    continue
                failures = 0
                if read >= self.batch:
                    continue  # a full batch: there may be more behind it
                # Anything committed since the pass began has set ``wake`` (NOTIFY) or is
                # found by the next poll: no second pass just to find nothing.
                await _woken(wake, self._wait())
        finally:
            self._runner = None
            await self._close_aconn()

    def _wait(self) -> float:
        """How long to sleep when idle: a relay woken by NOTIFY polls as a safety net only."""
        if self._listener is not None and self._listener.listening:
            return self.idle_poll
        return self.poll_interval

    async def step(self) -> int:
        """One pass: relay what is new (a fresh relay starts at the outbox's end: pages catch
        up on what came before from their own sequence, with ``replay``)."""
        if self.last_seq is None:
            if self._on_postgresql:
                self.last_seq = await self._latest_seq_async()
            else:
                self.last_seq = await self._db(latest_seq)()
        return await self.relay_once()

    async def relay_once(self) -> int:
        """Read and hand on what is new; the number of outbox rows read (sent or not)."""
        sink = self.sink
        wanted: Callable[[str], bool] = getattr(sink, "wants", None) or everyone
        # Host rows reach project groups only where members see host_status; which projects
        # is a query, not asked when no socket of this process is in any project's group.
        wants_projects = getattr(sink, "wants_any", None)
        with_projects = wants_projects is None or wants_projects(PROJECT_PREFIX)
        if self._on_postgresql:
            try:
                rows = await self._fetch_async(with_projects)
            finally:
                if self._runner is None or self._runner is not asyncio.current_task():
                    # Driven by hand (a test, a tool), not by ``run``: keep no connection
                    # open between passes, with nothing to close it.
                    await self._close_aconn()
        else:
            rows = await self._db(self._fetch)(with_projects)
        if not rows:
            return 0
        # In sequence order; each hand-over is a loop over this process's sockets, no I/O wait.
        for row in rows:
            for group, message in messages_for(row, wanted):
                await sink.group_send(group, message)
        self._advance([row.id for row in rows])
        return len(rows)

    def _advance(self, sent: list[int]) -> None:
        """Move past the rows just sent, remembering the holes below the newest of them."""
        gaps = self._gaps
        if gaps:
            for pk in sent:
                gaps.pop(pk, None)
        expected = (self.last_seq or 0) + 1
        if sent == list(range(expected, expected + len(sent))):
            # The usual pass: the next numbers, in order, no hole among them.
            expected += len(sent)
        else:
            now = time.monotonic()
            for pk in sorted(p for p in sent if p >= expected):
                if pk - expected <= GAPS_KEPT:
                    for missing in range(expected, pk):
                        gaps.setdefault(missing, now)
                expected = pk + 1
        self.last_seq = max(self.last_seq or 0, expected - 1)
        if gaps:
            now = time.monotonic()
            for missing, since in list(gaps.items()):
                if now - since > GAP_PATIENCE:
                    del gaps[missing]
            while len(gaps) > GAPS_KEPT:
                del gaps[min(gaps)]

    def _query(self) -> tuple[str, list[Any]]:
        """The outbox rows after ``last_seq`` and the holes still awaited, in sequence order.
        With holes, the scan starts at the oldest of them (an index range, not the table)."""
        last = self.last_seq or 0
        if not self._gaps:
            return tail_sql(holes=False, placeholders=("%s", "%s")), [last, self.batch]
        holes = sorted(self._gaps)
        awaited = f"IN ({', '.join(['%s'] * len(holes))})"
        return (
            tail_sql(holes=True, placeholders=("%s", "%s", awaited, "%s")),
            [holes[0], last, *holes, self.batch],
        )

    def _fetch(self, with_projects: bool = True) -> list[OutboxRow]:
        """Read through Django (SQLite; any database but PostgreSQL), on the relay's thread."""
        sql, params = self._query()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = [
                OutboxRow(pk, kind, project, payload, object_id=obj)
                for pk, kind, project, obj, payload in cursor.fetchall()
            ]
        hosts = _host_rows(rows) if with_projects else []
        if hosts:
            found = projects_on_hosts({row.object_id for row in hosts})
            for row in hosts:
                row.projects = found.get(row.object_id, ())
        return rows

    async def _fetch_async(self, with_projects: bool = True) -> list[OutboxRow]:
        """Read on the relay's own PostgreSQL connection, on the event loop."""
        conn = await self._connection()
        last = str(self.last_seq or 0).encode()
        batch = str(self.batch).encode()
        if self._gaps:
            holes = sorted(self._gaps)
            array = ("{" + ",".join(map(str, holes)) + "}").encode()
            found = await conn.rows(
                conn.HOLES, [str(holes[0]).encode(), last, array, batch], prepared=True
            )
        else:
            found = await conn.rows(conn.TAIL, [last, batch], prepared=True)
        rows = [
            OutboxRow(
                int(pk),
                kind.decode(),
                project.decode() if project is not None else None,
                payload,
                object_id=obj.decode(),
            )
            for pk, kind, project, obj, payload in found
        ]
        hosts = _host_rows(rows) if with_projects else []
        if hosts:
            # ``audience.projects_on_hosts`` in SQL, on this connection: the ORM cannot run on
            # the event loop, and a thread hop per host change is what the relay's async read
            # was made to save (docs/BENCHMARKS.md, the relay's CPU per change).
            uuids = sorted({row.object_id for row in hosts})
            projects: dict[str, list[str]] = {}
            for host_uuid, project in await conn.rows(
                f"SELECT DISTINCT h.uuid::text, i.project_id FROM {Instance._meta.db_table} i "
                f"JOIN {Host._meta.db_table} h ON h.id = i.host_id "
                "WHERE h.uuid = ANY($1::uuid[]) AND i.deleted_at IS NULL".encode(),
                [("{" + ",".join(uuids) + "}").encode()],
            ):
                projects.setdefault(host_uuid.decode(), []).append(project.decode())
            for row in hosts:
                row.projects = tuple(sorted(projects.get(row.object_id, ())))
        return rows

    async def _latest_seq_async(self) -> int:
        conn = await self._connection()
        table = ChangeEvent._meta.db_table
        ((latest,),) = await conn.rows(f"SELECT COALESCE(MAX(id), 0) FROM {table}".encode(), [])
        return int(latest)

    async def _connection(self) -> OutboxListener:
        """The relay's connection, opened on first use (and again after a failure, or on
        another loop: a connection waits on the loop it was made on). It LISTENs when the
        relay runs (``run``) with ``listen``; a pass driven by hand only reads."""
        conn = self._listener
        if conn is not None and conn.usable:
            return conn
        await self._close_aconn()
        wake = self._wake if self._runner is asyncio.current_task() else None
        self._listener = await OutboxListener.open(wake)
        return self._listener

    async def _close_aconn(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            await conn.close()


def _host_rows(rows: list[OutboxRow]) -> list[OutboxRow]:
    """The host rows whose host_status members may see (none under Nova's default policy)."""
    hosts = [row for row in rows if row.kind == ChangeEvent.Kind.HOST]
    return hosts if hosts and members_see_host_status() else []


def relay_for(sink: Sink) -> OutboxRelay:
    """This process's relay, feeding ``sink`` (its ``LocalFanout``)."""
    return OutboxRelay(sink)
