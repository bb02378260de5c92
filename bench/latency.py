"""Bench 1: live latency — from the commit of a state change to its arrival at the WebSockets.

The deployment is the scale-out one: two daphne processes on PostgreSQL and Redis, each relaying
the outbox to its own sockets. The audience is ``scale.clients`` sockets spread evenly over the two processes: one in
twenty is an admin's (they see every change), the rest are members spread evenly over the
projects (each sees its project's changes). The writer, in this process, commits ``scale.rate``
power_state changes per second through the state machine (``set_power_states``, one instance
per transaction, instances of every project in turn) and notes the monotonic time each commit
returned; the clients note when each delta arrived. Every (change, socket) pair is a sample.

The floor: the same audience and the same commits, through the least machinery — each change
is an INSERT committed in PostgreSQL and then PUBLISHed on Redis, and two bare ``websockets``
servers subscribed to Redis broadcast it to the sockets of its groups.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.context import Bench
from bench.floors import FloorCommitter, floor_server, floor_table, floor_target
from bench.report import Result, histogram_percentile
from bench.stack import Process, cpu_seconds
from bench.swarm import BUCKET, Target
from compute import state_machine
from compute.models import Instance
from compute.outbox.write import DeltaBuilder

WARMUP = 2.0
#: Longest wait for deltas still in flight after the last commit (a backlog is a result too).
DRAIN_LIMIT = 120.0
SHUTDOWN, RUNNING = 4, 1


def _pool(bench: Bench, count: int) -> list[tuple[int, int, str, str]]:
    """(pk, host_id, uuid, project) of ``count`` idle instances, cycling through the projects
    (the last project is the action benchmark's)."""
    projects = bench.seeded.projects[:-1] or bench.seeded.projects
    per_project = count // len(projects) + 1
    columns = ("pk", "host_id", "uuid", "project_id")
    rows: list[list[tuple[int, int, str, str]]] = []
    for pid in projects:
        found = Instance.objects.filter(project_id=pid, task_state__isnull=True).order_by("id")
        rows.append(
            [(pk, h, str(u), p) for pk, h, u, p in found.values_list(*columns)[:per_project]]
        )
    pool = [row for group in zip(*rows, strict=False) for row in group]
    return pool[:count]


def _pace(rate: float, seconds: float, change: Callable[[int], None]) -> None:
    total = int(rate * seconds)
    started = time.monotonic()
    for n in range(total):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        change(n)


#: Changes before the measured ones at which the clients start recording (before that change's
#: commit): telling the swarm processes takes a moment, and a delta arriving in 3 ms could beat
#: the message. The deltas of these changes are recorded but match no commit, so the drain
#: waits for them too — counting them as measured ones let it stop while the last measured
#: deltas were still in flight, which looked like lost deliveries.
RECORD_AHEAD = 10


def run(bench: Bench) -> list[Result]:
    scale = bench.scale
    admins = max(1, scale.clients // 20)
    total = int(scale.rate * (scale.latency_seconds + WARMUP))
    pool = _pool(bench, total)
    members = _members_per_project(bench, admins)

    # --- the product ---------------------------------------------------------------------
    a, b = bench.web_processes()
    bench.swarm.connect(bench.audience([a, b], admins=admins))
    cpu = _cpu([a, b])
    power = dict.fromkeys((row[0] for row in pool), RUNNING)
    commits: dict[str, float] = {}
    expected = ahead = 0
    warm = int(scale.rate * WARMUP)

    def change(n: int) -> None:
        nonlocal expected, ahead
        pk, host_id, _, project = pool[n % len(pool)]
        power[pk] = SHUTDOWN if power[pk] == RUNNING else RUNNING
        if n == warm - RECORD_AHEAD:
            bench.swarm.record(keys=True)
        written = state_machine.set_power_states(host_id=host_id, changes={pk: power[pk]})
        committed = time.monotonic()
        audience = len(written) * (admins + members[project])
        if n >= warm:
            for instance in written:
                commits[f"{instance.uuid}:{instance.version}"] = committed
            expected += audience
        elif n >= warm - RECORD_AHEAD:
            ahead += audience

    _pace(scale.rate, scale.latency_seconds + WARMUP, change)
    bench.swarm.drain(expected + ahead, timeout=DRAIN_LIMIT)
    product_cpu = _cpu([a, b]) - cpu
    histogram, matched, unmatched = bench.swarm.latencies(commits)
    bench.swarm.close_connections()

    # --- the floor -------------------------------------------------------------------------
    floor_table()
    servers = [floor_server(bench.stack, f"floor-latency-{n}") for n in range(2)]
    try:
        targets = [floor_target(servers[n % 2], ["admins"], 1) for n in range(admins)]
        for p, pid in enumerate(bench.seeded.projects):
            count = members[pid]
            for n in range(count):
                targets.append(floor_target(servers[(p + n) % 2], [f"project.{pid}"], 1))
        bench.swarm.connect(_merge(targets))
        cpu = _cpu(servers)
        committer = FloorCommitter(bench.stack.database_url, bench.stack.redis_url)
        template = _template(pool[0][0])
        floor_commits: dict[str, float] = {}

        floor_expected = floor_ahead = 0

        def floor_change(n: int) -> None:
            nonlocal floor_expected, floor_ahead
            _, _, uuid, project = pool[n % len(pool)]
            payload = {**template, "id": uuid, "version": n, "project_id": project}
            if n == warm - RECORD_AHEAD:
                bench.swarm.record(keys=True)
            _, committed = committer.commit(payload, [f"project.{project}", "admins"])
            if n >= warm:
                floor_commits[f"{uuid}:{n}"] = committed
                floor_expected += admins + members[project]
            elif n >= warm - RECORD_AHEAD:
                floor_ahead += admins + members[project]

        _pace(scale.rate, scale.latency_seconds + WARMUP, floor_change)
        bench.swarm.drain(floor_expected + floor_ahead, timeout=DRAIN_LIMIT)
        floor_cpu = _cpu(servers) - cpu
        floor_histogram, floor_matched, _ = bench.swarm.latencies(floor_commits)
        bench.swarm.close_connections()
        committer.close()
    finally:
        for server in servers:
            bench.stack.stop(server)

    def ms(hist: dict[int, int], q: float) -> float:
        return histogram_percentile(hist, q, width=BUCKET) * 1000

    p50, p99 = ms(histogram, 50), ms(histogram, 99)
    f50, f99 = ms(floor_histogram, 50), ms(floor_histogram, 99)
    audience = (
        f"{scale.clients:,} sockets on 2 daphne processes ({admins} admins', the rest members "
        f"of {len(bench.seeded.projects)} projects), {scale.rate:.0f} changes/s for "
        f"{scale.latency_seconds:.0f} s"
    )
    note = (
        f"latency: {audience}; {matched:,} of {expected:,} expected deliveries arrived "
        f"(floor {floor_matched:,} of {floor_expected:,}; {unmatched:,} more were of warm-up changes or matched no "
        f"commit); p99.9 {ms(histogram, 99.9):.1f} ms, max "
        f"{ms(histogram, 100):.1f} ms. Server CPU per delivery (all web processes, "
        f"warm-up included): {_per(product_cpu, matched)} µs, floor {_per(floor_cpu, floor_matched)} µs."
    )
    return [
        Result("live latency", "commit → socket, p50", p50, f50, "ms", "≤ 50 ms", p50 <= 50, note),
        Result("live latency", "commit → socket, p99", p99, f99, "ms", "≤ 250 ms", p99 <= 250),
    ]


def _cpu(processes: list[Process]) -> float:
    return sum(cpu_seconds(p.pid) for p in processes)


def _per(seconds: float, count: int) -> str:
    return f"{seconds / count * 1e6:,.0f}" if count else "—"


def _members_per_project(bench: Bench, admins: int) -> dict[str, int]:
    members = bench.scale.clients - admins
    projects = bench.seeded.projects
    return {
        pid: members // len(projects) + (1 if p < members % len(projects) else 0)
        for p, pid in enumerate(projects)
    }


def _merge(targets: list[Target]) -> list[Target]:
    """One target per (url, headers): fewer, bigger shares for the swarm."""
    merged: dict[str, Target] = {}
    for t in targets:
        key = t.url + repr(sorted(t.headers.items()))
        if key in merged:
            merged[key].count += t.count
        else:
            merged[key] = Target(t.url, t.count, t.origin, dict(t.headers))
    return list(merged.values())


def _template(pk: int) -> dict[str, Any]:
    """A real instance delta, so the floor's frames weigh what the product's do."""
    instance = Instance.objects.select_related("host").get(pk=pk)
    return dict(DeltaBuilder().instance(instance))
