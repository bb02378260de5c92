"""The database going away under load, with nothing lost: daphne and a compute agent run against
a PostgreSQL database of the test's own while eight clients create servers, reboot them, list
them and read the pages; then the database fails.

- Simulated: its backends are terminated, four times (every open connection is cut, the server
  stays up), on the PostgreSQL server the suite already uses.
- Real: a private PostgreSQL cluster (``initdb`` + ``pg_ctl``, see ``pg_cluster``) restarted
  with ``pg_ctl restart -m fast`` twice, then stopped for a second and a half and started again
  — sessions cut, new connections refused until it is back.

Either way: every request gets an answer within seconds — a 5xx in Nova's fault shape for the
API, a plain error page (no traceback) for the pages; every 202 is a server that exists or an
action that is recorded, and every accepted build and action ends; the agent stays up, and the
same daphne serves again afterwards without being restarted.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CIRROS
from tests.reliability import pg_cluster, scratch_pg
from tests.support.processes import (
    Daphne,
    Process,
    child_env,
    http,
    http_with_headers,
    start_agent,
    wait_for,
)

#: Servers built before the load starts, for the reboot worker.
REBOOT_TARGETS = 2


def is_clean_failure(status: int, body: Any, *, api: bool) -> bool:
    """A 5xx that says what happened: for the API, Nova's fault body; for a page, no traceback."""
    if status < 500:
        return False
    if not api:
        return "Traceback" not in str(body) and "Exception Value" not in str(body)
    return (
        isinstance(body, dict)
        and len(body) == 1
        and next(iter(body)) in ("computeFault", "serviceUnavailable")
        and next(iter(body.values())).get("code") == status
    )


@dataclass
class Load:
    """What the clients sent and got while the database failed."""

    answers: list[tuple[str, int, Any, float]] = field(default_factory=list)
    #: Names of the servers whose create was answered 202.
    created: list[str] = field(default_factory=list)
    #: Request ids of the reboots answered 202.
    rebooted: list[str] = field(default_factory=list)


@dataclass
class Stack:
    """daphne and an agent on one PostgreSQL database, with the clients' credentials."""

    daphne: Daphne
    agent: Process
    database: str
    rows: Callable[[str], list[tuple[Any, ...]]]
    api: dict[str, str]
    browser: dict[str, str]
    targets: list[str]

    def get(self, path: str, *, page: bool = False) -> tuple[int, Any]:
        return http("GET", self.daphne.url + path, headers=self.browser if page else self.api)


@pytest.fixture
def stack_on() -> Iterator[Callable[..., Stack]]:
    """Starts the stack on a database URL; stops it afterwards."""
    started: list[Process] = []

    def make(
        url: str, rows: Callable[[str], list[tuple[Any, ...]]], *, workdir: Path, database: str
    ) -> Stack:
        env = child_env(
            DATABASE_URL=url,
            DEBUG="0",
            SECRET_KEY="reliability-" + "x" * 50,
            SECURE_COOKIES="0",
            # The load creates servers past Nova's default quota of 10; quotas are not its test.
            QUOTA_DEFAULTS="instances=-1,cores=-1,ram=-1",
        )
        made = scratch_pg.set_up(env)
        daphne = Daphne(workdir=workdir, env=env)
        started.append(daphne)
        agent = start_agent(
            "node1", workdir=workdir, env=env, REPORT_INTERVAL="1", FAKE_DELAYS="default=0.05"
        )
        started.append(agent)
        api = {"X-Auth-Token": made["token"], "Accept": "application/json"}
        stack = Stack(daphne, agent, database, rows, api, {"Cookie": f"sessionid={made['session']}"}, [])  # fmt: skip
        daphne.wait_ready()
        for n in range(REBOOT_TARGETS):
            server = {"name": f"target-{n}", "flavorRef": "1", "imageRef": CIRROS}
            status, body = http("POST", daphne.url + "/v2.1/servers", body={"server": server},
                                headers=api)  # fmt: skip
            assert status == 202, body
            stack.targets.append(body["server"]["id"])
        wait_for(
            lambda: (
                len(rows("SELECT 1 FROM compute_instance WHERE vm_state = 'active'"))
                == REBOOT_TARGETS
            ),
            timeout=30,
            what="the reboot targets to be built",
            every=0.1,
        )
        return stack

    yield make
    for process in reversed(started):
        process.stop()


