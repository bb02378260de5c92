"""Bench 3: one power-state sync pass over every host of the fake hypervisor.

The figure is ``compute.sync.sync_host`` run for every host in turn, in this one process, as
the agents would each run it for their own host. The floor is one raw read of every live
instance and every guest plus one bulk write of the rows that differ (``floors.sync_floor``).
Queries are counted per host with an execute wrapper (no SQL is recorded, so the count costs
nothing measurable): the number must not depend on how many instances a host has or how many
of them changed.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connection

from bench.context import Bench
from bench.floors import sync_floor, sync_per_host_floor
from bench.report import Result
from bench.seed import DRIFT_SPREAD
from compute.drivers.fake import FakeDriver
from compute.models import Host
from compute.sync import sync_host


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def run(bench: Bench) -> list[Result]:
    floors = [sync_floor() for _ in range(3)]
    floor_seconds = statistics.median(f[0] for f in floors)
    floor_rows = floors[0][1]

    hosts = list(Host.objects.order_by("host"))
    per_host_floor = sync_per_host_floor([(h.pk, h.host) for h in hosts])
    counter = QueryCounter()
    per_host: list[int] = []
    changed = 0
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        for host in hosts:
            before = counter.count
            record = sync_host(host=host, driver=FakeDriver(host=host.host))
            per_host.append(counter.count - before)
            changed += len(record.changes)
    elapsed = time.perf_counter() - started

    shapes = Counter(per_host)
    # Hosts with changes must all cost the same; a host with nothing to write may cost less.
    with_changes = {q for q, host in zip(per_host, hosts, strict=True) if _drifted(host)}
    constant = len(with_changes) <= 1 and max(per_host) == max(with_changes or {0})
    n, h = bench.seeded.instances, len(hosts)
    return [
        Result(
            "sync",
            f"one pass, {n:,} instances on {h:,} hosts",
            elapsed,
            floor_seconds,
            "s",
            "≤ 2× floor",
            elapsed <= 2 * floor_seconds,
            note=(
                f"sync: {changed:,} power_states written by the pass, {floor_rows:,} by the "
                f"floor; {elapsed / h * 1000:.2f} ms per host. The same raw work split per host "
                f"(a read of the guests, a read of the instances, a bulk write, a commit — what "
                f"one agent must do at least) takes {per_host_floor:.2f} s: the pass is "
                f"{elapsed / per_host_floor:.1f}× that."
            ),
        ),
        Result(
            "sync",
            "queries per host pass",
            float(max(per_host)),
            float(min(per_host)),
            "",
            "constant",
            constant,
            note=(
                "sync queries: "
                + ", ".join(f"{q} queries × {k} hosts" for q, k in sorted(shapes.items()))
                + " (the floor column is the fewest; hosts differ in 0–19 changed rows)."
            ),
        ),
    ]


def _drifted(host: Host) -> bool:
    """Whether the seed gave this host drifted instances (``bench.seed.DRIFT_SPREAD``)."""
    return int(host.host.rsplit("-", 1)[1]) % DRIFT_SPREAD != 0
