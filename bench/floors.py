"""The floors: the least any implementation of each hot path could do on this machine.

- ``serve`` (``python -m bench.floors --port P --redis URL``): a bare ``websockets`` server.
  Clients name their groups in the query string; a message published on Redis channel
  ``bench:floor`` is broadcast to its groups' sockets (the latency floor), ``blast`` broadcasts
  n frames to a group as fast as the loop goes (the fan-out floor). Its RSS with idle sockets is
  the memory floor. No compression, as daphne offers none.
- ``floor_commit``: the committing side of the latency floor — one INSERT committed in
  PostgreSQL, then one PUBLISH.
- ``sync_floor``: one raw read of every live instance and every guest, one bulk write of the
  rows that differ (and, for context, ``sync_per_host_floor``: the same split per host).
- ``api_list_floor``: one raw SQL query for the page the API returns, plus ``json.dumps``.
- ``trivial_view``: a DRF endpoint that parses the JSON body and answers 202, served by the
  same daphne process as the action API (``bench.urls``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

from bench.stack import Process, Stack, free_port
from bench.swarm import Target

FLOOR_CHANNEL = "bench:floor"
FLOOR_TABLE = "bench_floor_outbox"


# --- the bare WebSocket server ------------------------------------------------------------------


async def serve(port: int, redis_url: str) -> None:
    import redis.asyncio as redis
    from websockets.asyncio.server import ServerConnection, broadcast
    from websockets.asyncio.server import serve as ws_serve

    groups: defaultdict[str, set[ServerConnection]] = defaultdict(set)

    async def handler(ws: ServerConnection) -> None:
        query = parse_qs(urlparse(ws.request.path if ws.request else "").query)
        mine = [g for g in ",".join(query.get("groups", [])).split(",") if g]
        for group in mine:
            groups[group].add(ws)
        try:
            await ws.send('{"type":"hello","seq":0,"admin":false}')
            await ws.wait_closed()
        finally:
            for group in mine:
                groups[group].discard(ws)

    async def relay() -> None:
        client = redis.from_url(redis_url)
        pubsub = client.pubsub()
        await pubsub.subscribe(FLOOR_CHANNEL)
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            data = json.loads(message["data"])
            if "blast" in data:
                members = list(groups[data["group"]])
                template = data["frame"]
                for n in range(int(data["blast"])):
                    broadcast(members, template.replace("__SEQ__", str(n)))
                    await asyncio.sleep(0)
            else:
                for group in data["groups"]:
                    broadcast(groups[group], data["frame"])

    async with ws_serve(
        handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=2**16
    ):
        print("ready", flush=True)
        await relay()


def floor_server(stack: Stack, name: str) -> Process:
    """Start the bare server (``python -m bench.floors``) on a free port; return when it listens."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.floors", "--port", str(port), "--redis", stack.redis_url]
    process = stack.spawn(name, argv, port=port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not start; see {stack.workdir / name}.log")


def floor_target(process: Process, groups: list[str], count: int) -> Target:
    """``count`` floor sockets in ``groups`` (the floor has no sessions: groups are named)."""
    return Target(url=f"{process.ws}/ws/live/?groups={','.join(groups)}", count=count)


# --- the SQL floors -------------------------------------------------------------------------------


def floor_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} "
            "(id bigserial PRIMARY KEY, payload jsonb NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )


