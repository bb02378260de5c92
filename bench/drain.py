"""Bench 7: draining a host — the plan page against a raw SQL floor, and the drain's queries per
step.

Ten hosts of their own (``drain-00`` … ``drain-09``, fresh heartbeats) and ``instances`` active
instances on ``drain-00`` (1,000 in the full run, 200 in the quick one), seeded straight into
the tables as ``bench.seed`` does. Two figures:

- the host page of ``drain-00`` (``GET /hosts/drain-00/``, the admin's session, Django's full
  stack in this process): it renders the drain plan — every instance's six choices asked of the
  guard — with the rest of the page. The floor is one raw SQL read of the same instances with
  their flavors, one of the other hosts' usage, and each row formatted into an HTML table row:
  what any page listing the plan must at least do. Target ≤ 3× the floor.
- the drain itself: ``drain_start`` then, in turn, the source's agent (in this process, the
  fake hypervisor) and ``drain_advance`` until the job ends. Queries are counted per runner
  pass and divided by the steps that pass moved on (started or finished); the figure is the
  queries per step over the last quarter of the passes against the first quarter: constant
  means the runner's cost per step does not grow as the job goes on (target ≤ 1.25×).
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from bench.context import Bench
from bench.report import Result
from bench.seed import ADMIN, copy_rows
from compute.agent.agent import ComputeAgent
from compute.context import RequestContext
from compute.drivers.fake import FakeDriver
from compute.models import DrainJob, DrainStep, FakeGuest, Flavor, Host, Image, Instance
from compute.services import drains

HOSTS = 10
REPEATS = 5


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def seed_drain(instances: int, project: str) -> tuple[Host, list[Host]]:
    now = timezone.now()
    Host.objects.bulk_create(
        [
            Host(host=f"drain-{h:02d}", last_seen_up=now, driver="fake", published_status="up")
            for h in range(HOSTS)
        ]
    )
    hosts = list(Host.objects.filter(host__startswith="drain-").order_by("host"))
    flavor = Flavor.objects.get(flavorid="1")
    image = Image.objects.order_by("name").first()
    rows, guests = [], []
    for i in range(instances):
        ident = str(uuid.uuid4())
        stamp = now
        rows.append(
            {
                "uuid": ident,
                "name": f"drain-vm-{i:05d}",
                "project_id": project,
                "host_id": hosts[0].pk,
                "availability_zone": "nova",
                "flavor_id": flavor.pk,
                "image_id": image.pk if image else None,
                "launched_at": stamp,
                "created_at": stamp,
                "updated_at": stamp,
                # A bulk load, not a transition: the rows are born in these states.
                "vm_state": "active",
                "task_state": None,
                "power_state": 1,
            }
        )
        guests.append(
            {"uuid": ident, "host": hosts[0].host, "name": rows[-1]["name"], "state": 1}
            | {"updated_at": now, "disk_gb": flavor.disk}
        )
    copy_rows(Instance, rows)
    copy_rows(FakeGuest, guests)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return hosts[0], hosts[1:]


def plan_floor(host: Host) -> float:
    """The same instances and the other hosts' usage in two raw reads, each row as HTML."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.uuid, i.name, i.vm_state, i.task_state, i.power_state, i.locked, "
            "i.launched_at, i.progress, f.vcpus, f.ram, f.disk FROM compute_instance i "
            "JOIN compute_flavor f ON f.id = i.flavor_id "
            "WHERE i.host_id = %s AND i.deleted_at IS NULL ORDER BY i.name, i.id",
            [host.pk],
        )
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT i.host_id, sum(f.vcpus), sum(f.ram), sum(f.disk), count(*) "
            "FROM compute_instance i JOIN compute_flavor f ON f.id = i.flavor_id "
            "WHERE i.deleted_at IS NULL AND i.host_id <> %s GROUP BY i.host_id",
            [host.pk],
        )
        cursor.fetchall()
    html = "".join(
        f'<tr data-instance="{r[0]}"><td>{r[1]}</td><td>{r[2]}</td><td>{r[3]}</td>'
        f"<td>{r[4]}</td><td>{r[5]}</td><td>{r[8]}/{r[9]}/{r[10]}</td></tr>"
        for r in rows
    )
    assert html
    return time.perf_counter() - started


