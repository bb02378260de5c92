"""Many WebSocket clients in a few worker processes, driven by the benchmark over a pipe.

Each worker (``python -m bench.swarm``) runs one asyncio loop holding its share of the
connections. Every frame is parsed as JSON (a page does that much); every ``delta`` frame is
counted and, while recording, its arrival time is kept per ``id:version``. The same harness reads
the product's sockets and the floor's, so the client side costs the same in both.

Times are ``time.monotonic()``: on Linux CLOCK_MONOTONIC is one clock for every process on the
machine, so a worker's arrival and the benchmark's commit can be subtracted.

Protocol: one JSON object per line each way; every command gets exactly one reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Latency histogram bucket, seconds (0.1 ms).
BUCKET = 0.0001


@dataclass
class Target:
    """``count`` clients of one URL with the same headers (e.g. one user's session)."""

    url: str
    count: int
    origin: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


# --- the controller (in the benchmark process) -------------------------------------------------------


class Swarm:
    def __init__(self, workers: int, log_dir: Path) -> None:
        self.workers: list[subprocess.Popen[str]] = []
        for n in range(workers):
            log = open(log_dir / f"swarm-{n}.log", "a")  # noqa: SIM115 - the child owns it
            self.workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.swarm"],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            )
            log.close()

    def _call(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for worker, command in zip(self.workers, commands, strict=True):
            assert worker.stdin is not None
            worker.stdin.write(json.dumps(command) + "\n")
            worker.stdin.flush()
        replies = []
        for worker in self.workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            if not line:
                raise RuntimeError("a swarm worker died; see its log")
            reply = json.loads(line)
            if "error" in reply:
                raise RuntimeError(f"swarm worker: {reply['error']}")
            replies.append(reply)
        return replies

    def _all(self, op: str, **args: Any) -> list[dict[str, Any]]:
        return self._call([{"op": op, **args} for _ in self.workers])

    def connect(self, targets: list[Target], *, concurrency: int = 32) -> int:
        """Open every target's sockets (spread over the workers); wait for each hello."""
        shares: list[list[dict[str, Any]]] = [[] for _ in self.workers]
        for n, target in enumerate(targets):
            for k in range(len(self.workers)):
                count = target.count // len(self.workers) + (
                    1 if k < target.count % len(self.workers) else 0
                )
                if count:
                    shares[(n + k) % len(self.workers)].append(
                        {
                            "url": target.url,
                            "count": count,
                            "origin": target.origin,
                            "headers": target.headers,
                        }
                    )
        replies = self._call(
            [{"op": "connect", "targets": s, "concurrency": concurrency} for s in shares]
        )
        return sum(int(r["connected"]) for r in replies)

    def record(self, *, keys: bool) -> None:
        """Start counting afresh; with ``keys``, keep arrival times per id:version."""
        self._all("record", keys=keys)

    def wait(self, expect: int, timeout: float) -> dict[str, Any]:
        """Until every client has ``expect`` deltas since ``record`` (or the timeout)."""
        replies = self._all("wait", expect=expect, timeout=timeout)
        return {
            "clients": sum(r["clients"] for r in replies),
            "complete": sum(r["complete"] for r in replies),
            "frames": sum(r["frames"] for r in replies),
            "first": min((r["first"] for r in replies if r["first"] is not None), default=None),
            "last": max((r["last"] for r in replies if r["last"] is not None), default=None),
        }

    def frames(self) -> int:
        """Deltas received by every client since ``record``."""
        return sum(int(r["frames"]) for r in self._all("frames"))

    def drain(self, expect: int, *, timeout: float, settle: float = 1.0) -> None:
        """Wait until ``expect`` deltas have arrived, or nothing arrived for ``settle`` seconds
        after the timeout began to matter (a lost delta must not stall the benchmark)."""
        deadline = time.monotonic() + timeout
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = self.frames()
            if now >= expect:
                return
            if now != seen:
                seen, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since > max(settle, 5.0):
                return
            time.sleep(settle / 4)

    def latencies(self, commits: dict[str, float]) -> tuple[dict[int, int], int, int]:
        """Histogram {bucket: count} of arrival − commit; deliveries matched and unmatched."""
        replies = self._all("latencies", commits=commits)
        merged: dict[int, int] = {}
        matched = unmatched = 0
        for reply in replies:
            for bucket, count in reply["histogram"].items():
                merged[int(bucket)] = merged.get(int(bucket), 0) + count
            matched += reply["matched"]
            unmatched += reply["unmatched"]
        return merged, matched, unmatched

    def close_connections(self) -> None:
        self._all("close")

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                assert worker.stdin is not None
                try:
                    worker.stdin.close()
                    worker.wait(10)
                except (OSError, subprocess.TimeoutExpired):
                    worker.kill()
                    worker.wait(5)
        self.workers.clear()


# --- the worker --------------------------------------------------------------------------------------


@dataclass
class Client:
    ws: Any
    count: int = 0
    first: float | None = None
    last: float | None = None


class Worker:
    def __init__(self) -> None:
        self.clients: list[Client] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.keys = False
        self.arrivals: dict[str, list[float]] = {}
        self.expect = 0
        self.complete = 0
        self.all_complete = asyncio.Event()

    async def connect(self, targets: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
        from websockets.asyncio.client import connect

        gate = asyncio.Semaphore(concurrency)

        async def one(target: dict[str, Any]) -> None:
            async with gate:
                ws = await connect(
                    target["url"],
                    origin=target["origin"],
                    additional_headers=target["headers"],
                    compression=None,
                    ping_interval=None,
                    open_timeout=120,
                    close_timeout=2,
                    max_size=2**20,
                )
                hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if hello.get("type") != "hello":
                    raise RuntimeError(f"expected hello, got {hello}")
            client = Client(ws)
            self.clients.append(client)
            self.tasks.append(asyncio.create_task(self.read(client)))

        jobs = [one(t) for t in targets for _ in range(t["count"])]
        await asyncio.gather(*jobs)
        return {"connected": len(jobs)}

    async def read(self, client: Client) -> None:
        from websockets.exceptions import ConnectionClosed

        loads, monotonic = json.loads, time.monotonic
        try:
            async for raw in client.ws:
                now = monotonic()
                frame = loads(raw)
                if frame.get("type") != "delta":
                    continue
                client.count += 1
                if client.first is None:
                    client.first = now
                client.last = now
                if self.keys:
                    delta = frame["delta"]
                    key = f"{delta['id']}:{delta['version']}"
                    self.arrivals.setdefault(key, []).append(now)
                if client.count == self.expect:
                    self.complete += 1
                    if self.complete == len(self.clients):
                        self.all_complete.set()
        except ConnectionClosed:
            pass

    def record(self, keys: bool) -> dict[str, Any]:
        self.keys = keys
        self.arrivals = {}
        self.expect = 0
        self.complete = 0
        self.all_complete = asyncio.Event()
        for client in self.clients:
            client.count, client.first, client.last = 0, None, None
        return {"ok": True}

    async def wait(self, expect: int, timeout: float) -> dict[str, Any]:
        self.expect = expect
        self.complete = sum(1 for c in self.clients if c.count >= expect)
        if self.complete >= len(self.clients):
            self.all_complete.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_complete.wait(), timeout)
        firsts = [c.first for c in self.clients if c.first is not None]
        lasts = [c.last for c in self.clients if c.last is not None]
        return {
            "clients": len(self.clients),
            "complete": sum(1 for c in self.clients if c.count >= expect),
            "frames": sum(c.count for c in self.clients),
            "first": min(firsts, default=None),
            "last": max(lasts, default=None),
        }

    def latencies(self, commits: dict[str, float]) -> dict[str, Any]:
        histogram: dict[int, int] = {}
        matched = unmatched = 0
        for key, times in self.arrivals.items():
            committed = commits.get(key)
            if committed is None:
                unmatched += len(times)
                continue
            for arrived in times:
                bucket = max(0, int((arrived - committed) / BUCKET))
                histogram[bucket] = histogram.get(bucket, 0) + 1
            matched += len(times)
        return {"histogram": histogram, "matched": matched, "unmatched": unmatched}

    async def close(self) -> dict[str, Any]:
        await asyncio.gather(*(c.ws.close() for c in self.clients), return_exceptions=True)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.clients, self.tasks = [], []
        return {"ok": True}

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                await self.close()
                return
            command = json.loads(line)
            op = command.pop("op")
            try:
                if op == "connect":
                    reply = await self.connect(command["targets"], command["concurrency"])
                elif op == "record":
                    reply = self.record(command["keys"])
                elif op == "wait":
                    reply = await self.wait(command["expect"], command["timeout"])
                elif op == "frames":
                    reply = {"frames": sum(c.count for c in self.clients)}
                elif op == "latencies":
                    reply = self.latencies(command["commits"])
                elif op == "close":
                    reply = await self.close()
                else:
                    reply = {"error": f"unknown op {op}"}
            except Exception as failure:
                reply = {"error": f"{type(failure).__name__}: {failure}"}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(Worker().serve())