def run_load(stack: Stack, fault: Callable[[], None]) -> Load:
    """Eight clients against the stack while ``fault`` runs; returns what they saw."""
    load = Load()
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            body, headers = None, stack.api
            if worker in (1, 3):
                kind, method, path = "list", "GET", "/v2.1/servers/detail"
            elif worker == 5:
                kind, method, path, headers = "page", "GET", "/instances/", stack.browser
            elif worker == 7:
                kind, method, path, headers = "poll", "GET", "/live/poll?since=0", stack.browser
            elif worker == 6:
                target = stack.targets[n % len(stack.targets)]
                kind, method, path = "reboot", "POST", f"/v2.1/servers/{target}/action"
                body = {"reboot": {"type": "SOFT"}}
            else:
                name = f"load-{worker}-{n}"
                body = {"server": {"name": name, "flavorRef": "1", "imageRef": CIRROS}}
                kind, method, path = "create", "POST", "/v2.1/servers"
            started = time.monotonic()
            try:
                status, answer, got = http_with_headers(
                    method, stack.daphne.url + path, body=body, headers=headers
                )
            except OSError as error:  # no HTTP answer at all: a hang or a reset
                status, answer, got = 0, repr(error), {}
            took = time.monotonic() - started
            with lock:
                load.answers.append((kind, status, answer, took))
                if kind == "create" and status == 202:
                    load.created.append(body["server"]["name"])  # type: ignore[index]
                if kind == "reboot" and status == 202:
                    load.rebooted.append(got["X-Compute-Request-Id"])
            if kind in ("create", "reboot"):
                time.sleep(0.05)  # a steady trickle of work, not a flood the agent drowns in

    workers = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.8)
        fault()
        time.sleep(0.8)
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    return load


def assert_failed_cleanly_and_recovered(stack: Stack, load: Load) -> list[Any]:
    """Every answer in time and clean; afterwards everything works again and nothing accepted
    was lost. Returns the failed answers."""
    failed = [a for a in load.answers if a[1] not in (200, 202)]
    for kind, status, answer, took in load.answers:
        assert status != 0, f"{kind}: no answer ({answer})"
        assert took < 10, f"{kind} took {took:.1f} s"
        if kind == "reboot" and status == 409:
            continue  # the previous reboot is still running: Nova's refusal, not a failure
        if status not in (200, 202):
            api_call = kind in ("list", "create", "reboot")
            assert is_clean_failure(status, answer, api=api_call), (kind, status, answer)
    # Recovered by itself, in the same processes: the next requests all succeed.
    assert stack.daphne.alive(), stack.daphne.tail()
    for _ in range(3):
        assert stack.get("/v2.1/servers/detail")[0] == 200
        assert stack.get("/instances/", page=True)[0] == 200
        assert stack.get("/live/poll?since=0", page=True)[0] == 200
    status, _ = http(
        "POST",
        stack.daphne.url + "/v2.1/servers",
        body={"server": {"name": "after", "flavorRef": "1", "imageRef": CIRROS}},
        headers=stack.api,
    )
    assert status == 202
    # Nothing acknowledged was lost: every 202 is a server that exists or an action recorded.
    status, listing = stack.get("/v2.1/servers?limit=1000")
    names = {s["name"] for s in listing["servers"]}
    assert set(load.created) <= names, sorted(set(load.created) - names)
    recorded = {r[0] for r in stack.rows("SELECT request_id FROM compute_instanceaction")}
    assert set(load.rebooted) <= recorded, sorted(set(load.rebooted) - recorded)
    # Every accepted build and action ends; none is left hanging.
    hanging = (
        "SELECT 'instance', uuid::text, coalesce(task_state, '') FROM compute_instance "
        "WHERE task_state IS NOT NULL UNION ALL "
        "SELECT 'action', action, request_id FROM compute_instanceaction "
        "WHERE finish_time IS NULL UNION ALL "
        "SELECT 'dispatch ' || state, kind, claimed_by FROM compute_actiondispatch "
        "WHERE state IN ('pending', 'running')"
    )
    try:
        wait_for(
            lambda: not stack.rows(hanging),
            timeout=30,
            what="every accepted build and action to end",
            every=0.2,
        )
    except AssertionError as late:
        raise AssertionError(
            f"{late}; still open: {stack.rows(hanging)}\nagent log:\n{stack.agent.tail()}"
        ) from None
    assert stack.agent.alive(), stack.agent.tail()
    # A database blip is not the user's failure: the agent resumed what it was running when
    # its connection was cut, and nothing ended in ERROR because of it.
    assert stack.rows("SELECT name FROM compute_instance WHERE vm_state <> 'active'") == []
    assert not stack.rows("SELECT 1 FROM compute_instanceaction WHERE message = 'Error'")
    return failed


