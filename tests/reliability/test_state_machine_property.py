"""The state machine under random load: a Hypothesis ``RuleBasedStateMachine`` that interleaves
everything that can happen to a few instances on two fake hosts, and checks the invariants of
DESIGN after every step.

Rules: user and admin actions (any key of the action table, refused ones included, sometimes
with bad parameters, sometimes from a user of another project); two requests racing on one
instance in two threads; agent steps (one dispatch, or all of a host's); an agent killed before
or after a driver call in the middle of a walk, and restarted (recovery); armed driver failures;
power-state sync passes, with a user action slipped in between the pass's read and its writes;
guests changed behind the dashboard's back; heartbeats stopping (host down → local deletes)
and forced-down / maintenance switches; the watchdog with the clock jumped forward (stale
dispatches, stuck tasks); admin resets; new instances; a browser tab going offline and
resuming.

Checked after every step:

- every vm_state / task_state / power_state is one the reference has, the (vm_state,
  task_state) pair is one the action table can produce, and a deleted row is ``deleted``;
- the API's ``status`` (``GET /v2.1/servers/detail``) and the stored one are the reference's
  forward map of (vm_state, task_state), typed in again in ``reference.py``;
- task_state is NULL exactly when no action is in progress: no pending or running dispatch whose
  walk contains the instance's task_state (one the agent would carry on);
- versions only grow, and the outbox holds versions 1, 2, … of each instance exactly once,
  the last one equal to the row (published once per committed change, nothing else);
- every accepted action has a record with an event; a record is closed exactly when its
  dispatch is over; an error is readable; every consumed injected failure left a fault;
- refusals raise ``ComputeError`` and change nothing (version, outbox, records, images);
- a sync pass only wrote instances that had no task at write time, and never set, cleared or
  otherwise touched ERROR (judged from the outbox: the version before each of its writes);
- what the browsers received — through the real outbox relay, an admin tab, a member tab,
  and a tab that went offline and resumed — equals the rows in the database.

At the end of each example every agent comes back, all work runs, and every action has ended.
The checks live in ``invariants.py``; the reference they compare with in ``reference.py``.

CI runs a short mode (``VMDASH_PROPERTY_EXAMPLES``, default 15 examples — 10 on PostgreSQL —
of ``VMDASH_PROPERTY_STEPS``, default 30 steps; ``-s`` prints what the run exercised). The
nightly mode is:

    VMDASH_PROPERTY_EXAMPLES=500 bash .ci/test tests/reliability

(``VMDASH_PROPERTY_STEPS=60`` for longer walks.)
"""

from __future__ import annotations

import os
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from rest_framework.test import APIClient

from compute import actions, preconditions, state_machine, watchdog
from compute.actions import NO_TASK
from compute.agent.agent import ComputeAgent
from compute.agent.executor import execute
from compute.conf import conf
from compute.context import RequestContext
from compute.drivers.fake import FakeDriver
from compute.exceptions import ComputeError, UnexpectedTaskState
from compute.models import (
    ActionDispatch,
    ChangeEvent,
    FakeFailure,
    FakeGuest,
    FakeLifecycleEvent,
    Host,
    HostAuditEntry,
    Image,
    Instance,
    InstanceAction,
    PowerSyncPass,
    Project,
)
from compute.outbox.relay import OutboxRelay
from compute.outbox.replay import latest_seq, replay
from compute.services import host_update, instance_action, instance_create
from compute.states import PowerState
from compute.sync import sync_host
from tests.conftest import CIRROS, DEBIAN, fresh
from tests.reliability.invariants import InvariantChecks, RecordingLayer
from tests.reliability.reference import Client
from tests.sync.conftest import set_guest_power

#: Unset: 15 examples on SQLite, 10 on PostgreSQL (where each step costs about three times as
#: much), so the short mode stays well under a minute on either.
EXAMPLES = os.environ.get("VMDASH_PROPERTY_EXAMPLES", "")
STEPS = int(os.environ.get("VMDASH_PROPERTY_STEPS", "30"))