class FloorCommitter:
    """The least a committed change takes to reach the fan-out servers: commit, then PUBLISH."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        import psycopg
        import redis

        self.db = psycopg.connect(database_url)
        self.redis = redis.Redis.from_url(redis_url)

    def commit(self, payload: dict[str, Any], groups: list[str]) -> tuple[int, float]:
        """Insert and commit the event, publish it; (seq, monotonic time of the commit)."""
        text = json.dumps(payload, separators=(",", ":"))
        with self.db.cursor() as cursor:
            cursor.execute(f"INSERT INTO {FLOOR_TABLE} (payload) VALUES (%s) RETURNING id", [text])
            row = cursor.fetchone()
        self.db.commit()
        committed = time.monotonic()
        seq = int(row[0]) if row else 0
        frame = json.dumps({"type": "delta", "seq": seq, "delta": payload}, separators=(",", ":"))
        self.redis.publish(FLOOR_CHANNEL, json.dumps({"groups": groups, "frame": frame}))
        return seq, committed

    def blast(self, group: str, frame_template: str, n: int) -> None:
        self.redis.publish(
            FLOOR_CHANNEL, json.dumps({"blast": n, "group": group, "frame": frame_template})
        )

    def close(self) -> None:
        self.db.close()
        self.redis.close()


def sync_floor() -> tuple[float, int]:
    """One read of every live instance and every guest, one bulk write of the rows that differ.

    The write sets what the real one sets on each changed row — a small integer, ``version``
    and ``updated_at`` (indexed) — but into ``progress``: only the state machine writes
    power_state (invariant 1), and the two columns are the same type, both unindexed, so the
    row update costs the same. Returns (seconds, rows written); ``progress`` is reset after.
    """
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, uuid, task_state, power_state FROM compute_instance "
            "WHERE deleted_at IS NULL AND host_id IS NOT NULL"
        )
        rows = cursor.fetchall()
        cursor.execute("SELECT uuid, state FROM compute_fakeguest")
        guests = {u: s for u, s in cursor.fetchall()}
        ids: list[int] = []
        values: list[int] = []
        for pk, ident, task, power in rows:
            actual = guests.get(str(ident), 0)
            if task is None and actual != power:
                ids.append(pk)
                values.append(actual)
        cursor.execute(
            "UPDATE compute_instance AS i SET progress = v.p, version = i.version + 1, "
            "updated_at = now() FROM unnest(%s::bigint[], %s::smallint[]) AS v(id, p) "
            "WHERE i.id = v.id AND i.task_state IS NULL",
            [ids, values],
        )
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("UPDATE compute_instance SET progress = 0 WHERE progress <> 0")
    return elapsed, len(ids)


def sync_per_host_floor(hosts: list[tuple[int, str]]) -> float:
    """The same work split per host, as agents do it: for each host one read of its guests,
    one of its instances, one bulk write of what differs, one commit. Seconds for all hosts."""
    from django.db import connection, transaction

    started = time.perf_counter()
    for host_id, name in hosts:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT uuid, state FROM compute_fakeguest WHERE host = %s", [name])
            guests = {u: s for u, s in cursor.fetchall()}
            cursor.execute(
                "SELECT id, uuid, task_state, power_state FROM compute_instance "
                "WHERE host_id = %s AND deleted_at IS NULL",
                [host_id],
            )
            ids: list[int] = []
            values: list[int] = []
            for pk, ident, task, power in cursor.fetchall():
                actual = guests.get(str(ident), 0)
                if task is None and actual != power:
                    ids.append(pk)
                    values.append(actual)
            if ids:
                cursor.execute(
                    "UPDATE compute_instance AS i SET progress = v.p, version = i.version + 1, "
                    "updated_at = now() FROM unnest(%s::bigint[], %s::smallint[]) AS v(id, p) "
                    "WHERE i.id = v.id AND i.host_id = %s AND i.task_state IS NULL",
                    [ids, values, host_id],
                )
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("UPDATE compute_instance SET progress = 0 WHERE progress <> 0")
    return elapsed


#: The stored fields the server detail view shows, for the floor's SELECT.
_API_COLUMNS = (
    "i.uuid, i.name, i.description, i.project_id, i.user_id, i.vm_state, i.task_state, "
    "i.power_state, i.progress, i.locked, i.locked_reason, i.availability_zone, "
    "i.launched_at, i.terminated_at, i.created_at, i.updated_at, i.deleted_at, i.metadata, "
    "i.addresses, i.image_id, h.host, f.flavorid, f.name, f.vcpus, f.ram, f.disk, "
    "f.ephemeral, f.swap, f.extra_specs"
)


def api_list_floor(project: str, limit: int) -> tuple[float, int]:
    """One query for the page (same filter, order and limit as the API) and its JSON."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_API_COLUMNS} FROM compute_instance i "
            "JOIN compute_flavor f ON f.id = i.flavor_id "
            "LEFT JOIN compute_host h ON h.id = i.host_id "
            "WHERE i.project_id = %s AND i.deleted_at IS NULL "
            "ORDER BY i.created_at DESC, i.id DESC LIMIT %s",
            [project, limit],
        )
        names = [c.name for c in cursor.description]
        servers = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    body = json.dumps({"servers": servers}, default=str)
    return time.perf_counter() - started, len(body)


# --- the trivial DRF endpoint ----------------------------------------------------------------------


def trivial_view() -> Callable[..., Any]:
    """A DRF view that parses the JSON body and answers 202: the framework's own cost."""
    from rest_framework.parsers import JSONParser
    from rest_framework.permissions import AllowAny
    from rest_framework.renderers import JSONRenderer
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class TrivialAccept(APIView):
        authentication_classes: list[type] = []
        permission_classes = [AllowAny]
        parser_classes = [JSONParser]
        renderer_classes = [JSONRenderer]

        def post(self, request: Request) -> Response:
            _ = request.data
            return Response(status=202)

    return TrivialAccept.as_view()


def main() -> None:
    parser = argparse.ArgumentParser(description="The bare websockets floor server.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.redis))


if __name__ == "__main__":
    main()
