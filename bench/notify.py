"""``DATABASE_URL=postgres://… python -m bench.notify [--subscriptions 10000] [--rate 50]
[--seconds 20] [--burst 500]``: the notifications benchmark (issue 15).

On the PostgreSQL database ``DATABASE_URL`` names — **flushed first**: give it a database of its
own — it seeds 10,000 instances over 100 projects and 10,000 subscriptions (each project's
member on their project, and on 99 of its instances one by one; the first ten projects'
subscriptions also post to a webhook receiver on 127.0.0.1), then:

1. **Relay, notifier off**: this process commits ``rate`` changes per second (an instance
   entering ERROR from a failed action, through the state machine) for ``seconds``; an
   ``OutboxRelay`` in this process, LISTENing as a web process's does, records when each
   change reaches its sink. Latency = sink time − commit time (monotonic).
2. **Relay, notifier on**: the same, with ``manage.py notify run`` in another process deriving
   the notifications (each change: one member's notification, its bell row, and a webhook
   delivery for a tenth of them). Notification latency = the notification row's ``created_at``
   − the commit's wall time. The relay's latency here is compared with phase 1's.
3. **Deliveries/s**: ``burst`` changes of the webhook projects committed back to back; the time
   from the first commit to the last delivery.

Floors, in the same run: for the notification latency, a bare poller in this process on its own
connection, at the notifier's interval, reading the outbox's new ids and noting when it sees
each (the least a reader-by-sequence can do); for deliveries/s, the same bodies POSTed one by
one to the same receiver with the same HTTP client (``requests.post``) and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notify", description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=500)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("DATABASE_URL must name a PostgreSQL database of the bench's own.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-notify")
    import django

    django.setup()
    run(args, url)


def _seed(subscriptions: int, receiver_url: str) -> dict[str, list[tuple[int, str]]]:
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from bench.seed import member, seed
    from compute.models import Instance, Subscription

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    import_module("compute.migrations.0002_seed_flavors_and_images").seed(apps, None)
    projects = 100
    seeded = seed(instances=10_000, hosts=10, projects=projects)
    users = dict(get_user_model().objects.values_list("username", "pk"))
    per_project = subscriptions // projects - 1
    rows = []
    pools: dict[str, list[tuple[int, str]]] = {}
    for p, pid in enumerate(seeded.projects):
        user = users[member(p)]
        hook = receiver_url if p < 10 else ""
        rows.append(
            Subscription(
                user_id=user, scope="project", target=pid,
                events=["instance_error", "action_failed"], webhook_url=hook,
                webhook_secret="bench" if hook else "",
            )
        )  # fmt: skip
        for ident in seeded.by_project[pid][:per_project]:
            rows.append(
                Subscription(
                    user_id=user, scope="instance", target=ident, events=["instance_error"]
                )
            )
        pools[pid] = list(
            Instance.objects.filter(project_id=pid).order_by("id").values_list("pk", "uuid")
        )
    Subscription.objects.bulk_create(rows, batch_size=2000)
    return pools


def _change(pk: int) -> None:
    from compute import state_machine
    from compute.outbox.write import change_cause

    with change_cause("action.failed", action="stop", reason="bench"):
        state_machine.transition(pk, expected_task_state=None, vm_state="error")


class _Recorder:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        delta = message["delta"]
        if group == "admins" and delta.get("type") == "instance":
            self.arrived.setdefault(delta["id"], time.monotonic())


def _relay_thread(recorder: _Recorder) -> tuple[threading.Thread, Any, Any]:
    from compute.outbox.relay import OutboxRelay

    loop = asyncio.new_event_loop()
    relay = OutboxRelay(recorder)  # type: ignore[arg-type]

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(relay.ensure_started)
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, loop, relay


def _paced(
    pool: list[tuple[int, str]], rate: float, seconds: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Commit ``rate``/s for ``seconds``; (uuid → monotonic commit, uuid → wall commit)."""
    from django.db import close_old_connections

    mono: dict[str, float] = {}
    wall: dict[str, float] = {}
    total = int(rate * seconds)
    started = time.monotonic()
    for n in range(total):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pk, ident = pool.pop()
        _change(pk)
        mono[str(ident)] = time.monotonic()
        wall[str(ident)] = time.time()
    close_old_connections()
    return mono, wall


def _take(pools: dict[str, list[tuple[int, str]]], count: int, *, first: int | None = None):
    keys = sorted(pools)[:first] if first else sorted(pools)
    out: list[tuple[int, str]] = []
    while len(out) < count:
        for key in keys:
            if pools[key] and len(out) < count:
                out.append(pools[key].pop())
    out.reverse()
    return out


def _floor_poller(interval: float, stop: threading.Event, seen: dict[str, float]) -> None:
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    with psycopg.connect(autocommit=True, **params) as conn:
        last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM compute_changeevent").fetchone()[0]
        while not stop.is_set():
            rows = conn.execute(
                "SELECT id, object_id FROM compute_changeevent WHERE id > %s ORDER BY id", [last]
            ).fetchall()
            now = time.time()
            for pk, obj in rows:
                seen.setdefault(obj, now)
                last = pk
            stop.wait(interval)