#: The API is asked on every API_EVERY-th check (and at the end): it costs a request.
API_EVERY = 4
HOSTS = ("node1", "node2")
MAX_INSTANCES = 5
MAX_FAILURES = 4
INSTANCE = st.integers(0, MAX_INSTANCES - 1)
HOST = st.sampled_from(HOSTS)
ACTION_KEYS = tuple(a.key for a in actions.ACTIONS)
#: Actions that need no task and set one: of two racing on one instance, at most one wins.
EXCLUSIVE_KEYS = tuple(
    a.key for a in actions.ACTIONS if a.task_states == NO_TASK and a.start_task is not None
)
#: Requests that may slip in while a sync pass runs: each starts a task from many states.
RACING_SYNC_KEYS = ("reboot_hard", "delete", "stop", "start", "rebuild", "unpause")


#: What the runs exercised (printed with ``-s``): refusals by kind, race outcomes, kills …
STATS: Counter[str] = Counter()


def tally(what: str) -> None:
    STATS[what] += 1


class Killed(BaseException):
    """The agent process dies: not an ``Exception``, so nothing in the agent catches it."""


def params_for(key: str, variant: int) -> dict[str, Any]:
    """Valid parameters for ``key``; variant 0 drops them (a bad request for those needing any)."""
    if variant == 0:
        return {}
    return {
        "resize": {"flavorRef": str(1 + variant % 3)},
        "rebuild": {"imageRef": CIRROS if variant % 2 else DEBIAN},
        "createImage": {"name": f"snap-{variant}"},
        "createBackup": {"name": f"backup-{variant}", "backup_type": "daily", "rotation": 1},
        "changePassword": {"adminPass": "s3cret"},
        "os-resetState": {"state": "error" if variant % 2 else "active"},
        "lock": {"locked_reason": "maintenance"},
    }.get(key, {})


@contextmanager
def patched(target: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, original)


def reset_world(seeded_images: set[Any]) -> None:
    """Remove everything a previous example made; users, projects and the catalog stay."""
    ActionDispatch.objects.all().delete()
    Instance.objects.all().delete()  # with its faults and actions
    Image.objects.exclude(pk__in=seeded_images).delete()
    ChangeEvent.objects.all().delete()
    # The host audit trail is append-only and protects its hosts: only a reset goes around it.
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {HostAuditEntry._meta.db_table}")
    for model in (FakeGuest, FakeFailure, FakeLifecycleEvent, PowerSyncPass, Host):
        model.objects.all().delete()


