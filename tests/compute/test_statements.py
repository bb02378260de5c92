"""The acceptance's statements (``compute.statements``) read and write exactly what the ORM
would: the same instance, the same related rows, the same columns written, the same conditions
— on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from compute import statements
from compute.models import Host, Instance
from compute.selectors import JOINED, instance_get
from compute.states import TaskState, VmState

pytestmark = pytest.mark.django_db


def values(row) -> dict:
    return {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields}


def assert_same(fast: Instance, orm: Instance, joined) -> None:
    assert values(fast) == values(orm)
    for name in joined:
        field = Instance._meta.get_field(name)
        assert field.is_cached(fast), f"{name} is not read with the instance"
        mine, theirs = getattr(fast, name), getattr(orm, name)
        assert (mine is None) == (theirs is None)
        if mine is not None:
            assert values(mine) == values(theirs)


@pytest.fixture
def instances(make_instance) -> list[Instance]:
    """An instance in each situation a read meets: on a host, stopped, without a host (shelved
    offloaded: a NULL foreign key), and deleted."""
    return [
        make_instance("active", name="on-host"),
        make_instance("stopped", name="stopped"),
        make_instance("shelved_offloaded", name="offloaded"),
        make_instance("deleted", name="gone"),
    ]


@pytest.mark.parametrize("joined", [JOINED, ("host",), ("flavor", "image"), ()])
@pytest.mark.parametrize("include_deleted", [False, True])
def test_reading_one_instance_gives_what_the_orm_gives(
    instances, alice_ctx, joined, include_deleted, django_assert_num_queries
) -> None:
    offloaded = next(i for i in instances if i.name == "offloaded")
    assert offloaded.host_id is None and offloaded.image_id is not None
    for instance in instances:
        orm = (
            Instance.objects.select_related(*joined)
            .filter(project_id__in=alice_ctx.project_ids)
            .filter(**({} if include_deleted else {"deleted_at__isnull": True}))
            .filter(uuid=instance.uuid)
            .first()
        )
        with django_assert_num_queries(1):
            fast = statements.instance_by_uuid(
                instance.uuid,
                project_ids=sorted(alice_ctx.project_ids),
                include_deleted=include_deleted,
                joined=joined,
            )
            if fast is not None:  # the relations came with it: reading them is no query
                for name in joined:
                    getattr(fast, name)
        if orm is None:
            assert fast is None
            assert instance.deleted_at is not None and not include_deleted
        else:
            assert fast is not None
            assert_same(fast, orm, joined)


def test_a_member_reads_only_its_projects_instances_and_an_admin_any(
    instances, bob_ctx, admin_ctx
) -> None:
    uid = instances[0].uuid
    assert (
        statements.instance_by_uuid(
            uid, project_ids=sorted(bob_ctx.project_ids), include_deleted=False, joined=JOINED
        )
        is None
    )
    assert (
        statements.instance_by_uuid(uid, project_ids=[], include_deleted=False, joined=JOINED)
        is None
    )
    found = statements.instance_by_uuid(uid, project_ids=None, include_deleted=False, joined=())
    assert found is not None and found.pk == instances[0].pk
    # And through the selector every view and service calls.
    assert instance_get(context=admin_ctx, instance_uuid=str(uid)).pk == instances[0].pk


def write(instance: Instance, updates: dict, *, task=(None,), vm=None) -> Instance | None:
    return statements.instance_update(
        instance.pk, dict(updates), expected_task_states=task, expected_vm_states=vm
    )


#: The columns the write below names (``host`` by its column).
WRITTEN = (
    "task_state",
    "task_started_at",
    "progress",
    "system_metadata",
    "host_id",
    "launched_at",
    "updated_at",
)


def test_a_write_is_the_update_the_orm_would_make(instances, host) -> None:
    instance = instances[0]
    before = Instance.objects.get(pk=instance.pk)
    now = timezone.now()
    updates = {
        "task_state": TaskState.POWERING_OFF,
        "task_started_at": now,
        "progress": 0,
        "system_metadata": {"old_vm_state": "active", "ünïcode": [1, None]},
        "host": host,
        "launched_at": now - timedelta(days=1),
        "updated_at": now,
    }
    written = write(instance, updates, vm=[VmState.ACTIVE, VmState.STOPPED])
    assert written is not None
    stored = Instance.objects.get(pk=instance.pk)
    assert values(written) == values(stored)
    assert stored.version == before.version + 1
    assert stored.task_state == TaskState.POWERING_OFF
    assert stored.system_metadata == {"old_vm_state": "active", "ünïcode": [1, None]}
    assert stored.host_id == host.pk
    # Everything not named is as it was.
    untouched = set(values(before)) - {*WRITTEN, "version"}
    assert {k: values(before)[k] for k in untouched} == {k: values(stored)[k] for k in untouched}

    # The same write through the ORM's own UPDATE leaves the same row.
    other = instances[1]
    Instance.objects.filter(pk=other.pk).update(**updates, version=F("version") + 1)
    orm_row, fast_row = values(Instance.objects.get(pk=other.pk)), values(stored)
    assert {k: orm_row[k] for k in WRITTEN} == {k: fast_row[k] for k in WRITTEN}


def test_a_foreign_key_can_be_cleared(instances) -> None:
    written = write(instances[1], {"host": None})
    assert written is not None and written.host_id is None
    assert Instance.objects.get(pk=instances[1].pk).host_id is None


@pytest.mark.parametrize(
    ("task", "vm", "writes"),
    [
        ((None,), None, True),
        ((None, TaskState.DELETING), None, True),
        ((TaskState.DELETING,), None, False),  # the row has no task
        ((), None, False),  # nothing is expected: nothing matches
        ((None,), [VmState.ACTIVE], True),
        ((None,), [VmState.STOPPED, VmState.PAUSED], False),
        ((None,), [], False),
    ],
)
def test_a_write_happens_only_where_every_condition_holds(instances, task, vm, writes) -> None:
    instance = instances[0]
    before = values(Instance.objects.get(pk=instance.pk))
    written = write(instance, {"progress": 42}, task=task, vm=vm)
    after = values(Instance.objects.get(pk=instance.pk))
    if writes:
        assert written is not None and after["progress"] == 42
        assert after["version"] == before["version"] + 1
    else:
        assert written is None and after == before


def test_a_deleted_instance_is_never_written(instances) -> None:
    gone = next(i for i in instances if i.name == "gone")
    before = values(Instance.objects.get(pk=gone.pk))
    assert write(gone, {"progress": 7}) is None
    assert values(Instance.objects.get(pk=gone.pk)) == before


def test_an_expression_is_refused_rather_than_written_wrongly(instances) -> None:
    with pytest.raises(TypeError, match="expressions"):
        write(instances[0], {"progress": F("progress") + 1})


def test_another_hosts_row_is_written_with_that_host(instances, agent_factory) -> None:
    other = agent_factory("node2").host
    assert isinstance(other, Host)
    written = write(instances[0], {"host": other})
    assert written is not None and written.host_id == other.pk
