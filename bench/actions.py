"""Bench 5: accepted actions per second through ``POST /v2.1/servers/{id}/action``.

A project member's token stops ACTIVE instances of the last bench project, one request per
instance (an accepted stop leaves a task and a queued dispatch, and nothing runs it, so every
request is a fresh acceptance: precondition check, conditional UPDATE, outbox row, action
record, dispatch row). The floor is a DRF endpoint that parses the same JSON body and answers
202 (``floors.trivial_view``), on the same daphne process, through the same keep-alive
connections. The load generator writes raw HTTP/1.1 on a few connections so the client costs
little next to the server.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator

from bench.api_list import token_body
from bench.context import Bench
from bench.report import Result
from bench.seed import member
from compute.models import Instance

CONNECTIONS = 8
BODY = b'{"os-stop": null}'


def request(path: str, port: int, token: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Auth-Token: {token}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY


async def hammer(port: int, requests: Iterator[bytes], seconds: float) -> tuple[int, int, float]:
    """Send requests on CONNECTIONS keep-alive connections until ``seconds`` pass or they run
    out; (accepted, other answers, elapsed seconds)."""
    accepted = other = 0
    deadline = time.monotonic() + seconds

    async def connection() -> None:
        nonlocal accepted, other
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                payload = next(requests, None)
                if payload is None:
                    return
                writer.write(payload)
                status = int((await reader.readline()).split()[1])
                length, chunked = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "transfer-encoding" and "chunked" in value:
                        chunked = True
                if chunked:
                    while size := int((await reader.readline()).strip(), 16):
                        await reader.readexactly(size + 2)
                    await reader.readline()
                elif length:
                    await reader.readexactly(length)
                if status == 202:
                    accepted += 1
                else:
                    other += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return accepted, other, time.monotonic() - started


def _token(base: str, username: str, project: str) -> str:
    body = json.dumps(token_body(username, project)).encode()
    req = urllib.request.Request(
        base + "/identity/v3/auth/tokens?nocatalog",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        return str(response.headers["X-Subject-Token"])


def run(bench: Bench) -> list[Result]:
    server = bench.web_processes()[0]
    last = len(bench.seeded.projects) - 1
    token = _token(server.http, member(last), f"bench-{last:03d}")
    pool = [
        str(u)
        for u in Instance.objects.filter(
            project_id=bench.seeded.projects[last], task_state__isnull=True
        ).values_list("uuid", flat=True)
    ]
    stops = (request(f"/v2.1/servers/{u}/action", server.port, token) for u in pool)
    trivial = request("/bench/trivial/", server.port, token)

    def repeat() -> Iterator[bytes]:
        while True:
            yield trivial

    seconds = bench.scale.action_seconds
    # Warm both paths (connections, code paths, the relay) before measuring.
    asyncio.run(hammer(server.port, iter([trivial] * 50), 5))
    asyncio.run(hammer(server.port, (next(stops) for _ in range(50)), 5))
    floor_ok, floor_other, floor_elapsed = asyncio.run(hammer(server.port, repeat(), seconds))
    ok, other, elapsed = asyncio.run(hammer(server.port, stops, seconds))
    rate, floor = ok / elapsed, floor_ok / floor_elapsed
    note = (
        f"actions: {ok:,} accepted in {elapsed:.1f} s on {CONNECTIONS} keep-alive connections "
        f"to one daphne process; trivial endpoint {floor_ok:,} in {floor_elapsed:.1f} s."
    )
    if other or floor_other:
        note += f" Non-202 answers: {other} (actions), {floor_other} (trivial)."
    return [
        Result(
            "actions",
            "accepted POST /servers/{id}/action per s",
            rate,
            floor,
            "/s",
            "≥ 0.5× floor",
            rate >= 0.5 * floor,
            note=note,
        )
    ]