def run(bench: Bench) -> list[Result]:
    instances = 1000 if bench.scale.name == "full" else 200
    project = bench.seeded.projects[0]
    source, others = seed_drain(instances, project)
    admin = get_user_model().objects.get(username=ADMIN)

    client = Client()
    client.force_login(admin)
    page_times, floor_times = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        response = client.get(f"/hosts/{source.host}/")
        page_times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        floor_times.append(plan_floor(source))
    page, floor = statistics.median(page_times), statistics.median(floor_times)
    # The same page of an empty host: what the page costs besides its rows and their plan.
    empty_times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        client.get(f"/hosts/{others[-1].host}/")
        empty_times.append(time.perf_counter() - started)
    empty = statistics.median(empty_times)

    context = RequestContext(
        user_id=admin.pk, user_name=ADMIN, project_id=None, is_admin=True, client="bench"
    )
    agent = ComputeAgent(host=source.host, driver=FakeDriver(host=source.host))
    agent.register()
    started = time.perf_counter()
    job = drains.drain_start(context=context, host=source)
    counter = QueryCounter()
    passes: list[tuple[int, int]] = []  # (queries, steps moved on)
    while True:
        Host.objects.filter(host__startswith="drain-").update(last_seen_up=timezone.now())
        agent.run_pending()
        before = dict(DrainStep.objects.filter(job=job).values_list("pk", "state"))
        counter.count = 0
        with connection.execute_wrapper(counter):
            drains.drain_advance(job.pk)
        after = dict(DrainStep.objects.filter(job=job).values_list("pk", "state"))
        moved = sum(1 for pk, state in after.items() if before[pk] != state)
        if moved:
            passes.append((counter.count, moved))
        if not DrainJob.objects.get(pk=job.pk).active:
            break
    seconds = time.perf_counter() - started
    job.refresh_from_db()
    done = DrainStep.objects.filter(job=job, state=DrainStep.State.DONE).count()
    quarter = max(1, len(passes) // 4)
    early = sum(q for q, _ in passes[:quarter]) / sum(m for _, m in passes[:quarter])
    late = sum(q for q, _ in passes[-quarter:]) / sum(m for _, m in passes[-quarter:])
    drained = Instance.objects.filter(name__startswith="drain-vm-")
    moved_away = drained.exclude(host=source).count()
    onto_others = drained.filter(host__in=others).count()
    note = (
        f"{instances:,} instances on 1 of {HOSTS} hosts; job {job.state}, {done:,} steps done, "
        f"{moved_away:,} instances off the source ({onto_others:,} of them onto its "
        f"{len(others)} fellow hosts, the rest onto the seed's other hosts) in {seconds:.1f} s "
        f"({done / seconds:.0f} steps/s, "
        f"agent in this process); {len(passes)} runner passes"
    )
    return [
        Result(
            "drain",
            f"host page with the plan of {instances:,}",
            page * 1000,
            floor * 1000,
            "ms",
            "≤ 3× floor",
            page <= 3 * floor,
            note=(
                f"median of {REPEATS}; floor: two raw reads + each row as HTML; the same page "
                f"of an empty host {empty * 1000:.1f} ms, so the rows and their plan cost "
                f"{(page - empty) * 1000:.1f} ms ({(page - empty) / floor:.1f}× the floor)"
            ),
        ),
        Result(
            "drain",
            "queries per step, last vs first quarter",
            late,
            early,
            "queries",
            "≤ 1.25× (constant)",
            late <= 1.25 * early,
            note=note,
        ),
    ]