# --- simulated: backends terminated ------------------------------------------------------------


def test_the_database_cutting_every_connection_under_load_fails_requests_cleanly_and_recovers(
    scratch_database, tmp_path, stack_on
):
    stack = stack_on(
        scratch_pg.database_url(scratch_database, conn_max_age="60"),
        lambda sql: scratch_pg.rows(scratch_database, sql),
        workdir=tmp_path,
        database=scratch_database,
    )
    cut = 0

    def terminate_four_times() -> None:
        nonlocal cut
        for _ in range(4):
            cut += scratch_pg.terminate_backends(scratch_database)
            time.sleep(0.5)

    load = run_load(stack, terminate_four_times)
    assert cut > 0, "no connection was ever cut: the test proved nothing"
    failed = assert_failed_cleanly_and_recovered(stack, load)
    print(f"{len(load.answers)} requests, {len(failed)} failed cleanly, {cut} connections cut")


# --- real: a private PostgreSQL cluster restarted -----------------------------------------------


@pytest.fixture
def private_cluster() -> Iterator[pg_cluster.PrivateCluster]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        pytest.skip("the real PostgreSQL restart runs on the PostgreSQL pass only (DATABASE_URL)")
    why = pg_cluster.unavailable()
    if why:
        pytest.skip(why)
    cluster = pg_cluster.PrivateCluster()
    try:
        yield cluster
    finally:
        cluster.remove()


def test_a_real_database_restart_under_load_fails_requests_cleanly_and_recovers(
    private_cluster, tmp_path, stack_on
):
    import psycopg

    cluster = private_cluster
    name = f"vmdash_restart_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(cluster.database_url(name), autocommit=True) as conn:
            return conn.execute(sql).fetchall()

    stack = stack_on(
        cluster.database_url(name, conn_max_age="60"), rows, workdir=tmp_path, database=name
    )
    outage: list[float] = []

    def restart_the_server() -> None:
        for _ in range(2):
            cluster.restart("fast")
            time.sleep(1.0)
        # A restart that takes a while (recovery, an upgrade): connections refused meanwhile.
        started = time.monotonic()
        cluster.stop("fast")
        time.sleep(1.5)
        cluster.start()
        outage.append(time.monotonic() - started)

    load = run_load(stack, restart_the_server)
    log = cluster.log()
    assert log.count("database system is ready to accept connections") == 4, log[-3000:]
    failed = assert_failed_cleanly_and_recovered(stack, load)
    # The clients felt the outage, so the checks above are about something.
    assert failed, "no request failed: the restarts were never felt"
    during = [a for a in failed if a[0] in ("list", "create", "reboot")]
    assert during, "no API request failed during the outage"
    print(
        f"{len(load.answers)} requests, {len(failed)} failed cleanly, "
        f"{len(load.created)} builds and {len(load.rebooted)} reboots accepted, "
        f"longest outage {max(outage):.1f} s"
    )
