"""Bench: 200 open serial consoles on one daphne — keystroke round trip and memory per console.

``python -m bench.consoles [--quick] [--pg URL] [--database NAME]``. A private redis-server, a
PostgreSQL database (dropped after), a compute agent for one fake host in its own process and
one daphne process: the consoles take the scale-out path (socket → daphne → Redis → the agent's
console worker → the simulated guest's echo → Redis → daphne → socket). Each of the 200 sockets
is logged in at its guest's prompt, then all of them type at once, one keystroke in flight per
console, each waiting for its echo. The floor is a bare ``websockets`` echo server in its own
process, driven by the same 200 clients the same way, in the same run. Memory is daphne's RSS
before the sockets and with them open, per console.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONSOLES = 200
HOST = "bench-consoles-1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def type_and_wait(socket: Any, data: str, until: str, *, raw: bool = False) -> float:
    """Send ``data``; seconds until a frame brings ``until`` back."""
    started = time.perf_counter()
    await socket.send(data if raw else json.dumps({"type": "input", "data": data}))
    seen = ""
    while until not in seen:
        frame = await asyncio.wait_for(socket.recv(), 30)
        seen += frame if raw else json.loads(frame).get("data", "")
    return time.perf_counter() - started


async def drive(sockets: list[Any], keystrokes: int, *, raw: bool = False) -> list[float]:
    """Every socket types ``keystrokes`` characters, one in flight each, all at once."""

    async def one(socket: Any, n: int) -> list[float]:
        await asyncio.sleep((n % 50) / 1000)  # spread the starts over 50 ms
        return [
            await type_and_wait(socket, c, c, raw=raw)
            for c in ("abcdefghijklmnopqrstuvwxyz" * 8)[:keystrokes]
        ]

    rounds = await asyncio.gather(*(one(s, n) for n, s in enumerate(sockets)))
    return [t for r in rounds for t in r]


async def echo_floor(port: int) -> None:
    from websockets.asyncio.server import serve

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(json.dumps({"type": "output", "data": json.loads(message)["data"]}))

    async with serve(echo, "127.0.0.1", port, compression=None):
        await asyncio.Future()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.consoles", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 keystrokes per console (CI size)")
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--database", default="vmdash_bench_consoles")
    parser.add_argument("--echo-floor", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo_floor:
        asyncio.run(echo_floor(args.echo_floor))
        return 0
    sys.path.insert(0, str(ROOT))
    from bench.stack import Stack, rss_mib

    if shutil.which("redis-server") is None:
        print("bench.consoles: not run: redis-server is not installed")
        return 0
    keystrokes = 10 if args.quick else 50
    # 200 guests in one project, on the one fake host: no quota in the way.
    os.environ["QUOTA_DEFAULTS"] = "instances=-1,cores=-1,ram=-1"
    workdir = Path(tempfile.mkdtemp(prefix="vmdash-bench-consoles-"))
    redis_port = free_port()
    redis = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    stack = Stack(args.pg, f"redis://127.0.0.1:{redis_port}/0", workdir, database=args.database)
    try:
        time.sleep(0.3)
        stack.create()
        return _run(stack, keystrokes, workdir, rss_mib)
    finally:
        stack.destroy()
        redis.terminate()
        redis.wait(5)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(stack: Any, keystrokes: int, workdir: Path, rss_mib: Any) -> int:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from compute.consoles.service import remote_console_create
    from compute.context import RequestContext
    from compute.models import Host, Instance, Project
    from compute.services import instance_create, user_ensure

    started = time.monotonic()
    import_module_seed = __import__("importlib").import_module
    import_module_seed("compute.migrations.0002_seed_flavors_and_images").seed(
        __import__("django.apps", fromlist=["apps"]).apps, None
    )
    user_ensure(username="typist", password=None, project="bench")
    account = get_user_model().objects.get(username="typist")
    project = Project.objects.get(name="bench")
    context = RequestContext(
        user_id=account.pk, user_name="typist", project_id=project.pk,
        project_ids=frozenset({project.pk}), is_admin=False, client="bench",
    )  # fmt: skip
    agent = stack.spawn(
        "agent", [sys.executable, "manage.py", "compute_agent", "--host", HOST, "--driver", "fake"]
    )
    deadline = time.monotonic() + 60
    while not Host.objects.filter(host=HOST).exists():
        assert time.monotonic() < deadline, "the agent did not register"
        time.sleep(0.2)
    for n in range(CONSOLES):
        instance_create(
            context=context,
            name=f"c{n}",
            flavor_ref="1",
            image_ref="3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0001",
        )
    while Instance.objects.filter(vm_state="active", task_state__isnull=True).count() < CONSOLES:
        assert time.monotonic() < deadline + 120, "the guests did not build"
        time.sleep(0.5)
    print(
        f"bench.consoles: {CONSOLES} guests built ({time.monotonic() - started:.0f} s)", flush=True
    )
    client = Client()
    client.force_login(account)
    session = client.cookies["sessionid"].value
    daphne = stack.daphne("daphne-consoles")
    uuids = [str(u) for u in Instance.objects.order_by("name").values_list("uuid", flat=True)]
    tokens = [
        remote_console_create(
            context=context, instance_uuid=u, protocol="serial", console_type="serial"
        ).token
        for u in uuids
    ]
    idle = rss_mib(daphne.pid)
    result = asyncio.run(_consoles(daphne, session, tokens, keystrokes))
    holding = rss_mib(daphne.pid)
    floor_port = free_port()
    floor = stack.spawn(
        "echo-floor",
        [sys.executable, "-m", "bench.consoles", "--echo-floor", str(floor_port)],
        port=floor_port,
    )
    try:
        floor_result = asyncio.run(_floor(floor_port, keystrokes))
    finally:
        stack.stop(floor)
        stack.stop(agent)
    p50, p99 = percentile(result, 0.5) * 1000, percentile(result, 0.99) * 1000
    f50, f99 = percentile(floor_result, 0.5) * 1000, percentile(floor_result, 0.99) * 1000
    per_console = (holding - idle) * 1024 / CONSOLES
    print()
    print(
        f"vmdash console benchmark ({'quick' if keystrokes == 10 else 'full'}: {CONSOLES} consoles, {keystrokes} keystrokes each, all at once)"
    )
    print(f"load average now {os.getloadavg()[0]:.2f}; logs in {workdir}")
    print("| measure | consoles | bare websocket echo floor | ratio |")
    print("|---|---|---|---|")
    print(f"| keystroke round trip p50 | {p50:.1f} ms | {f50:.1f} ms | {p50 / f50:.1f}× |")
    print(f"| keystroke round trip p99 | {p99:.1f} ms | {f99:.1f} ms | {p99 / f99:.1f}× |")
    print(
        f"| mean | {statistics.mean(result) * 1000:.1f} ms | {statistics.mean(floor_result) * 1000:.1f} ms | |"
    )
    print(f"| daphne RSS | {idle:.0f} MiB idle → {holding:.0f} MiB with {CONSOLES} consoles | | |")
    print(f"| memory per console | {per_console:.0f} KiB | | |")
    return 0


async def _consoles(daphne: Any, session: str, tokens: list[str], keystrokes: int) -> list[float]:
    from websockets.asyncio.client import connect

    headers = {"Cookie": f"sessionid={session}", "Origin": daphne.http}
    sockets = []
    for token in tokens:
        socket = await connect(
            f"{daphne.ws}/ws/consoles/serial/?token={token}",
            additional_headers=headers,
            compression=None,
            max_queue=None,
        )
        assert json.loads(await socket.recv())["type"] == "hello"
        sockets.append(socket)
    for socket in sockets:  # drain the screen frame
        while json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] != "screen":
            pass
    await asyncio.gather(*(type_and_wait(s, "root\r", "# ") for s in sockets))
    print(f"bench.consoles: {len(sockets)} consoles open and logged in", flush=True)
    try:
        alone = await drive(sockets[:1], 20)  # one console typing while the others idle
        print(
            f"bench.consoles: one console alone: p50 {percentile(alone, 0.5) * 1000:.1f} ms",
            flush=True,
        )
        return await drive(sockets, keystrokes)
    finally:
        await asyncio.gather(*(s.close() for s in sockets))


async def _floor(port: int, keystrokes: int) -> list[float]:
    from websockets.asyncio.client import connect

    for _ in range(100):
        try:
            probe = await connect(f"ws://127.0.0.1:{port}/")
            await probe.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    sockets = [await connect(f"ws://127.0.0.1:{port}/", compression=None) for _ in range(CONSOLES)]
    try:
        alone = await drive(sockets[:1], 20)
        print(
            f"bench.consoles: floor, one client alone: p50 {percentile(alone, 0.5) * 1000:.1f} ms",
            flush=True,
        )
        return await drive(sockets, keystrokes)
    finally:
        await asyncio.gather(*(s.close() for s in sockets))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
