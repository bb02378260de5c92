"""Bench 6: resident memory of one daphne process holding idle WebSockets.

A fresh daphne process serves one request (which starts its relay), then the swarm opens the
sockets — each a project member's session, authenticated, in its groups, greeted — and the RSS
is read from ``/proc`` after they settle. The floor is the bare ``websockets`` server holding as
many sockets. MB here is 10⁶ bytes, as in the target.
"""

from __future__ import annotations

import time

from bench.context import Bench
from bench.floors import floor_server, floor_target
from bench.report import Result
from bench.seed import member
from bench.stack import rss_mib

MIB = 1024 * 1024 / 1e6  # MiB → MB
SETTLE = 2.0


def run(bench: Bench) -> list[Result]:
    clients = bench.scale.clients
    server = bench.stack.daphne("daphne-memory")
    try:
        bench.swarm.connect([bench.target(server, member(0), 1)])
        bench.swarm.close_connections()
        idle = rss_mib(server.pid) * MIB
        bench.swarm.connect(
            [bench.target(server, member(p % bench.scale.projects), 1) for p in range(clients)]
        )
        time.sleep(SETTLE)
        holding = rss_mib(server.pid) * MIB
        bench.swarm.close_connections()
    finally:
        bench.stack.stop(server)

    floor = floor_server(bench.stack, "floor-memory")
    try:
        floor_idle = rss_mib(floor.pid) * MIB
        bench.swarm.connect([floor_target(floor, ["project.x"], clients)])
        time.sleep(SETTLE)
        floor_holding = rss_mib(floor.pid) * MIB
        bench.swarm.close_connections()
    finally:
        bench.stack.stop(floor)
    per_socket = (holding - idle) * 1000 / clients
    floor_per_socket = (floor_holding - floor_idle) * 1000 / clients
    return [
        Result(
            "memory",
            f"RSS of 1 daphne with {clients:,} idle sockets",
            holding,
            floor_holding,
            "MB",
            "≤ 200 MB",
            holding <= 200,
            note=(
                f"memory: daphne {idle:.0f} MB before the sockets, {per_socket:.0f} kB per "
                f"socket; bare websockets {floor_idle:.0f} MB idle, {floor_per_socket:.0f} kB "
                "per socket."
            ),
        )
    ]
