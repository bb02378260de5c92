"""Marker paging (``compute.selectors.paginate``): the page after a marker is exactly the next
slice of the whole ordered list, for every sort a caller may ask for, forwards and reversed;
and on a sort whose columns are never NULL it is found by a condition on those columns, without
reading every row before it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compute.exceptions import Invalid
from compute.selectors import SORT_KEYS, InstanceFilters, instance_list, paginate, rows_before
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(make_instance, alice_ctx):
    """Twelve instances: repeated names and states (ties the id must break), some stopped,
    one shelved without a host (NULL sort values)."""
    made = []
    for n, state in enumerate(["active", "stopped"] * 5 + ["shelved_offloaded", "paused"]):
        made.append(make_instance(state, name=f"vm-{n % 4}"))
    return made


def ordered(context, sort):
    return instance_list(context=context, filters=InstanceFilters(sort=sort), joined=())


@pytest.mark.parametrize("key", sorted(set(SORT_KEYS) - {"host", "node"}))
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_page_after_a_marker_is_the_next_slice_of_the_whole_order(
    fleet, alice_ctx, key, direction
):
    rows = ordered(alice_ctx, [(key, direction)])
    for selection in (rows, rows.reverse()):
        everything = [i.uuid for i in selection]
        assert len(everything) == len(fleet)
        for at, marker in enumerate(everything):
            page = paginate(selection, limit=3, marker=str(marker), context=fresh(alice_ctx))
            assert [i.uuid for i in page] == everything[at + 1 : at + 4], (key, direction, at)
            values = paginate(
                selection, limit=3, marker=str(marker), context=alice_ctx, columns=("uuid",)
            )
            assert [v[0] for v in values] == everything[at + 1 : at + 4]


@pytest.mark.parametrize("key", sorted(set(SORT_KEYS) - {"host", "node"}))
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_the_rows_before_a_row_are_its_place_in_the_whole_order(fleet, alice_ctx, key, direction):
    rows = ordered(alice_ctx, [(key, direction)])
    for selection in (rows, rows.reverse()):
        everything = [i.uuid for i in selection]
        assert [rows_before(selection, u) for u in everything] == list(range(len(everything)))
    assert rows_before(rows.filter(pk__in=[]), everything[0]) is None  # not one of the rows


def test_a_deep_page_on_the_default_sort_reads_only_its_rows(fleet, alice_ctx):
    rows = ordered(alice_ctx, [("created_at", "desc")])
    everything = [i.uuid for i in rows]
    with CaptureQueriesContext(connection) as queries:
        page = paginate(rows, limit=2, marker=str(everything[3]), context=alice_ctx)
    assert [i.uuid for i in page] == everything[4:6]
    # The marker's sort values, then the page: no query without a LIMIT (none reads every uuid).
    assert len(queries) == 2
    assert all("LIMIT" in q["sql"] for q in queries), [q["sql"] for q in queries]


def test_a_marker_outside_the_selection_is_refused(fleet, alice_ctx, bob_ctx):
    rows = ordered(alice_ctx, [("name", "asc")])
    stopped = next(i for i in fleet if i.vm_state == "stopped")
    active_only = instance_list(
        context=alice_ctx, filters=InstanceFilters(vm_states=["active"]), joined=()
    )
    with pytest.raises(Invalid, match="not found"):
        paginate(active_only, limit=2, marker=str(stopped.uuid), context=alice_ctx)
    with pytest.raises(Invalid, match="not found"):
        paginate(rows, limit=2, marker="not-a-uuid", context=alice_ctx)
    bobs = ordered(bob_ctx, [("name", "asc")])
    with pytest.raises(Invalid, match="not found"):
        paginate(bobs, limit=2, marker=str(fleet[0].uuid), context=bob_ctx)
