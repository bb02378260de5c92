"""The outbox rows a sync pass's power writes append (``compute.outbox.write``): one per written row,
whose kind, object id, version and project are its payload's, with the payload every reader of
the outbox expects — field by field, as the delta has always been built, whichever way the
batch builds it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compute import state_machine
from compute.models import ChangeEvent, Host, Instance, Project
from compute.outbox import write as events
from compute.state_machine import PowerWrite
from compute.states import PowerState, TaskState, VmState
from tests.reliability.reference import reference_delta
from tests.sync.conftest import bulk_active

pytestmark = pytest.mark.django_db

P = PowerState
V = VmState


def test_each_written_row_has_one_outbox_row_carrying_its_delta(host: Host) -> None:
    other = Host.objects.create(host="outbox-other", driver="fake")
    project = Project.objects.create(name="outbox").pk
    mine = bulk_active(4, project_id=project, host=host)
    theirs = bulk_active(2, project_id=project, host=other)
    before = ChangeEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    written = state_machine.set_power_states(
        host_id=None,
        changes={
            **{i.pk: PowerWrite(P.SHUTDOWN, host, V.ACTIVE, P.RUNNING) for i in mine},
            **{i.pk: PowerWrite(P.PAUSED, other, V.ACTIVE, P.RUNNING) for i in theirs},
        },
    )

    rows = list(ChangeEvent.objects.filter(id__gt=before).order_by("id"))
    assert len(rows) == len(written) == 6
    by_uuid = {str(i.uuid): i for i in written}
    for row in rows:
        instance = by_uuid.pop(row.object_id)
        fresh = Instance.objects.select_related("host").get(pk=instance.pk)
        assert row.payload == reference_delta(fresh)
        assert (row.kind, row.version, row.project_id) == ("instance", fresh.version, project)
    assert by_uuid == {}
    assert {r.payload["host"] for r in rows} == {host.host, other.host}


@pytest.mark.parametrize(
    ("vm_state", "task_state", "deleted"),
    [
        (V.ACTIVE, None, False),
        (V.ACTIVE, TaskState.REBOOTING, False),
        (V.STOPPED, TaskState.POWERING_ON, False),
        (V.ERROR, None, False),
        (V.ACTIVE, None, True),
        ("no-such-state", None, False),
    ],
)
def test_a_batch_builds_every_delta_as_one_instance_alone(
    host: Host, vm_state: str, task_state: str | None, deleted: bool
) -> None:
    """Shared lookups (status, timestamps, host names) never leak from one row to the next."""
    (instance,) = bulk_active(1, project_id=Project.objects.create(name="b").pk, host=host)
    now = timezone.now()
    variants = []
    # The same instant twice, in two zones: it prints differently, so it is no shared stamp.
    for n, stamp in enumerate((now, now.astimezone(timezone.get_fixed_timezone(60)))):
        copy = Instance.objects.select_related("host").get(pk=instance.pk)
        copy.vm_state, copy.task_state = vm_state, task_state
        copy.deleted_at = now if deleted else None
        copy.task_started_at = now - timedelta(seconds=n) if task_state else None
        copy.updated_at = stamp
        copy.version = n
        variants.append(copy)
    variants.append(Instance.objects.select_related("host").get(pk=instance.pk))
    detached = Instance.objects.get(pk=instance.pk)
    detached.host_id = None
    variants.append(detached)

    batch = events.DeltaBuilder()
    assert [batch.instance(i) for i in variants] == [reference_delta(i) for i in variants]


def test_a_host_change_is_a_host_row_without_a_project(host: Host) -> None:
    before = ChangeEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    events.record_host_change(host, status="down")
    (row,) = ChangeEvent.objects.filter(id__gt=before)
    assert (row.kind, row.object_id, row.version, row.project_id) == (
        "host",
        str(host.uuid),
        host.version,
        None,
    )
    assert row.payload == events.host_delta(host, status="down")
