"""The relay's own PostgreSQL connection (``compute.outbox.relay.OutboxRelay``): it LISTENs for
the outbox's notifications and reads the outbox, both on the web process's event loop, with
libpq's asynchronous calls and no thread."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from django.db import connection

from compute.outbox.write import NOTIFY_CHANNEL, tail_sql


class OutboxListener:
    """The relay's own PostgreSQL connection: it LISTENs on ``NOTIFY_CHANNEL`` and reads the
    outbox, both on the event loop.

    Each notification sets ``wake``; so does connecting, so a change committed while nothing
    listened is read by the pass that follows. The connection is driven with libpq's
    asynchronous calls and one reader callback for its socket, registered for the
    connection's life: a wake-up and the read it causes cost two socket wake-ups and no
    thread, task or selector change. The two outbox reads are prepared statements.

    If the connection fails, the relay's pass fails, ``listening`` goes False, and the relay
    polls (a new connection each try, backing off to a second) until one is back.
    """

    TAIL = b"vmdash_outbox_tail"
    HOLES = b"vmdash_outbox_holes"

    def __init__(self, wake: asyncio.Event | None) -> None:
        #: Set on every notification (None: a connection that does not LISTEN).
        self.wake = wake
        self.listening = False
        self._conn: Any = None
        self._pgconn: Any = None
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: asyncio.Future[list[Any]] | None = None
        self._results: list[Any] = []
        self._error: BaseException | None = None

    @staticmethod
    def available() -> bool:
        return connection.vendor == "postgresql"

    @classmethod
    async def open(cls, wake: asyncio.Event | None) -> OutboxListener:
        import psycopg

        self = cls(wake)
        self._loop = asyncio.get_running_loop()
        self._conn = conn = await psycopg.AsyncConnection.connect(**pg_params(), autocommit=True)
        try:
            # Each read planned for its own ``after`` and the table's size now: a generic plan
            # is made once, from the statistics of the moment, and kept. Made while the outbox
            # was empty (a new database, a test's, a bench's) it is a scan of the whole table,
            # sorted — and where nothing runs ANALYZE (autovacuum off, as on this project's test
            # machines) it stays one: 0.02 → 0.2 ms a read in five minutes at 50 changes/s,
            # the relay's latency growing with it. A custom plan costs tens of microseconds.
            await conn.execute("SET plan_cache_mode = force_custom_plan")
            tail = tail_sql(holes=False, placeholders=("$1", "$2"))
            await conn.execute(f"PREPARE {cls.TAIL.decode()} (bigint, int) AS {tail}")
            with_holes = tail_sql(holes=True, placeholders=("$1", "$2", "= ANY($3)", "$4"))
            await conn.execute(
                f"PREPARE {cls.HOLES.decode()} (bigint, bigint, bigint[], int) AS {with_holes}"
            )
            if wake is not None:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self._pgconn = conn.pgconn
            self._fd = conn.pgconn.socket
            self._loop.add_reader(self._fd, self._readable)
        except BaseException:
            await conn.close()
            raise
        if wake is not None:
            self.listening = True
            wake.set()
        return self

    @property
    def usable(self) -> bool:
        return (
            self._error is None
            and self._loop is asyncio.get_running_loop()
            and self._conn is not None
            and not self._conn.closed
        )

    def _readable(self) -> None:
        try:
            self._read()
        except Exception as exc:  # never leave a pass waiting on a connection that broke
            self._fail(exc)

    def _read(self) -> None:
        pg = self._pgconn
        pg.consume_input()
        notified = False
        while pg.notifies() is not None:
            notified = True
        if notified and self.wake is not None:
            self.wake.set()
        future = self._pending
        if future is None:
            return
        while not pg.is_busy():
            result = pg.get_result()
            if result is None:
                self._pending, results, self._results = None, self._results, []
                if not future.done():
                    future.set_result(results)
                return
            self._results.append(result)

    def _fail(self, exc: BaseException) -> None:
        import psycopg

        self._error = psycopg.OperationalError(f"outbox connection lost: {exc}")
        self.listening = False
        self._unregister()
        future, self._pending = self._pending, None
        if future is not None and not future.done():
            future.set_exception(self._error)
        if self.wake is not None:
            self.wake.set()  # the relay's next pass finds out, and reconnects

    def _unregister(self) -> None:
        if self._fd >= 0 and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        self._fd = -1

    async def query(self, sql: bytes, params: list[bytes | None], *, prepared: bool = False) -> Any:
        """Run one statement (text parameters and results); its PGresult."""
        import psycopg
        from psycopg.pq import ExecStatus

        if self._error is not None:
            raise self._error
        pg = self._pgconn
        assert self._loop is not None
        # Pending before sending: whatever reads the socket from now on collects the result.
        self._pending, self._results = self._loop.create_future(), []
        future = self._pending
        try:
            if prepared:
                pg.send_query_prepared(sql, params)
            else:
                pg.send_query_params(sql, params)
            while pg.flush():  # only for a query larger than the socket's buffer
                await asyncio.sleep(0.001)
            results = await future
        finally:
            if self._pending is future:
                self._pending = None
        for result in results:
            if result.status not in (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK):
                message = (result.error_message or b"").decode(errors="replace")
                raise psycopg.DatabaseError(f"outbox read failed: {message}")
        return results[-1]

    async def rows(self, sql: bytes, params: list[bytes | None], **kw: Any) -> list[list[Any]]:
        result = await self.query(sql, params, **kw)
        get = result.get_value
        width = result.nfields
        return [[get(i, j) for j in range(width)] for i in range(result.ntuples)]

    async def close(self) -> None:
        self.listening = False
        self._unregister()
        conn, self._conn = self._conn, None
        if conn is None:
            return
        future, self._pending = self._pending, None
        if future is not None and not future.done():
            future.cancel()
        with contextlib.suppress(Exception):
            if self._loop is asyncio.get_running_loop():
                await conn.close()
            else:  # its loop is gone or elsewhere: close the socket without waiting on it
                conn.pgconn.finish()


def pg_params() -> dict[str, Any]:
    """Connection parameters for a psycopg connection of the relay's (not one of Django's)."""
    params = connection.get_connection_params()
    for django_only in ("cursor_factory", "context"):
        params.pop(django_only, None)
    return params
