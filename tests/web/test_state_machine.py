"""The state-machine picture and page are drawn from the action table, and the README's copy
(docs/state-machine.svg) is the same picture."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from compute.actions import ACTIONS, CREATE
from compute.models.tenancy import Role
from dashboard.web.diagram import state_machine_svg
from dashboard.web.transitions import ANY, graph

DOCS_SVG = Path(__file__).resolve().parents[2] / "docs" / "state-machine.svg"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def svg() -> ElementTree.Element:
    return ElementTree.fromstring(state_machine_svg())


def _arrows(svg: ElementTree.Element) -> dict[str, set[str]]:
    return {
        p.find(f"{SVG}title").text.split(":")[0]: set(p.get("data-actions").split())
        for p in svg.iter(f"{SVG}path")
        if p.get("class") == "arrow"
    }


def test_the_picture_is_well_formed_svg_with_a_title(svg):
    assert svg.tag == f"{SVG}svg"
    assert svg.find(f"{SVG}title").text.startswith("Instance state machine")


def test_every_vm_state_is_a_box(svg):
    states = {g.get("data-state") for g in svg.iter(f"{SVG}g") if g.get("class") == "node"}
    assert states == {*graph().states, ANY}


def test_every_arrow_of_the_action_table_is_drawn_with_its_actions(svg):
    drawn = _arrows(svg)
    for (source, target), arrows in graph().arrows.items():
        if source == ANY and any("state" in a.spec.params for a in arrows):
            continue  # reset state picks its target: listed in the "any vm_state" box
        assert f"{source} → {target}" in drawn
        assert {a.spec.key for a in arrows} <= drawn[f"{source} → {target}"]


def test_every_action_that_changes_vm_state_shows_the_task_states_it_walks(svg):
    text = state_machine_svg()
    moving = {a.spec.key for arrows in graph().arrows.values() for a in arrows}
    for spec in (*ACTIONS, CREATE):
        assert spec.label in text, spec.key
        if spec.key in moving:
            for task_state in spec.walk:
                assert task_state in text, (spec.key, task_state)


def test_actions_that_keep_the_vm_state_are_listed_in_its_box(svg):
    for state, specs in graph().in_place.items():
        node = next(
            g
            for g in svg.iter(f"{SVG}g")
            if g.get("class") == "node" and g.get("data-state") == state
        )
        assert {s.key for s in specs} <= set(node.get("data-actions").split())


def test_the_readme_picture_is_the_current_one():
    assert DOCS_SVG.read_text(encoding="utf-8") == state_machine_svg(), (
        "docs/state-machine.svg is stale: run python -m dashboard.web.write_state_machine"
    )


@pytest.mark.django_db
def test_the_page_shows_the_picture_and_the_preconditions_of_every_action_a_member_has(
    alice_client,
):
    html = alice_client.get("/states/").content.decode()
    assert "<svg" in html
    for spec in ACTIONS:
        assert (f'data-highlight="{spec.key}"' in html) is not (spec.role != Role.MEMBER), spec.key


@pytest.mark.django_db
def test_admins_also_see_the_admin_only_actions(admin_client):
    html = admin_client.get("/states/").content.decode()
    assert 'data-highlight="os-resetState"' in html
