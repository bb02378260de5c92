"""Faults, each with nothing lost: what happens to accepted work and to the pages when a part of
the system fails, and that everything is whole again once the part is back.

- An agent killed in the middle of an action (``kill -9`` of a real ``compute_agent``, and
  in-process for every kind of dispatched action, before and after its driver call): on
  restart the action is finished, or failed visibly with a fault; the task is never left set.
- An agent down while actions are accepted: they run when it comes back, or, past the dispatch
  timeout, the watchdog fails them visibly.
- Redis unavailable: the API, the pages and logging in keep answering, actions are accepted
  and run, and live updates keep flowing — each web process reads the outbox for its own
  sockets, with nothing of the live path in Redis (only the agents' early wake-ups and the
  login counters, which fall back to polling and to per-process counting). A page that loses
  its socket for any reason falls back to polling and catches up exactly on reconnect (the
  offline-browser test and the browser tests).
- The database going away under load — backends terminated, and a real ``pg_ctl restart`` —
  is ``test_database_restart``.
- A browser offline for a while: on reconnect it resumes from the last sequence it saw and gets
  exactly the deltas it missed.

Processes are started by the test and stopped by their pid. PostgreSQL and Redis tests skip,
with the reason, where the servers are not available.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client as DjangoClient
from django.utils import timezone

from compute import watchdog
from compute.agent.agent import ComputeAgent
from compute.agent.executor import execute
from compute.drivers.fake import FakeDriver
from compute.models import (
    ActionDispatch,
    ChangeEvent,
    FakeGuest,
    Host,
    Instance,
    InstanceAction,
    Project,
)
from compute.outbox.audience import for_viewer
from compute.outbox.fanout import local_fanout
from compute.outbox.relay import OutboxRelay
from compute.outbox.replay import latest_seq
from compute.services import instance_action, instance_create
from dashboard.web.routing import websocket_urlpatterns
from tests.conftest import CIRROS, fresh
from tests.reliability.reference import Client, reference_delta
from tests.support.processes import (
    Daphne,
    Page,
    RedisServer,
    http,
    start_agent,
    wait_for,
)

# --- helpers --------------------------------------------------------------------------------


def reloaded(instance: Instance) -> Instance:
    return Instance.objects.select_related("host").get(pk=instance.pk)


def published_versions(instance: Instance) -> list[int]:
    return list(
        ChangeEvent.objects.filter(object_id=str(instance.uuid))
        .order_by("id")
        .values_list("version", flat=True)
    )


def task_walk(instance: Instance, *, after: int) -> list[str | None]:
    """The task_states the pages were told about, in order, after outbox sequence ``after``."""
    return [
        payload["task_state"]
        for payload in ChangeEvent.objects.filter(object_id=str(instance.uuid), id__gt=after)
        .order_by("id")
        .values_list("payload", flat=True)
    ]


def assert_ended_visibly(instance: Instance, record: InstanceAction) -> str:
    """The action is over: finished, or failed with a fault a user can read. Returns which."""
    instance = reloaded(instance)
    record.refresh_from_db()
    assert instance.task_state is None, f"task {instance.task_state} left hanging"
    assert record.finish_time is not None, "the action record never ended"
    assert record.dispatch.state in ("done", "failed")
    assert not record.events.filter(finish_time__isnull=True).exists()
    # Published once per committed change: versions 1, 2, … with no gap and no repeat.
    assert published_versions(instance) == list(range(1, instance.version + 1))
    if record.message == "Error":
        reason = record.events.filter(result="Error").values_list("details", flat=True).first()
        assert reason, "failed without a readable reason"
        return "failed"
    return "finished"


class Killed(BaseException):
    """The agent process dies mid-call: nothing in the agent catches a BaseException."""


@contextmanager
def dying(driver: FakeDriver, when: str) -> Iterator[None]:
    """The agent dies at its next driver call: before the hypervisor acts, or after it acted
    but before the agent wrote the result down."""
    real = driver._operation

    @contextmanager
    def operation(name: str) -> Iterator[None]:
        if when == "before":
            raise Killed(name)
        with real(name):
            yield
        raise Killed(name)

    driver._operation = operation  # type: ignore[method-assign]
    try:
        yield
    finally:
        del driver._operation


def restarted(host: str) -> ComputeAgent:
    """A new agent for ``host``, as the process would start: register, recover, heartbeat."""
    agent = ComputeAgent(host=host, driver=FakeDriver(host=host))
    agent.register()
    agent.recover()
    agent.heartbeat()
    return agent


def heartbeat_stops(host: Host) -> None:
    """The host's heartbeat is older than service_down_time (not a state column)."""
    Host.objects.filter(pk=host.pk).update(last_seen_up=timezone.now() - timedelta(hours=1))


