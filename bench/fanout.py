"""Bench 2: fan-out — state deltas delivered per second when every socket sees every change.

The product: ``scale.clients`` sockets of one project's member, spread over the two daphne
processes on Redis; this process commits ``scale.burst`` power_state changes of that project's
instances as fast as it can (one per transaction, through the state machine). The figure is the
deliveries counted at the clients divided by the time from the first commit to the last
arrival.

The floor: one bare ``websockets`` server process with as many sockets, told over Redis to
``broadcast`` ``scale.burst`` frames of the same size; the same count over the same span.
"""

from __future__ import annotations

import json
import time

from bench.context import Bench
from bench.floors import FloorCommitter, floor_server, floor_target
from bench.report import Result
from bench.seed import member
from bench.stack import cpu_seconds
from compute import state_machine
from compute.models import Instance
from compute.outbox.write import DeltaBuilder

SHUTDOWN, RUNNING = 4, 1


def run(bench: Bench) -> list[Result]:
    scale = bench.scale
    project = bench.seeded.projects[0]
    clients = scale.clients
    timeout = 30 + scale.burst * clients / 1_000

    # --- the product ---------------------------------------------------------------------
    a, b = bench.web_processes()
    half = clients // 2
    bench.swarm.connect(
        [bench.target(a, member(0), clients - half), bench.target(b, member(0), half)]
    )
    rows = list(
        Instance.objects.filter(project_id=project, task_state__isnull=True)
        .order_by("id")
        .values_list("pk", "host_id", "power_state")[: scale.burst]
    )
    bench.swarm.record(keys=False)
    cpu = cpu_seconds(a.pid) + cpu_seconds(b.pid)
    started = time.monotonic()
    for pk, host_id, power in rows:
        flipped = RUNNING if power != RUNNING else SHUTDOWN
        state_machine.set_power_states(host_id=host_id, changes={pk: flipped})
    committed = time.monotonic() - started
    product = bench.swarm.wait(expect=len(rows), timeout=timeout)
    product_cpu = cpu_seconds(a.pid) + cpu_seconds(b.pid) - cpu
    bench.swarm.close_connections()
    product_rate = product["frames"] / (product["last"] - started) if product["last"] else 0.0

    # --- the floor -------------------------------------------------------------------------
    server = floor_server(bench.stack, "floor-fanout")
    try:
        bench.swarm.connect([floor_target(server, ["fanout"], clients)])
        instance = Instance.objects.select_related("host").get(pk=rows[0][0])
        frame = json.dumps(
            {"type": "delta", "seq": 0, "delta": dict(DeltaBuilder().instance(instance))},
            separators=(",", ":"),
        ).replace('"seq":0', '"seq":__SEQ__', 1)
        committer = FloorCommitter(bench.stack.database_url, bench.stack.redis_url)
        bench.swarm.record(keys=False)
        cpu = cpu_seconds(server.pid)
        floor_started = time.monotonic()
        committer.blast("fanout", frame, len(rows))
        floor = bench.swarm.wait(expect=len(rows), timeout=timeout)
        floor_cpu = cpu_seconds(server.pid) - cpu
        bench.swarm.close_connections()
        committer.close()
    finally:
        bench.stack.stop(server)
    floor_rate = floor["frames"] / (floor["last"] - floor_started) if floor["last"] else 0.0

    expected = len(rows) * clients
    note = (
        f"fan-out: {len(rows)} deltas × {clients:,} sockets; product delivered "
        f"{product['frames']:,} of {expected:,} ({product['complete']} sockets complete; the "
        f"{len(rows)} commits took {committed:.2f} s), floor {floor['frames']:,}. Server CPU "
        f"per delivery: {_per(product_cpu, product['frames'])} µs (2 daphne), floor "
        f"{_per(floor_cpu, floor['frames'])} µs."
    )
    return [
        Result(
            "fan-out",
            f"deltas delivered/s to {clients:,} sockets",
            product_rate,
            floor_rate,
            "/s",
            "≥ 0.5× floor",
            product_rate >= 0.5 * floor_rate,
            note=note,
        )
    ]


def _per(seconds: float, count: int) -> str:
    return f"{seconds / count * 1e6:,.0f}" if count else "—"
