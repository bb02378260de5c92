"""``state_machine.set_power_states``, the sync's one write: conditional at write time on the
task, the host and what the sync read (invariant 3), one statement that returns the rows it
wrote, and the same outcome on a database without ``UPDATE … RETURNING``."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compute import state_machine
from compute.models import ChangeEvent, Host, Instance, Project
from compute.outbox import write as events
from compute.services.hosts import host_register
from compute.state_machine import PowerWrite
from compute.states import PowerState, TaskState, VmState
from tests.reliability.reference import reference_delta
from tests.sync.conftest import bulk_active

pytestmark = pytest.mark.django_db

P = PowerState
V = VmState


@pytest.fixture(params=["returning", "locked"])
def way(request, monkeypatch) -> str:
    """Both ways of writing: ``UPDATE … RETURNING``, and the row locks a database without it
    needs."""
    if request.param == "locked":
        monkeypatch.setattr(state_machine, "_update_returning", lambda: False)
    return request.param


@pytest.fixture
def three(host: Host) -> list[Instance]:
    return bulk_active(3, project_id=Project.objects.create(name="pw").pk, host=host)


def events_of(instance: Instance) -> list[ChangeEvent]:
    return list(ChangeEvent.objects.filter(object_id=str(instance.uuid)).order_by("id"))


def test_rows_still_as_read_are_written_published_and_returned_as_committed(way, host, three):
    first, second, third = three
    before = len(events_of(first))

    written = state_machine.set_power_states(
        host_id=None,
        changes={
            first.pk: PowerWrite(P.SHUTDOWN, host, V.ACTIVE, P.RUNNING),
            second.pk: PowerWrite(P.PAUSED, host, V.ACTIVE, P.RUNNING),
        },
    )

    assert sorted(i.pk for i in written) == [first.pk, second.pk]
    for instance in written:
        assert instance.host is host  # the caller's row: no join, no query
        # What the change event reads came back with the write, converted as the ORM would.
        with CaptureQueriesContext(connection) as reads:
            delta = events.DeltaBuilder().instance(instance)
        assert reads.captured_queries == []
        fresh = Instance.objects.select_related("host").get(pk=instance.pk)
        assert delta == reference_delta(fresh)
        assert isinstance(instance.uuid, uuid.UUID)
        assert instance.updated_at.tzinfo is not None
        # Any other field still reads as committed (it loads on access).
        fresh = Instance.objects.get(pk=instance.pk)
        for f in Instance._meta.concrete_fields:
            assert getattr(instance, f.attname) == getattr(fresh, f.attname), f.name
    assert Instance.objects.get(pk=first.pk).version == first.version + 1
    assert Instance.objects.get(pk=third.pk).version == third.version
    (event,) = events_of(first)[before:]
    assert event.version == first.version + 1
    assert event.payload["power_state"] == P.SHUTDOWN
    assert event.payload["host"] == host.host


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda i: {"task_state": TaskState.POWERING_OFF}, id="a task started"),
        pytest.param(lambda i: {"vm_state": V.STOPPED}, id="vm_state changed"),
        pytest.param(lambda i: {"power_state": P.PAUSED}, id="power_state changed"),
    ],
)
def test_a_row_that_changed_since_the_sync_read_it_is_neither_written_nor_published(
    way, host, three, change
):
    first, second, _ = three
    state_machine.transition(first, expected_task_state=None, **change(first))
    changed = Instance.objects.get(pk=first.pk)
    before = len(events_of(first))

    written = state_machine.set_power_states(
        host_id=None,
        changes={
            first.pk: PowerWrite(P.SHUTDOWN, host, V.ACTIVE, P.RUNNING),
            second.pk: PowerWrite(P.SHUTDOWN, host, V.ACTIVE, P.RUNNING),
        },
    )

    assert [i.pk for i in written] == [second.pk]
    after = Instance.objects.get(pk=first.pk)
    assert (after.vm_state, after.task_state, after.power_state, after.version) == (
        changed.vm_state,
        changed.task_state,
        changed.power_state,
        changed.version,
    )
    assert len(events_of(first)) == before


def test_a_row_on_another_host_is_not_written(way, host, three):
    other = host_register(host="node9", driver="fake")

    written = state_machine.set_power_states(
        host_id=None, changes={three[0].pk: PowerWrite(P.SHUTDOWN, other, V.ACTIVE, P.RUNNING)}
    )

    assert written == []
    assert Instance.objects.get(pk=three[0].pk).power_state == P.RUNNING


def test_plain_power_states_for_one_host_are_written_without_expectations(way, host, three):
    """The other callers (demos, benchmarks) name only the host and the power state."""
    first, second, _ = three
    state_machine.transition(first, expected_task_state=None, vm_state=V.STOPPED)

    written = state_machine.set_power_states(
        host_id=host.pk, changes={first.pk: P.SHUTDOWN, second.pk: P.CRASHED}
    )

    assert sorted((i.pk, i.power_state) for i in written) == sorted(
        [(first.pk, P.SHUTDOWN), (second.pk, P.CRASHED)]
    )
    assert all(i.host.host == host.host for i in written)
    assert state_machine.set_power_states(host_id=host.pk + 1000, changes={first.pk: 1}) == []


def test_plain_power_states_need_a_host():
    with pytest.raises(ValueError, match="names no host"):
        state_machine.set_power_states(host_id=None, changes={1: P.RUNNING})


def test_a_thousand_rows_in_many_states_are_one_statement(host):
    instances = bulk_active(1000, project_id=Project.objects.create(name="pw").pk, host=host)
    powers = [P.SHUTDOWN, P.CRASHED, P.PAUSED, P.SUSPENDED, P.NOSTATE]
    changes = {
        i.pk: PowerWrite(powers[n % len(powers)], host, V.ACTIVE, P.RUNNING)
        for n, i in enumerate(instances)
    }
    connection.features.supports_json_field  # noqa: B018 - SQLite probes it once

    with CaptureQueriesContext(connection) as captured:
        written = state_machine.set_power_states(host_id=None, changes=changes)

    assert len(written) == 1000
    updates = [q for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert not any(q["sql"].startswith("SELECT") for q in captured.captured_queries)