# --- an agent killed in the middle of an action ---------------------------------------------

#: Actions reachable from ACTIVE with their parameters, and the vm_state they end in.
KILLABLE: dict[str, tuple[dict[str, Any], str]] = {
    "stop": ({}, "stopped"),
    "reboot": ({}, "active"),
    "reboot_hard": ({}, "active"),
    "pause": ({}, "paused"),
    "suspend": ({}, "suspended"),
    "rescue": ({}, "rescued"),
    "rebuild": ({"imageRef": CIRROS}, "active"),
    "resize": ({"flavorRef": "2"}, "resized"),
    "createImage": ({"name": "snap"}, "active"),
    "changePassword": ({"adminPass": "s3cret"}, "active"),
    "shelve": ({}, "shelved_offloaded"),
    "delete": ({}, "deleted"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("key", sorted(KILLABLE))
def test_an_agent_killed_mid_action_finishes_it_when_it_restarts(
    make_instance, agent, alice_ctx, key, when
):
    instance = make_instance("active")
    params, final = KILLABLE[key]
    record = instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action=key, params=params
    )
    (dispatch,) = agent.claim(1)
    with dying(agent.driver, when), pytest.raises(Killed):
        execute(agent.driver, ActionDispatch.objects.select_related("action").get(pk=dispatch.pk))
    dispatch.refresh_from_db()
    assert dispatch.state == "running"  # what a dead agent leaves behind
    assert reloaded(instance).task_state is not None

    again = restarted("node1")
    assert again.run_pending() == 1
    # Resumed from the task_state it was in, the action finishes — also when the hypervisor
    # had already done it (a paused guest is not paused twice).
    assert assert_ended_visibly(instance, record) == "finished"
    after = reloaded(instance)
    assert after.vm_state == final
    assert after.power_state == again.driver.get_power_state(str(instance.uuid))
    assert not after.faults.exists()


def test_an_agent_killed_with_sigkill_mid_walk_finishes_the_action_when_it_restarts(
    transactional_db, catalog, alice_ctx, tmp_path
):
    slow = {"FAKE_DELAYS": "default=0.4", "REPORT_INTERVAL": "1"}
    first = start_agent("crashy", workdir=tmp_path, **slow)
    second = None
    try:
        wait_for(
            lambda: Host.objects.filter(host="crashy", last_seen_up__isnull=False).exists(),
            timeout=30,
            what="the agent to register",
        )
        instance = instance_create(
            context=fresh(alice_ctx), name="victim", flavor_ref="1", image_ref=CIRROS
        )
        wait_for(
            lambda: reloaded(instance).vm_state == "active", timeout=30, what="the build to end"
        )
        since = latest_seq()
        record = instance_action(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="shelve"
        )
        # Shelving walks four task_states, one driver call each; kill -9 in the middle.
        wait_for(
            lambda: (
                reloaded(instance).task_state
                in ("shelving_image_pending_upload", "shelving_image_uploading")
            ),
            timeout=30,
            what="the walk to reach its middle",
            every=0.01,
        )
        first.kill()
        left = reloaded(instance)
        assert left.task_state is not None
        assert ActionDispatch.objects.get(action=record).state == "running"

        second = start_agent("crashy", workdir=tmp_path, **slow)
        wait_for(
            lambda: reloaded(instance).task_state is None, timeout=30, what="the action to end"
        )
        assert assert_ended_visibly(instance, record) == "finished"
        assert reloaded(instance).vm_state == "shelved_offloaded"
        assert not FakeGuest.objects.filter(uuid=str(instance.uuid)).exists()
        # The pages were told every step once, in order: the restarted agent resumed where
        # the dead one stopped, it did not start over.
        assert task_walk(instance, after=since) == [
            "shelving",
            "shelving_image_pending_upload",
            "shelving_image_uploading",
            "shelving_offloading",
            None,
        ]
    finally:
        for process in (first, second):
            if process is not None:
                process.kill()


# --- an agent down while actions are accepted -----------------------------------------------


def test_actions_accepted_while_the_agent_is_down_run_when_it_comes_back(
    transactional_db, make_instance, agent, alice_ctx, tmp_path
):
    one = make_instance("active", name="one")
    two = make_instance("active", name="two")
    assert agent.host is not None
    heartbeat_stops(agent.host)  # the agent died: no process, an expired heartbeat
    stop = instance_action(context=fresh(alice_ctx), instance_uuid=str(one.uuid), action="stop")
    pause = instance_action(context=fresh(alice_ctx), instance_uuid=str(two.uuid), action="pause")
    assert reloaded(one).task_state == "powering-off"
    assert ActionDispatch.objects.filter(state="pending").count() == 2

    returned = start_agent("node1", workdir=tmp_path, REPORT_INTERVAL="1")
    try:
        wait_for(
            lambda: not ActionDispatch.objects.filter(state__in=["pending", "running"]).exists(),
            timeout=30,
            what="the returning agent to run the queue",
        )
    finally:
        returned.kill()
    assert assert_ended_visibly(one, stop) == "finished"
    assert assert_ended_visibly(two, pause) == "finished"
    assert (reloaded(one).vm_state, reloaded(two).vm_state) == ("stopped", "paused")


@pytest.mark.django_db
def test_an_action_nobody_takes_in_time_fails_visibly_and_can_be_asked_again(
    make_instance, agent, alice_ctx, settings
):
    instance = make_instance("active")
    assert agent.host is not None
    heartbeat_stops(agent.host)
    settings.COMPUTE = {**settings.COMPUTE, "dispatch_timeout": 0.2}
    record = instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="stop"
    )
    time.sleep(0.3)
    assert watchdog.run_once()["dispatches_failed"] == 1

    assert assert_ended_visibly(instance, record) == "failed"
    after = reloaded(instance)
    assert (after.vm_state, after.task_state) == ("active", None)
    assert "No compute agent on host node1" in after.faults.latest().message
    # The agent comes back: the failed dispatch is not run behind the user's back …
    again = restarted("node1")
    assert again.run_pending() == 0
    assert reloaded(instance).vm_state == "active"
    # … and the user may simply ask again.
    settings.COMPUTE = {**settings.COMPUTE, "dispatch_timeout": 300.0}
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="stop")
    again.run_pending()
    assert reloaded(instance).vm_state == "stopped"


