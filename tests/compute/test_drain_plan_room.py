"""The drain plan's room (``compute.selectors.drain``): movable instances are placed in order on
the emptiest other host that has room, as the scheduler would, and once no host has room for a
flavor the plan says so in Nova's words."""

from __future__ import annotations

import pytest

from compute.selectors import drain
from compute.selectors.inventory import Capacity

pytestmark = pytest.mark.django_db


def test_movable_instances_fill_the_emptiest_other_host_first(
    make_instance, agent_factory, admin_ctx, host
):
    for name in ("a", "b", "c"):
        make_instance("active", name=name)
    agent_factory("node2")
    agent_factory("node3")
    plan = drain.drain_plan(context=admin_ctx, host=host)
    assert [(row.instance.name, row.destination) for row in plan.rows] == [
        ("a", "node2"),
        ("b", "node3"),
        ("c", "node2"),
    ]
    assert all(row.verdict == "live-migrate" for row in plan.rows)


def test_once_no_host_has_room_the_moves_are_refused_with_no_valid_host(
    make_instance, agent_factory, admin_ctx, host, monkeypatch
):
    for name in ("a", "b", "c"):
        make_instance("active", name=name)
    agent_factory("node2")
    # Room for one m1.tiny (1 vCPU, 512 MB, 1 GB) on node2, none for a second.
    monkeypatch.setattr(drain, "HOST_CAPACITY", Capacity(vcpus=1, memory_mb=512, local_gb=1))
    rows = drain.drain_plan(context=admin_ctx, host=host).rows
    assert [row.destination for row in rows] == ["node2", None, None]
    assert rows[0].verdict == "live-migrate"
    for row in rows[1:]:
        assert row.verdict == "cannot-move" and row.default == "leave"
        assert row.choices["live-migrate"] == drain.NO_ROOM
        assert row.reason == drain.NO_ROOM
        assert row.choices["stop"] is None


def test_vcpus_are_offered_four_to_one_as_novas_initial_cpu_allocation_ratio():
    from compute.selectors.inventory import schedulable

    offered = schedulable(Capacity(vcpus=64, memory_mb=262144, local_gb=4096))
    assert offered == Capacity(vcpus=256, memory_mb=262144, local_gb=4096)