def run(args: argparse.Namespace, url: str) -> None:
    import requests
    from django.db import close_old_connections

    from compute.models import Delivery, Notification
    from compute.notify.conf import notify_conf
    from tests.support.processes import free_port, port_open

    # The receiver runs in a process of its own, as a real one would (not in this one's GIL).
    port = free_port()
    lines = Path("/tmp") / f"bench-notify-hooks-{os.getpid()}.txt"
    lines.write_text("")
    receiver_proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.webhook", str(port), str(lines)], cwd=ROOT
    )
    while not port_open(port):
        time.sleep(0.05)
    receiver_url = f"http://127.0.0.1:{port}/hook"

    def received() -> list[str]:
        return lines.read_text().splitlines()

    print(f"seeding {args.subscriptions} subscriptions …", flush=True)
    pools = _seed(args.subscriptions, receiver_url)
    close_old_connections()
    interval = notify_conf().interval

    # Phase 1: the relay, notifier off.
    recorder = _Recorder()
    _, loop, _relay = _relay_thread(recorder)
    time.sleep(1.0)
    mono_a, _ = _paced(_take(pools, int(args.rate * args.seconds)), args.rate, args.seconds)
    time.sleep(1.0)
    relay_off = [recorder.arrived[k] - t for k, t in mono_a.items() if k in recorder.arrived]

    # Phase 2: the relay, notifier on (another process, as in a web process), and the floor.
    env = {**os.environ, "NOTIFY_ALLOW_PRIVATE_WEBHOOKS": "1", "LOG_LEVEL": "WARNING"}
    log = open(Path("/tmp") / f"bench-notify-{os.getpid()}.log", "w")  # noqa: SIM115
    notifier = subprocess.Popen(
        [sys.executable, "manage.py", "notify", "run"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    from compute.models import NotifierCursor

    deadline = time.monotonic() + 30
    while not NotifierCursor.objects.exists():
        assert time.monotonic() < deadline, "the notifier did not start"
        time.sleep(0.2)
    floor_seen: dict[str, float] = {}
    stop = threading.Event()
    poller = threading.Thread(target=_floor_poller, args=(interval, stop, floor_seen), daemon=True)
    poller.start()
    recorder.arrived.clear()
    mono_b, wall_b = _paced(_take(pools, int(args.rate * args.seconds)), args.rate, args.seconds)
    expected = len(wall_b)
    deadline = time.monotonic() + 60
    while Notification.objects.filter(object_id__in=list(wall_b)).count() < expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    stop.set()
    relay_on = [recorder.arrived[k] - t for k, t in mono_b.items() if k in recorder.arrived]
    created = dict(
        Notification.objects.filter(object_id__in=list(wall_b)).values_list(
            "object_id", "created_at"
        )
    )
    notify_lat = [created[k].timestamp() - t for k, t in wall_b.items() if k in created]
    floor_lat = [floor_seen[k] - t for k, t in wall_b.items() if k in floor_seen]

    # Phase 3: deliveries/s, a burst to the webhook projects; then the floor.
    before = len(received())
    burst = _take(pools, args.burst, first=10)
    started = time.monotonic()
    for pk, _ident in burst:
        _change(pk)
    deadline = time.monotonic() + 300
    while len(received()) < before + args.burst and time.monotonic() < deadline:
        time.sleep(0.01)
    took = time.monotonic() - started
    ids = received()[before:]
    delivered = len(ids)
    dup = len(ids) - len(set(ids))
    bodies = [
        json.dumps(n.payload, separators=(",", ":"), sort_keys=True).encode()
        for n in Notification.objects.filter(deliveries__isnull=False).order_by("-id")[:delivered]
    ]
    floor_started = time.monotonic()
    for body in bodies:
        requests.post(
            receiver_url, data=body, headers={"Content-Type": "application/json"}, timeout=5
        )
    floor_took = time.monotonic() - floor_started
    notifier.terminate()
    notifier.wait(10)
    log.close()
    loop.call_soon_threadsafe(loop.stop)
    receiver_proc.terminate()
    receiver_proc.wait(10)

    ms = 1000.0
    print()
    print("| figure | product | floor | ratio |")
    print("|---|---|---|---|")
    print(
        f"| notification latency p50 / p99 (ms), {args.rate:.0f} changes/s, "
        f"{args.subscriptions} subscriptions | {pct(notify_lat, 50) * ms:.0f} / "
        f"{pct(notify_lat, 99) * ms:.0f} | {pct(floor_lat, 50) * ms:.0f} / "
        f"{pct(floor_lat, 99) * ms:.0f} | {pct(notify_lat, 99) / pct(floor_lat, 99):.2f}× (p99) |"
    )
    print(
        f"| webhook deliveries/s ({delivered} of a {args.burst} burst) | {delivered / took:.1f} | "
        f"{len(bodies) / floor_took:.1f} | {delivered / took / (len(bodies) / floor_took):.2f}× |"
    )
    print(
        f"| relay latency p50 / p99 (ms), notifier off → on | "
        f"{pct(relay_off, 50) * ms:.1f} / {pct(relay_off, 99) * ms:.1f} → "
        f"{pct(relay_on, 50) * ms:.1f} / {pct(relay_on, 99) * ms:.1f} | — | "
        f"{pct(relay_on, 99) / pct(relay_off, 99):.2f}× (p99) |"
    )
    print()
    print(
        f"notifications {len(notify_lat)}/{expected}; relay samples {len(relay_off)} / "
        f"{len(relay_on)}; mean notification latency {statistics.mean(notify_lat) * ms:.0f} ms; "
        f"deliveries pending at the end: "
        f"{Delivery.objects.filter(state='pending').count()}; repeated deliveries: {dup}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
