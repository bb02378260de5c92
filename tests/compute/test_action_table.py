"""The action table is complete: every row has the hooks its shape needs, and every edge that
offers an action finds what it needs in the row — so adding an action is adding a row. (That
every user action has an API body, answered as the table says, is tests/api/test_server_actions.)"""

from __future__ import annotations

import pytest

from compute.actions import ACTIONS, BY_KEY, GROUPS, Result
from compute.agent.finish import FINISHERS
from compute.agent.operations import OPS
from compute.services.instances import COMPLETIONS
from compute.services.params import PREPARERS
from compute.states import VmState

EVERY = sorted(BY_KEY.values(), key=lambda s: s.key)


@pytest.mark.parametrize("spec", EVERY, ids=lambda s: s.key)
def test_every_row_has_the_hooks_its_shape_needs(spec):
    if spec.params:
        assert spec.prepare, f"{spec.key} takes {spec.params} but names no preparer"
    if spec.prepare:
        assert spec.prepare in PREPARERS
    if spec.completed_by_service:
        assert spec.complete in COMPLETIONS, f"{spec.key} has no steps and no completion"
    else:
        assert not spec.complete, f"{spec.key} is the agent's, yet names a completion"
    for step in spec.steps:
        assert step.driver_call is None or step.driver_call in OPS, step
    if spec.finish:
        assert spec.finish in FINISHERS
        assert spec.steps, f"{spec.key} is finished by the service, not the agent"
    assert (spec.result is Result.CHOSEN) == bool(spec.chosen_results)
    if spec.reclaiming:
        assert BY_KEY[spec.reclaiming].result == VmState.SOFT_DELETED
        assert BY_KEY[spec.reclaiming].name == spec.name  # the action log says "delete" either way


def test_every_preparer_completion_and_finisher_is_named_by_a_row():
    assert {s.prepare for s in EVERY if s.prepare} == set(PREPARERS)
    assert {s.complete for s in EVERY if s.complete} == set(COMPLETIONS)
    assert {s.finish for s in EVERY if s.finish} == set(FINISHERS)


def test_the_groups_hold_every_user_action_once_and_each_row_names_its_group():
    shown = [spec for family in GROUPS.values() for spec in family]
    assert sorted(s.key for s in shown) == sorted(s.key for s in ACTIONS)
    for title, family in GROUPS.items():
        assert {s.group for s in family} == {title}


def test_rows_served_as_one_action_with_a_type_have_distinct_values():
    by_action: dict[str, list[str]] = {}
    for spec in ACTIONS:
        if spec.variant is not None:
            by_action.setdefault(spec.variant.action, []).append(spec.variant.value)
    assert by_action == {"reboot": ["SOFT", "HARD"]}
