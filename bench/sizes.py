"""The sizes of a run: the full one the issue asks for, and the quick one CI can afford."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    instances: int
    hosts: int
    projects: int
    clients: int
    #: Changes per second and seconds measured for the latency benchmark.
    rate: float
    latency_seconds: float
    #: Deltas in the fan-out burst.
    burst: int
    action_seconds: float
    repeats: int
    swarm_workers: int
    #: Notification subscriptions, and the changes in the webhook burst (bench.notify).
    subscriptions: int
    notify_burst: int


FULL = Scale("full", 100_000, 1_000, 50, 1_000, 50.0, 20.0, 100, 8.0, 15, 2, 10_000, 500)
QUICK = Scale("quick", 10_000, 100, 10, 100, 50.0, 6.0, 100, 3.0, 5, 1, 1_000, 100)