# --- a browser offline for a while ----------------------------------------------------------

APP = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
ORIGIN = (b"origin", b"http://127.0.0.1")


def session_id(user: User) -> str:
    client = DjangoClient()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def frames_until(socket: WebsocketCommunicator, kind: str) -> list[dict[str, Any]]:
    got = []
    while True:
        frame = await socket.receive_json_from(timeout=5)
        if frame["type"] == kind:
            return got
        got.append(frame)


@pytest.mark.django_db(transaction=True)
def test_a_browser_offline_for_a_while_gets_exactly_what_it_missed_on_reconnect(
    make_instance, agent, alice, alice_ctx, bob_ctx
):
    mine = make_instance("active", name="mine")
    cookie = (b"cookie", f"sessionid={session_id(alice)}".encode())
    relay = OutboxRelay(local_fanout())
    tab = Client()

    async def scenario() -> tuple[list[int], int, int]:
        relay.last_seq = await sync_to_async(latest_seq)()
        socket = WebsocketCommunicator(APP, "/ws/live/", headers=[ORIGIN, cookie])
        assert (await socket.connect(timeout=5))[0]
        hello = await socket.receive_json_from(timeout=5)
        tab.seq = hello["seq"]
        await sync_to_async(instance_action)(
            context=fresh(alice_ctx), instance_uuid=str(mine.uuid), action="pause"
        )
        await relay.relay_once()
        frame = await socket.receive_json_from(timeout=5)
        tab.receive(frame["seq"], frame["delta"])
        await socket.disconnect()  # the laptop lid closes
        last_seen = tab.seq

        def meanwhile() -> None:
            agent.run_pending()  # paused
            instance_action(
                context=fresh(alice_ctx), instance_uuid=str(mine.uuid), action="unpause"
            )
            agent.run_pending()
            make_instance("active", name="other-project", context=bob_ctx)  # not alice's

        await sync_to_async(meanwhile)()
        sent_while_away = await relay.relay_once()  # fanned out to nobody

        socket = WebsocketCommunicator(APP, "/ws/live/", headers=[ORIGIN, cookie])
        assert (await socket.connect(timeout=5))[0]
        await socket.receive_json_from(timeout=5)  # hello
        await socket.send_json_to({"type": "resume", "since": tab.seq})
        frames = await frames_until(socket, "caught_up")
        await socket.disconnect()
        assert all(f["type"] == "delta" for f in frames), frames  # no resync needed
        for f in frames:
            tab.receive(f["seq"], f["delta"])
        return [f["seq"] for f in frames], sent_while_away, last_seen

    got, sent_while_away, last_seen = async_to_sync(scenario)()
    assert sent_while_away > 0
    # Exactly the missed events of alice's instances, every one, in order, none of bob's.
    missed = list(
        ChangeEvent.objects.filter(object_id=str(mine.uuid), id__gt=last_seen)
        .order_by("id")
        .values_list("id", flat=True)
    )
    assert len(missed) == 3  # paused, then unpausing, then active again
    assert got == missed, "the reconnecting page got something else than what it missed"
    row = reloaded(mine)
    assert tab.objects == {str(mine.uuid): for_viewer(reference_delta(row), admin=False)}
    assert row.vm_state == "active"


