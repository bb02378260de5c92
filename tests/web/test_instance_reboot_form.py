"""Reboot on the instance page: one small form with a choice per action-table row (soft, hard),
each enabled exactly when the service would accept it and otherwise disabled with Nova's words,
posted through the same view and service as every other action."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from compute.models import InstanceAction
from compute.preconditions import evaluate
from compute.states import TaskState
from dashboard.web.presentation import badge
from tests.conftest import PATH_TO

pytestmark = pytest.mark.django_db

KEYS = ("reboot", "reboot_hard")


def get(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def radio(html: str, key: str) -> str:
    found = re.findall(
        rf'<input type="radio" name="action"[^>]*data-action-key="{key}"[^>]*>', html
    )
    assert len(found) == 1, f"{key}: {len(found)} radios"
    return found[0]


def attr(tag: str, name: str) -> str | None:
    found = re.search(rf'\s{name}(?:="([^"]*)")?[\s>]', tag)
    if found is None:
        return None
    return htmllib.unescape(found.group(1) or "")


def why(html: str, key: str) -> str | None:
    found = re.search(rf'<span id="why-{key}"[^>]*>([^<]*)</span>', html)
    return htmllib.unescape(found.group(1)) if found else None


def submit(html: str) -> str:
    found = re.search(r'<button type="submit"[^>]*data-choice-submit="reboot"[^>]*>', html)
    assert found
    return found.group(0)


@pytest.mark.parametrize("vm_state", [s for s in PATH_TO if s != "deleted"])
def test_each_reboot_type_is_offered_exactly_when_the_service_would_accept_it(
    alice_client, make_instance, alice_ctx, vm_state
):
    instance = make_instance(vm_state)
    html = get(alice_client, f"/instances/{instance.uuid}/")
    answers = evaluate(instance, alice_ctx)
    assert html.count('data-choice="reboot"') == 1, "one form for both types"
    assert not re.search(r'<button[^>]*data-action-key="reboot(_hard)?"', html), "no buttons"
    for key in KEYS:
        tag, refusal = radio(html, key), answers[key]
        if refusal is None:
            assert attr(tag, "disabled") is None, key
            assert why(html, key) is None, key
        else:
            assert attr(tag, "disabled") == "", key
            assert attr(tag, "title") == refusal, key
            assert attr(tag, "aria-describedby") == f"why-{key}", key
            assert why(html, key) == refusal, key
    refusals = [answers[k] for k in KEYS if answers[k] is not None]
    button = submit(html)
    if len(refusals) == len(KEYS):
        assert attr(button, "disabled") == ""
        assert attr(button, "title") == "; ".join(dict.fromkeys(refusals))
    else:
        assert attr(button, "disabled") is None
        first_open = next(k for k in KEYS if answers[k] is None)
        assert attr(radio(html, first_open), "checked") == "", "the first open type is chosen"


def test_the_live_scripts_fragment_carries_the_form_for_the_new_state(
    alice_client, make_instance, alice_ctx, agent
):
    from compute.services import instance_action
    from tests.conftest import fresh

    instance = make_instance("active")
    url = f"/instances/{instance.uuid}/fragments/actions/"
    assert attr(radio(get(alice_client, url), "reboot"), "disabled") is None
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="stop")
    agent.run_pending()
    html = get(alice_client, url)
    assert why(html, "reboot") == (
        f"Cannot 'reboot' instance {instance.uuid} while it is in vm_state stopped"
    )
    assert attr(radio(html, "reboot_hard"), "disabled") is None


def test_a_soft_reboot_posted_from_the_form_goes_through_the_service(alice_client, make_instance):
    instance = make_instance("active")
    response = alice_client.post(f"/instances/{instance.uuid}/action/", {"action": "reboot"})
    assert response.status_code == 302
    instance.refresh_from_db()
    assert instance.task_state == TaskState.REBOOTING
    assert InstanceAction.objects.get(instance=instance, action="reboot").client == "dashboard"


def test_a_hard_reboot_from_the_form_is_confirmed_first(alice_client, make_instance):
    instance = make_instance("active")
    url = f"/instances/{instance.uuid}/action/"
    response = alice_client.post(url, {"action": "reboot_hard"})
    assert response.status_code == 200
    assert 'name="action" value="reboot_hard"' in response.content.decode()
    instance.refresh_from_db()
    assert instance.task_state is None
    alice_client.post(url, {"action": "reboot_hard", "confirmed": "yes"})
    instance.refresh_from_db()
    assert instance.task_state == TaskState.REBOOTING_HARD


def test_a_refused_reboot_type_posted_anyway_shows_novas_message(alice_client, make_instance):
    instance = make_instance("stopped")
    response = alice_client.post(
        f"/instances/{instance.uuid}/action/", {"action": "reboot"}, follow=True
    )
    assert (
        f"Cannot &#x27;reboot&#x27; instance {instance.uuid} while it is in vm_state stopped"
        in response.content.decode()
    )
    instance.refresh_from_db()
    assert instance.task_state is None


def test_while_a_soft_reboot_runs_its_type_shows_it_and_hard_stays_open(
    alice_client, make_instance
):
    instance = make_instance("active")
    alice_client.post(f"/instances/{instance.uuid}/action/", {"action": "reboot"})
    html = get(alice_client, f"/instances/{instance.uuid}/")
    label = badge("task_state", TaskState.REBOOTING).label
    assert attr(radio(html, "reboot"), "title") == f"In progress: {label}"
    # Nova lets a hard reboot take over a soft one that hangs (task_states.ALLOW_REBOOT).
    hard = radio(html, "reboot_hard")
    assert attr(hard, "disabled") is None and attr(hard, "checked") == ""
    assert re.search(r'<summary class="btn is-pending"[^>]*>.*' + re.escape(label), html)