class LoadMachine(InvariantChecks, RuleBasedStateMachine):
    #: Set by the test function from its fixtures.
    alice: RequestContext
    bob: RequestContext
    admin: RequestContext
    admin_token: str
    settings: Any
    seeded_images: set[Any]
    base_compute: dict[str, Any]

    def __init__(self) -> None:
        super().__init__()
        self.settings.COMPUTE = dict(self.base_compute)
        reset_world(self.seeded_images)
        self.marker = latest_seq()
        self.armed: list[str] = []
        self.failures = 0
        self.agents: dict[str, ComputeAgent] = {}
        self.alive: dict[str, bool] = {}
        for host in HOSTS:
            self._start_agent(host)
        self.api = APIClient()
        self.api.credentials(HTTP_X_AUTH_TOKEN=self.admin_token)
        # The browsers: an admin tab and a member tab fed by the real relay, and an admin tab
        # that goes offline now and then and resumes from the last sequence it saw.
        self.layer = RecordingLayer()
        self.relay = OutboxRelay(self.layer)
        self.relay.last_seq = self.marker
        self.admin_tab = Client(seq=self.marker)
        self.member_tab = Client(seq=self.marker)
        self.read: dict[str, int] = defaultdict(int)
        self.flaky_tab = Client(seq=self.marker)
        self.flaky_online = True
        self.versions: dict[str, int] = {}
        self.accepted: list[int] = []
        self.uuids: list[str] = []
        self.checks = 0
        for n in range(3):
            self._create(n)
            self._run_host_of(self.uuids[-1])

    # --- helpers ---------------------------------------------------------------------------
    def _start_agent(self, host: str) -> None:
        """A (re)started agent: register, recover what a dead one left, heartbeat."""
        agent = ComputeAgent(host=host, driver=FakeDriver(host=host))
        agent.register()
        waiting = set(FakeFailure.objects.values_list("message", flat=True))
        agent.recover()
        # A failure the clean-up of deleted guests ran into belongs to no instance: no fault.
        left = set(FakeFailure.objects.values_list("message", flat=True))
        self.armed = [m for m in self.armed if m in left or m not in waiting]
        agent.heartbeat()
        self.agents[host] = agent
        self.alive[host] = True

    def _create(self, n: int) -> None:
        instance = instance_create(
            context=fresh(self.alice), name=f"vm-{n}", flavor_ref="1", image_ref=CIRROS
        )
        self.uuids.append(str(instance.uuid))
        self._accept(InstanceAction.objects.filter(instance=instance).first())

    def _run_host_of(self, uuid: str) -> None:
        host = Instance.objects.filter(uuid=uuid).values_list("host__host", flat=True).first()
        if host and self.alive[host]:
            self._run(host)

    def _run(self, host: str) -> None:
        agent = self.agents[host]
        agent.heartbeat()
        agent.run_pending()
        # run_pending runs synchronously and logs what crashes the executor: anything still
        # running on this host now is an action the executor dropped on the floor.
        stuck = ActionDispatch.objects.filter(host__host=host, state="running")
        assert not stuck.exists(), f"the executor crashed on {list(stuck.values('kind'))}"

    def _uuid(self, i: int) -> str:
        return self.uuids[i % len(self.uuids)]

    def _context(self, who: str) -> RequestContext:
        return fresh({"alice": self.alice, "bob": self.bob, "admin": self.admin}[who])

    def _accept(self, record: InstanceAction | None) -> None:
        if record is not None:
            self.accepted.append(record.pk)

    def _snapshot(self, uuid: str) -> tuple[Any, ...]:
        return (
            Instance.objects.filter(uuid=uuid).values_list("version", flat=True).first(),
            latest_seq(),
            InstanceAction.objects.count(),
            ActionDispatch.objects.count(),
            Image.objects.count(),
        )

    def _act(self, who: str, uuid: str, key: str, params: dict[str, Any]) -> Any:
        """One request as an edge makes it: accepted, or refused with a ComputeError only."""
        before = self._snapshot(uuid)
        try:
            record = instance_action(
                context=self._context(who), instance_uuid=uuid, action=key, params=params
            )
        except ComputeError as refusal:
            assert self._snapshot(uuid) == before, (
                f"refused {key} ({refusal.message}) changed something: "
                f"{before} → {self._snapshot(uuid)}"
            )
            tally(f"refused: {type(refusal).__name__}")
            return refusal
        tally("accepted")
        self._accept(record)
        if record is not None:
            assert record.events.exists(), f"accepted {key} has no event"
        return record

    # --- rules: requests -----------------------------------------------------------------
    @initialize(reclaim=st.booleans(), offload=st.booleans())
    def configure(self, reclaim: bool, offload: bool) -> None:
        """Half the worlds soft-delete, half keep shelved instances on their host."""
        self.settings.COMPUTE = {
            **self.base_compute,
            "reclaim_instance_interval": 3600.0 if reclaim else 0.0,
            "shelved_offload_time": 0.0 if offload else -1.0,
        }

    @rule(
        i=INSTANCE,
        key=st.sampled_from(ACTION_KEYS),
        who=st.sampled_from(["alice", "alice", "admin", "bob"]),
        variant=st.integers(0, 3),
    )
    def user_action(self, i: int, key: str, who: str, variant: int) -> None:
        self._act(who, self._uuid(i), key, params_for(key, variant))

    @rule(i=INSTANCE, pick=st.integers(0, 63), who=st.sampled_from(["alice", "admin"]))
    def allowed_action(self, i: int, pick: int, who: str) -> None:
        """An action the page would offer now (most random keys are refused)."""
        uuid = self._uuid(i)
        key = self._offered(uuid, who, pick, ACTION_KEYS)
        if key is not None:
            self._act(who, uuid, key, params_for(key, 1 + pick % 3))

    def _offered(self, uuid: str, who: str, pick: int, among: tuple[str, ...]) -> str | None:
        instance = Instance.objects.select_related("host").filter(uuid=uuid).first()
        if instance is None or instance.deleted_at is not None:
            return None
        offered = preconditions.evaluate(instance, self._context(who))
        keys = [k for k in among if offered.get(k, "") is None]
        return keys[pick % len(keys)] if keys else None

    @rule(i=INSTANCE, state=st.sampled_from(["active", "error"]))
    def admin_reset(self, i: int, state: str) -> None:
        self._act("admin", self._uuid(i), "os-resetState", {"state": state})

    @precondition(lambda self: len(self.uuids) < MAX_INSTANCES)
    @rule()
    def create_instance(self) -> None:
        self._create(len(self.uuids))

    @rule(
        i=INSTANCE,
        first=st.sampled_from(EXCLUSIVE_KEYS),
        second=st.sampled_from(EXCLUSIVE_KEYS),
        offered=st.booleans(),
        who=st.sampled_from(["alice", "admin"]),
    )
    def exclusive_race(self, i: int, first: str, second: str, offered: bool, who: str) -> None:
        """Two requests that each need no task and set one: at most one wins; if neither
        does, neither could have alone, and nothing changed. ``offered``: both are actions
        the page offers now, so the race is a real one."""
        uuid = self._uuid(i)
        if offered:
            picks = (EXCLUSIVE_KEYS.index(first), EXCLUSIVE_KEYS.index(second))
            first = self._offered(uuid, who, picks[0], EXCLUSIVE_KEYS) or first
            second = self._offered(uuid, who, picks[1], EXCLUSIVE_KEYS) or second
        before = self._snapshot(uuid)
        outcomes = self._race(uuid, [(who, first), (who, second)])
        winners = [o for o in outcomes if isinstance(o, InstanceAction)]
        tally(f"exclusive race: {len(winners)} winner(s)")
        assert len(winners) <= 1, f"both {first} and {second} won on one instance"
        if not winners:
            assert self._snapshot(uuid) == before, "two refused requests changed something"
            assert not any(isinstance(o, UnexpectedTaskState) for o in outcomes), (
                f"a request lost a race nobody won: {outcomes}"
            )
            for key in (first, second):  # alone, on the same row, each is refused too
                again = self._act(who, uuid, key, params_for(key, 1))
                assert isinstance(again, ComputeError), (
                    f"{key} was refused in the race but accepted alone"
                )
        else:
            images = Image.objects.count() - before[4]
            made = sum(
                1
                for o, (_, key) in zip(outcomes, [(who, first), (who, second)], strict=True)
                if isinstance(o, InstanceAction) and key in ("createImage", "createBackup")
            )
            assert images == made, f"the race left {images} image(s) for {made} snapshot(s)"

    @rule(
        i=INSTANCE,
        first=st.sampled_from(ACTION_KEYS),
        second=st.sampled_from(ACTION_KEYS),
    )
    def any_race(self, i: int, first: str, second: str) -> None:
        """Any two requests at once: each is accepted or refused cleanly (the invariants then
        check that nothing was overwritten)."""
        self._race(self._uuid(i), [("admin", first), ("alice", second)])

    def _race(self, uuid: str, racers: list[tuple[str, str]]) -> list[Any]:
        barrier = threading.Barrier(len(racers))
        outcomes: list[Any] = [None] * len(racers)
        contexts = [self._context(who) for who, _ in racers]

        def go(n: int) -> None:
            key = racers[n][1]
            try:
                barrier.wait(timeout=10)
                outcomes[n] = instance_action(
                    context=contexts[n], instance_uuid=uuid, action=key, params=params_for(key, 1)
                )
            except ComputeError as refusal:
                outcomes[n] = refusal
            except BaseException as crash:
                outcomes[n] = crash
            finally:
                connection.close()

        threads = [threading.Thread(target=go, args=(n,)) for n in range(len(racers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        crashes = [o for o in outcomes if o is not None and not isinstance(o, InstanceAction)]
        crashes = [o for o in crashes if not isinstance(o, ComputeError)]
        assert not crashes, f"a racing request failed with a non-domain error: {crashes!r}"
        for outcome in outcomes:
            if isinstance(outcome, InstanceAction):
                self._accept(outcome)
        return outcomes

    # --- rules: the agents ---------------------------------------------------------------
    @rule(host=HOST, one=st.booleans())
    def agent_step(self, host: str, one: bool) -> None:
        if not self.alive[host]:
            return
        agent = self.agents[host]
        if not one:
            self._run(host)
            return
        for dispatch in agent.claim(1):
            # Directly, not through the agent's guard, so an executor crash fails the test.
            execute(
                agent.driver, ActionDispatch.objects.select_related("action").get(pk=dispatch.pk)
            )

    @rule()
    def drain(self) -> None:
        for _ in range(3):
            for host in HOSTS:
                if self.alive[host]:
                    self._run(host)

    @rule(host=HOST, when=st.sampled_from(["idle", "before_op", "after_op"]))
    def kill_agent(self, host: str, when: str) -> None:
        """The agent dies — idle, or in the middle of a walk, before or after a driver call —
        and its heartbeat stops."""
        if not self.alive[host]:
            return
        agent = self.agents[host]
        if when != "idle":
            real = agent.driver._operation

            @contextmanager
            def dying(name: str) -> Iterator[None]:
                if when == "before_op":
                    raise Killed(name)
                with real(name):
                    yield
                raise Killed(name)

            agent.driver._operation = dying  # type: ignore[method-assign]
            for dispatch in agent.claim(1):
                tally(f"agent killed {when} in {dispatch.kind}")
                with suppress(Killed):
                    execute(
                        agent.driver,
                        ActionDispatch.objects.select_related("action").get(pk=dispatch.pk),
                    )
        self.alive[host] = False
        past = timezone.now() - timedelta(seconds=3 * conf().effective_service_down_time())
        Host.objects.filter(host=host).update(last_seen_up=past)

    @rule(host=HOST)
    def restart_agent(self, host: str) -> None:
        if not self.alive[host]:
            self._start_agent(host)

    # Preconditions read the model, never the database: races make the database's history
    # vary between runs of one example, and Hypothesis needs the same rules on a replay.
    @precondition(lambda self: self.failures < MAX_FAILURES)
    @rule(
        host=st.sampled_from(["", *HOSTS]),
        operation=st.sampled_from(["", "power_off", "power_on", "spawn", "destroy", "pause"]),
    )
    def arm_failure(self, host: str, operation: str) -> None:
        self.failures += 1
        message = f"injected failure {self.failures}"
        FakeDriver.fail_next(host=host, operation=operation, message=message)
        self.armed.append(message)

    @rule(host=HOST, switch=st.sampled_from(["force_down", "force_up", "disable", "enable"]))
    def host_switch(self, host: str, switch: str) -> None:
        change: dict[str, Any] = {
            "force_down": {"forced_down": True},
            "force_up": {"forced_down": False},
            "disable": {"status": "disabled", "disabled_reason": "maintenance"},
            "enable": {"status": "enabled"},
        }[switch]
        host_update(context=self.admin, host=Host.objects.get(host=host), **change)

    @rule(advance=st.sampled_from([0, 400, 2000]))
    def watchdog_pass(self, advance: int) -> None:
        """The watchdog, with the clock jumped forward: stale dispatches, stuck tasks."""
        real_now = timezone.now
        later = SimpleNamespace(now=lambda: real_now() + timedelta(seconds=advance))
        with patched(watchdog, "timezone", later):
            watchdog.check_hosts()
            watchdog.fail_stale_dispatches()
            watchdog.reap_stuck_tasks()
        # A heartbeat that stopped is a change nobody writes: after a watchdog pass the pages
        # have been told every host's status as it is now (DESIGN flow 5).
        for host in Host.objects.all():
            told = (
                ChangeEvent.objects.filter(kind="host", object_id=str(host.uuid))
                .order_by("-id")
                .values_list("payload", flat=True)
                .first()
            )
            assert told is not None and told["host_status"] == host.host_status, (
                f"{host.host} is {host.host_status}, the pages were told {told}"
            )

    # --- rules: the hypervisor and the sync ----------------------------------------------
    @rule(
        i=INSTANCE,
        power=st.sampled_from([int(p) for p in PowerState]),
    )
    def guest_changes_behind_our_back(self, i: int, power: int) -> None:
        instance = Instance.objects.select_related("host").get(uuid=self._uuid(i))
        if instance.host_id is None:
            return
        set_guest_power(instance, int(power))

    @rule(
        host=HOST,
        race=st.sampled_from([None, "before_power_write", "before_correction"]),
        key=st.sampled_from(RACING_SYNC_KEYS),
    )
    def sync_pass(self, host: str, race: str | None, key: str) -> None:
        """One pass, optionally with a request on the instance it is about to write slipped in
        after the pass read the instances: before the bulk power write, or before a correction."""
        start = latest_seq()
        theirs: list[tuple[int, int]] = []

        def request_slips_in(uuid: str) -> None:
            if theirs:
                return
            low = latest_seq()
            self._act("admin", uuid, key, params_for(key, 1))
            theirs.append((low, latest_seq()))

        driver = FakeDriver(host=host)
        real_write = state_machine.set_power_states
        real_read = driver.get_power_state

        def write_after_request(*, host_id: int, changes: dict[int, int]) -> Any:
            if changes:
                pk = min(changes)
                request_slips_in(str(Instance.objects.values_list("uuid", flat=True).get(pk=pk)))
            return real_write(host_id=host_id, changes=changes)

        def read_after_request(uuid: str) -> int:
            request_slips_in(uuid)
            return real_read(uuid)

        if race == "before_correction":
            driver.get_power_state = read_after_request  # type: ignore[method-assign]
        hook = write_after_request if race == "before_power_write" else real_write
        with patched(state_machine, "set_power_states", hook):
            sync_host(host=host, driver=driver)
        if theirs:
            tally(f"a request slipped into a sync pass {race}")
        self._check_sync_writes(start, theirs)

    # --- rules: a browser tab going offline --------------------------------------------
    @precondition(lambda self: self.flaky_online)
    @rule()
    def tab_goes_offline(self) -> None:
        self._pump()
        self.flaky_online = False

    @precondition(lambda self: not self.flaky_online)
    @rule()
    def tab_comes_back(self) -> None:
        """Reconnect: join the groups (live deltas from now on), then resume from the last
        sequence seen; whatever arrives twice is ignored by version."""
        self._pump()
        self.read["flaky"] = len(self.layer.sent["admins"])
        missed, complete = replay(context=self.admin, since=self.flaky_tab.seq, limit=100_000)
        assert complete
        self.flaky_tab.receive_all(missed)
        self.flaky_online = True

    # --- the invariants ------------------------------------------------------------------
    @invariant()
    def the_world_is_consistent(self) -> None:
        rows = {str(i.uuid): i for i in Instance.objects.select_related("host").all()}
        self._check_states(rows)
        self.checks += 1
        if self.checks % API_EVERY == 0:  # the API's status is a pure function of the row
            self._check_api(rows)
        self._check_tasks_have_owners(rows)
        self._check_versions_and_outbox(rows)
        self._check_records()
        self._check_browsers(rows)

    # --- the end of an example ---------------------------------------------------------
    def teardown(self) -> None:
        try:
            for host in HOSTS:
                if not self.alive[host]:
                    self._start_agent(host)
            self.drain()
            open_work = ActionDispatch.objects.filter(state__in=["pending", "running"])
            assert not open_work.exists(), f"work left: {list(open_work.values('kind'))}"
            busy = Instance.objects.filter(task_state__isnull=False)
            assert not busy.exists(), f"tasks left: {list(busy.values('uuid', 'task_state'))}"
            assert not InstanceAction.objects.filter(finish_time__isnull=True).exists()
            self.the_world_is_consistent()
            self._check_api({str(i.uuid): i for i in Instance.objects.select_related("host")})
            # A tab that comes back only now catches up exactly, through replay alone.
            late = Client(seq=self.marker)
            late.receive_all(replay(context=self.admin, since=self.marker, limit=100_000)[0])
            assert late.objects == self.admin_tab.objects
        finally:
            executor = getattr(self.relay, "_executor", None)
            if executor is not None:  # the relay's own thread holds a database connection
                executor.submit(connections.close_all).result()
                executor.shutdown()


@pytest.mark.django_db(transaction=True)
def test_the_state_machine_keeps_every_invariant_under_random_load(
    alice_ctx, bob_ctx, admin_ctx, admin_user, catalog, settings
):
    from dashboard.api.identity import tokens

    LoadMachine.alice = alice_ctx
    LoadMachine.bob = bob_ctx
    LoadMachine.admin = admin_ctx
    LoadMachine.settings = settings
    LoadMachine.base_compute = {
        **settings.COMPUTE,
        "sync_power_state_interval": -1,
        "handle_virt_lifecycle_events": False,
        "fake_delays": {},
    }
    LoadMachine.seeded_images = set(Image.objects.values_list("pk", flat=True))
    LoadMachine.admin_token = tokens.token_issue(
        user=admin_user, project=Project.objects.get(name="admin"), methods=["password"]
    ).token
    postgres = connection.vendor == "postgresql"
    if postgres:
        # The session's own test database: waiting for each commit's fsync buys nothing here.
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
    STATS.clear()
    try:
        run(examples=int(EXAMPLES or (10 if postgres else 15)))
    finally:
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO DEFAULT")
    print("\n".join(f"{count:6d}  {what}" for what, count in sorted(STATS.items())))


def run(*, examples: int) -> None:
    run_state_machine_as_test(
        LoadMachine,
        settings=hypothesis_settings(
            max_examples=examples,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.function_scoped_fixture,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
            ],
        ),
    )
