"""The whole-fleet pass (``sync_fleet``, run by ``sync_power_states``): hosts synced a chunk at
a time make the same decisions, the same writes and the same per-host records as the agents'
one-host passes, in a number of queries per chunk that does not depend on its hosts or their
instances."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from compute import state_machine
from compute.agent.agent import ComputeAgent
from compute.drivers.fake import FakeDriver
from compute.models import ChangeEvent, FakeGuest, Host, Instance, InstanceAction, Project
from compute.states import PowerState, TaskState, VmState
from compute.sync import sync_fleet, sync_host
from tests.sync.conftest import bulk_active

pytestmark = pytest.mark.django_db

P = PowerState
V = VmState

#: Every vm_state the sync can meet on a host (offloaded instances have none).
VM_STATES = [v for v in V if v not in (V.SHELVED_OFFLOADED, V.DELETED)]


class Rollback(Exception):
    pass


def build(agents: list[ComputeAgent]) -> None:
    """Every (vm_state, guest power) pair, spread over the hosts, and what else a pass meets: a
    task in progress, an instance in step, a stranger guest, a guest whose instance moved."""
    project = Project.objects.create(name="fleet")
    pairs = list(itertools.product(VM_STATES, [int(p) for p in P]))
    hosts = [agent.host for agent in agents]
    per_host = -(-len(pairs) // len(hosts)) + 2
    made = {h.pk: bulk_active(per_host, project_id=project.pk, host=h) for h in hosts if h}
    for n, (vm_state, power) in enumerate(pairs):
        host = hosts[n % len(hosts)]
        assert host is not None
        instance = made[host.pk][n // len(hosts)]
        state_machine.transition(
            instance, expected_task_state=None, vm_state=vm_state, power_state=P.RUNNING
        )
        guests = FakeGuest.objects.filter(uuid=str(instance.uuid))
        if power == P.NOSTATE:
            guests.delete()
        else:
            guests.update(state=power)
    first = hosts[0]
    assert first is not None
    busy = made[first.pk][-1]
    state_machine.transition(busy, expected_task_state=None, task_state=TaskState.POWERING_OFF)
    FakeGuest.objects.filter(uuid=str(busy.uuid)).update(state=P.SHUTDOWN)
    FakeGuest.objects.create(
        uuid="0d2c7c2e-0000-4000-8000-00000000beef", host=first.host, name="x", state=P.RUNNING
    )
    moved = made[first.pk][-2]
    FakeGuest.objects.filter(uuid=str(moved.uuid)).update(host=hosts[-1].host)  # type: ignore[union-attr]


def outcome(records: list[Any]) -> dict[str, Any]:
    """Everything a pass leaves behind, without the clock."""
    return {
        "records": [
            (r.host.host, r.checked, r.changes, r.unknown_guests, r.error) for r in records
        ],
        "instances": sorted(
            Instance.objects.values_list("uuid", "vm_state", "task_state", "power_state", "version")
        ),
        "actions": sorted(
            InstanceAction.objects.filter(user_name="system").values_list(
                "instance__uuid", "action"
            )
        ),
        "events": sorted(
            (e.object_id, e.version, e.payload["power_state"], e.payload["task_state"])
            for e in ChangeEvent.objects.filter(kind=ChangeEvent.Kind.INSTANCE)
        ),
    }


@pytest.fixture
def fleet(agent_factory: Callable[[str], ComputeAgent]) -> list[ComputeAgent]:
    agents = [agent_factory(f"node{n}") for n in range(1, 6)]
    build(agents)
    return agents


def drivers_of(agents: list[ComputeAgent]) -> tuple[list[Host], dict[int, FakeDriver]]:
    hosts = [a.host for a in agents if a.host is not None]
    return hosts, {h.pk: FakeDriver(host=h.host) for h in hosts}


@pytest.mark.parametrize("chunk", [2, 5, 100])
def test_chunks_make_the_same_decisions_writes_and_records_as_one_host_passes(fleet, chunk):
    hosts, drivers = drivers_of(fleet)
    with pytest.raises(Rollback), transaction.atomic():
        one_by_one = outcome([sync_host(host=h, driver=drivers[h.pk]) for h in hosts])
        raise Rollback

    chunked = outcome(sync_fleet(hosts=hosts, drivers=drivers, chunk=chunk))

    assert chunked == one_by_one
    # and the scenario did exercise the table: writes, corrections, notes, strangers
    assert len(chunked["events"]) > len(fleet) * 2
    assert {a for _, a in chunked["actions"]} == {"stop"}
    assert any(r[3] for r in chunked["records"])


def test_every_host_gets_its_own_record_stamped_with_its_chunks_start(fleet):
    hosts, drivers = drivers_of(fleet)

    records = sync_fleet(hosts=hosts, drivers=drivers, chunk=3)

    assert [r.host_id for r in records] == [h.pk for h in hosts]
    assert all(r.pk is not None for r in records)
    # A chunk starts once for all its hosts; a host with corrections is recorded after them.
    first, second = records[:3], records[3:]
    assert len({r.started_at for r in first}) == len({r.started_at for r in second}) == 1
    assert first[0].started_at < second[0].started_at
    assert all(r.duration_ms > 0 for r in records)
    assert (
        sum(r.checked for r in records)
        == Instance.objects.filter(host__in=hosts, deleted_at__isnull=True).count()
    )


def test_a_chunk_takes_the_same_queries_for_1_or_5_hosts(agent_factory):
    agents = [agent_factory(f"node{n}") for n in range(1, 6)]
    project = Project.objects.create(name="fleet")
    for agent in agents:
        assert agent.host is not None
        made = bulk_active(12, project_id=project.pk, host=agent.host)
        # a different drift on every host: paused behind the dashboard's back (power only)
        FakeGuest.objects.filter(
            uuid__in=[str(i.uuid) for i in made[: agents.index(agent) + 1]]
        ).update(state=P.PAUSED)
    hosts, drivers = drivers_of(agents)
    connection.features.supports_json_field  # noqa: B018 - SQLite probes it once

    def queries(chosen: list[Host]) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            sync_fleet(hosts=chosen, drivers=drivers, chunk=100)
        return [q["sql"] for q in captured.captured_queries]

    one, five = queries(hosts[:1]), queries(hosts[1:])

    # the guests, the instances, the power write, the outbox, the records; one transaction
    assert len(one) == len(five) == 7, five
    assert Instance.objects.filter(power_state=P.PAUSED).count() == 15


def test_chunks_of_two_take_a_chunks_queries_per_two_hosts(agent_factory):
    agents = [agent_factory(f"node{n}") for n in range(1, 6)]
    hosts, drivers = drivers_of(agents)
    connection.features.supports_json_field  # noqa: B018

    with CaptureQueriesContext(connection) as captured:
        sync_fleet(hosts=hosts, drivers=drivers, chunk=2)

    # 3 chunks (2, 2, 1 hosts) in step: guests, instances, records each
    inserts = [q for q in captured.captured_queries if "compute_powersyncpass" in q["sql"]]
    assert len(inserts) == 3
    assert len(captured.captured_queries) == 3 * (3 + 2)  # + the test's SAVEPOINT and RELEASE


def test_a_chunk_whose_listing_fails_records_the_error_on_every_host(fleet, monkeypatch):
    def broken(_hosts: Any) -> dict[str, dict[str, int]]:
        raise RuntimeError("hypervisor not ready")

    monkeypatch.setattr(FakeDriver, "list_power_states_of_hosts", staticmethod(broken))
    hosts, drivers = drivers_of(fleet)
    versions = dict(Instance.objects.values_list("pk", "version"))

    records = sync_fleet(hosts=hosts, drivers=drivers, chunk=3)

    assert [r.error for r in records] == ["hypervisor not ready"] * len(hosts)
    assert [r.checked for r in records] == [0] * len(hosts)
    assert dict(Instance.objects.values_list("pk", "version")) == versions


def test_hosts_on_a_driver_without_a_fleet_listing_are_synced_one_by_one(fleet):
    class OneHostDriver(FakeDriver):
        list_power_states_of_hosts = None  # type: ignore[assignment]

    hosts, _ = drivers_of(fleet)
    drivers: dict[int, FakeDriver] = {h.pk: OneHostDriver(host=h.host) for h in hosts}

    with CaptureQueriesContext(connection) as captured:
        records = sync_fleet(hosts=hosts, drivers=drivers, chunk=100)

    assert [r.host_id for r in records] == [h.pk for h in hosts]
    guest_reads = [q for q in captured.captured_queries if 'FROM "compute_fakeguest"' in q["sql"]]
    per_host = [q for q in guest_reads if '"compute_fakeguest"."host" = ' in q["sql"]]
    assert len(per_host) == len(hosts)
