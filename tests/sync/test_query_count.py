"""Cost: a pass over a host takes a constant number of queries in one transaction, whatever its
instance count; only corrections, which are per instance by nature, add queries.

Tests run inside a transaction of their own, so the pass's transaction shows as one SAVEPOINT
and its RELEASE; in production they are BEGIN and COMMIT, which are not statements.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compute.agent.agent import ComputeAgent
from compute.drivers.fake import FakeDriver
from compute.models import ChangeEvent, FakeGuest, FakeLifecycleEvent, Host, Instance, Project
from compute.states import PowerState
from compute.sync import sync_host
from tests.sync.conftest import bulk_active, system_actions

pytestmark = pytest.mark.django_db

P = PowerState
OUTBOX_INSERT = f'INSERT INTO "{ChangeEvent._meta.db_table}"'
SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT")


def statements(queries: list[str]) -> list[str]:
    """The queries of a pass without the test transaction's savepoints."""
    return [q for q in queries if not q.startswith(SAVEPOINTS)]


def transactions(queries: list[str]) -> int:
    return sum(q.startswith("SAVEPOINT") for q in queries)


@dataclass
class Fleet:
    agent: ComputeAgent
    instances: list[Instance]

    def one_pass(self) -> list[str]:
        """The SQL of one sync pass over this host, as its agent runs it (with its host row)."""
        connection.features.supports_json_field  # noqa: B018 - SQLite probes it once: not the pass
        with CaptureQueriesContext(connection) as captured:
            record = sync_host(host=self.agent.host, driver=self.agent.driver)
        assert record.error == ""
        assert record.checked == len(self.instances)
        return [q["sql"] for q in captured.captured_queries]

    def set_guests(self, power: int, instances: list[Instance] | None = None) -> None:
        chosen = self.instances if instances is None else instances
        FakeGuest.objects.filter(uuid__in=[str(i.uuid) for i in chosen]).update(state=power)


@pytest.fixture(scope="module")
def fleets(django_db_setup, django_db_blocker) -> Iterator[dict[int, Fleet]]:
    """Two fake hosts: one with 10 active instances, one with 1,000; every guest running.

    Built once for the module (1,010 instances through the state machine take seconds) and
    committed; each test runs in its own transaction on top, rolled back after it.
    """
    with django_db_blocker.unblock():
        project = Project.objects.create(name="fleet")
        made: dict[int, Fleet] = {}
        for n in (10, 1000):
            agent = ComputeAgent(host=f"node-{n}", driver=FakeDriver(host=f"node-{n}"))
            host = agent.register()
            made[n] = Fleet(agent, bulk_active(n, project_id=project.pk, host=host))
        try:
            yield made
        finally:
            hosts = [fleet.agent.host for fleet in made.values()]
            uuids = [str(i.uuid) for fleet in made.values() for i in fleet.instances]
            ChangeEvent.objects.filter(object_id__in=uuids).delete()
            ChangeEvent.objects.filter(object_id__in=[str(h.uuid) for h in hosts if h]).delete()
            Instance.objects.filter(host__in=hosts).delete()
            FakeGuest.objects.filter(host__in=[f"node-{n}" for n in made]).delete()
            FakeLifecycleEvent.objects.filter(host__in=[f"node-{n}" for n in made]).delete()
            Host.objects.filter(pk__in=[h.pk for h in hosts if h]).delete()
            project.delete()


@pytest.fixture(autouse=True)
def heartbeats(fleets: dict[int, Fleet], db: None) -> None:
    for fleet in fleets.values():
        fleet.agent.heartbeat()  # corrections wait while a host is not up


def test_a_pass_over_a_host_in_step_takes_the_same_three_queries_for_10_or_1000_instances(fleets):
    small, large = fleets[10].one_pass(), fleets[1000].one_pass()

    # the guests (the fake hypervisor is a table), the instances, the record: no host re-read,
    # no pruning (the watchdog and the command prune, apart from the passes)
    assert len(statements(small)) == 3, small
    assert statements(small)[2].startswith('INSERT INTO "compute_powersyncpass"')
    assert len(statements(large)) == len(statements(small))
    assert transactions(small) == transactions(large) == 1


def test_a_pass_that_writes_takes_five_queries_in_one_transaction(fleets):
    fleet = fleets[1000]
    fleet.set_guests(P.PAUSED, fleet.instances[:7])

    queries = fleet.one_pass()

    # the guests, the instances, then in one transaction: the conditional UPDATE … RETURNING
    # (no re-select), the outbox, the record
    assert len(statements(queries)) == 5, queries
    assert transactions(queries) == 1
    begin = queries.index(next(q for q in queries if q.startswith("SAVEPOINT")))
    update, outbox, record, end = queries[begin + 1 :]
    assert update.startswith('UPDATE "compute_instance"') and "RETURNING" in update
    assert OUTBOX_INSERT in outbox
    assert record.startswith('INSERT INTO "compute_powersyncpass"')
    assert end.startswith("RELEASE SAVEPOINT")
    assert not any('FROM "compute_host"' in q for q in queries)


def test_power_writes_for_every_instance_take_no_more_queries_for_1000_than_for_10(fleets):
    for fleet in fleets.values():
        fleet.set_guests(P.PAUSED)  # active + paused: power_state only, no correction

    small, large = fleets[10].one_pass(), fleets[1000].one_pass()

    assert Instance.objects.filter(power_state=P.PAUSED).count() == 1010
    # Every query but the outbox insert is the same, the power write included (one statement
    # for 1,000 rows). SQLite caps one statement at 999 parameters, so the outbox rows of 1,000
    # changes take a few INSERTs there (one on PostgreSQL): the only growth, and it is the
    # outbox's batching, not a query per instance.
    assert len([q for q in large if OUTBOX_INSERT not in q]) == len(
        [q for q in small if OUTBOX_INSERT not in q]
    )
    assert len([q for q in large if q.startswith('UPDATE "compute_instance"')]) == 1
    assert len([q for q in small if OUTBOX_INSERT in q]) == 1
    assert len([q for q in large if OUTBOX_INSERT in q]) <= 10


def test_corrections_add_queries_in_proportion_to_the_corrections_only(fleets):
    counts: dict[int, list[int]] = {}
    for n, fleet in fleets.items():
        counts[n] = []
        # Rounds of 1, 2 and 4 guests shut down behind the dashboard's back, fresh ones each time.
        for first, last in ((0, 1), (1, 3), (3, 7)):
            fleet.set_guests(P.SHUTDOWN, fleet.instances[first:last])
            counts[n].append(len(fleet.one_pass()))
            for instance in fleet.instances[first:last]:
                assert [a.action for a in system_actions(instance)] == ["stop"]
            fleet.agent.run_pending()  # the stops run: the host is in step again

    # The same for 10 and 1,000 instances …
    assert counts[10] == counts[1000]
    # … and growing by the same amount with each correction.
    one, two, four = counts[10]
    per_correction = two - one
    assert per_correction > 0
    assert four - two == 2 * per_correction