# --- Redis unavailable ----------------------------------------------------------------------


def api_token(user: User, project: str) -> str:
    from dashboard.api.identity import tokens

    return tokens.token_issue(
        user=user, project=Project.objects.get(name=project), methods=["password"]
    ).token


@pytest.mark.django_db(transaction=True)
def test_without_redis_pages_api_login_and_live_updates_keep_working_and_nothing_is_lost(
    make_instance, agent, alice, alice_ctx, tmp_path
):
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")

    instance = make_instance("active")
    uuid_ = str(instance.uuid)
    session, token = session_id(alice), api_token(alice, "demo")
    api = {"X-Auth-Token": token, "Accept": "application/json"}
    browser = {"Cookie": f"sessionid={session}"}
    redis = RedisServer(workdir=tmp_path)
    daphne = Daphne(workdir=tmp_path, REDIS_URL=redis.url)
    page = None
    try:
        daphne.wait_ready()
        page = Page(daphne, session)
        instance_action(context=fresh(alice_ctx), instance_uuid=uuid_, action="pause")
        page.delta(id=uuid_, task_state="pausing")

        redis.stop()
        # The open page keeps hearing changes live: the agent finishes the pause …
        agent.run_pending()
        page.delta(id=uuid_, vm_state="paused", task_state=None)
        # … an action is accepted through the API (its agent's wake-up is lost; the agent
        # polls) and reaches the page at once …
        status, _ = http(
            "POST", f"{daphne.url}/v2.1/servers/{uuid_}/action", body={"unpause": None}, headers=api
        )
        assert status == 202
        page.delta(id=uuid_, task_state="unpausing")
        # … pages, the API and logging in answer (a wrong password is counted in this
        # process instead of failing) …
        assert http("GET", f"{daphne.url}/v2.1/servers/detail", headers=api)[0] == 200
        assert http("GET", f"{daphne.url}/instances/", headers=browser)[0] == 200
        assert http("GET", f"{daphne.url}/login/")[0] == 200
        wrong = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "alice", "domain": {"id": "default"}, "password": "no"}
                    },
                }
            }
        }
        assert http("POST", f"{daphne.url}/identity/v3/auth/tokens", body=wrong)[0] == 401
        # … and a new socket opens.
        Page(daphne, session).close()

        redis.restart()
        agent.run_pending()  # the unpause ends
        page.delta(timeout=15, id=uuid_, vm_state="active", task_state=None)
    finally:
        if page is not None:
            page.close()
        daphne.stop()
        redis.stop()
    log = daphne.log()
    assert "outbox relay failed" not in log, daphne.tail()
    assert "Traceback" not in log, daphne.tail()
