"""``python -m bench [--quick] [--only NAMES] [--pg URL] [--redis URL] [--database NAME] [--keep]
[--out FILE]``.

Creates the bench database on PostgreSQL (dropped afterwards unless ``--keep``), takes an empty
Redis database, seeds the data, runs the benchmarks and prints the table. ``--quick`` is the
CI-sized run (100 clients, 10,000 instances; under three minutes). A missed target is printed,
never an error: the exit status is 0 unless a benchmark could not run at all and ``--strict``
was given.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench.report import Result, machine, not_measured, table

T = TypeVar("T")

#: (name, module, what a failure leaves in the table) in the order they run: the sync reads the
#: seeded state first; the live benchmarks only flip power states; the action benchmark leaves
#: instances of the last project with tasks nobody runs; the notifications, last, stop the web
#: processes and turn instances to ERROR.
BENCHMARKS: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    ("sync", "bench.sync", [("sync", "one pass", "≤ 2× floor")]),
    ("api", "bench.api_list", [("API list", "GET /servers/detail", "≤ 3× floor")]),
    ("memory", "bench.memory", [("memory", "RSS with idle sockets", "≤ 200 MB")]),
    ("latency", "bench.latency", [("live latency", "p50 / p99", "≤ 50 / 250 ms")]),
    ("fanout", "bench.fanout", [("fan-out", "deltas delivered/s", "≥ 0.5× floor")]),
    ("actions", "bench.actions", [("actions", "accepted actions/s", "≥ 0.5× floor")]),
    (
        "drain",
        "bench.drain",
        [
            ("drain", "host page with the plan", "≤ 3× floor"),
            ("drain", "queries per step", "≤ 1.25× (constant)"),
        ],
    ),
    (
        "notify",
        "bench.notify",
        [
            ("notify", "notification latency p99", "≤ 3× floor"),
            ("notify", "webhook deliveries/s", "≥ 0.5× floor"),
            ("notify", "live relay latency p50, notifier on (floor: off)", "≤ 1.10×"),
        ],
    ),
]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI-sized run (< 3 min).")
    parser.add_argument(
        "--only", default="", help="Comma-separated: " + ",".join(b[0] for b in BENCHMARKS)
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server (its maintenance database); the bench database is made on it.",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis server; the bench takes an empty database (8–15) on it.",
    )
    parser.add_argument(
        "--database",
        default="vmdash_bench",
        help="The bench database's name: it is dropped and made anew, so two runs at once need "
        "two names.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the bench database.")
    parser.add_argument("--out", type=Path, help="Also write the table (Markdown) here.")
    parser.add_argument("--strict", action="store_true", help="Exit 1 if a benchmark failed.")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    chosen = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = chosen - {b[0] for b in BENCHMARKS}
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    from bench.stack import Stack

    workdir = Path(tempfile.mkdtemp(prefix="vmdash-bench-"))
    stack = Stack(args.pg, args.redis, workdir, database=args.database, keep=args.keep)
    why = _unreachable(args.pg, args.redis)
    if why:
        print(f"bench: not run: {why}")
        return 1 if args.strict else 0

    from bench.sizes import FULL, QUICK

    scale = QUICK if args.quick else FULL
    results: list[Result] = []
    failed = False
    began = time.monotonic()
    load_before = os.getloadavg()
    try:
        step("database", lambda: stack.create())
        from bench.context import Bench
        from bench.seed import seed

        seeded = step(
            f"seed {scale.instances:,} instances on {scale.hosts:,} hosts",
            lambda: seed(instances=scale.instances, hosts=scale.hosts, projects=scale.projects),
        )
        bench = Bench(scale, stack, seeded)
        try:
            for name, module, rows in BENCHMARKS:
                if chosen and name not in chosen:
                    continue
                try:
                    run = importlib.import_module(module).run
                    results += step(name, lambda run=run: run(bench))
                except Exception as failure:
                    failed = True
                    traceback.print_exc()
                    why = f"{name}: not measured: {type(failure).__name__}: {failure}"
                    results += [not_measured(b, m, t, why) for b, m, t in rows]
        finally:
            bench.close()
    finally:
        stack.destroy()

    header = (
        f"vmdash benchmarks ({scale.name} run, {time.monotonic() - began:.0f} s)\n"
        f"Machine: {machine()}\n"
        f"Load average at start {load_before[0]:.2f}, at end {os.getloadavg()[0]:.2f} "
        f"(1 min; other work on the machine slows figure and floor alike, not equally)\n"
        f"Command: {_command(args.quick)}\n"
        f"Logs: {workdir}\n"
    )
    print()
    print(header)
    print(table(results))
    if args.out:
        args.out.write_text(header + "\n" + table(results) + "\n")
    return 1 if failed and args.strict else 0


def step(what: str, action: Callable[[], T]) -> T:
    started = time.monotonic()
    print(f"bench: {what} …", flush=True)
    result = action()
    print(f"bench: {what}: {time.monotonic() - started:.1f} s", flush=True)
    return result


def _command(quick: bool) -> str:
    """The command line that reproduces this run, with the candidate knobs that were set."""
    knobs = [
        f"{name}={os.environ[name]}"
        for name in ("BENCH_CHANNEL_LAYER", "BENCH_ASGI")
        if os.environ.get(name)
    ]
    return " ".join([*knobs, "python -m bench", *(["--quick"] if quick else [])])


def _unreachable(pg: str, redis_url: str) -> str | None:
    try:
        import psycopg
        import redis
        import websockets  # noqa: F401
    except ImportError as missing:
        return f"{missing.name} is not installed"
    try:
        with psycopg.connect(pg, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as failure:
        return f"PostgreSQL unreachable at {pg}: {failure}"
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as failure:
        return f"Redis unreachable at {redis_url}: {failure}"
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
