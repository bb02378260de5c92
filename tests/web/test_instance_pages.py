"""The instance pages, through Django's test client: who sees what, what the buttons say, and
that an action posted from a page goes through the same service as the API."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compute.actions import ACTIONS
from compute.models import Instance, InstanceAction
from compute.preconditions import evaluate
from compute.states import TaskState, VmState
from dashboard.web.presentation import badge
from tests.conftest import CIRROS

pytestmark = pytest.mark.django_db


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_pages_send_a_signed_out_visitor_to_the_login_page(client):
    response = client.get("/instances/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_logging_in_with_the_right_password_opens_the_instances_page(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "alice-pass"})
    assert response.status_code == 302
    assert response["Location"] == "/instances/"
    assert "Instances" in page(client, "/instances/")


def test_logging_out_takes_a_post_and_ends_the_session(alice_client):
    assert alice_client.post("/logout/").status_code == 302
    assert alice_client.get("/instances/").status_code == 302


def test_the_list_shows_a_members_instances_with_three_badges_and_no_host(
    alice_client, make_instance
):
    instance = make_instance("stopped", name="web-1")
    html = page(alice_client, "/instances/")
    assert "web-1" in html
    assert f'data-instance="{instance.uuid}"' in html
    for kind, value in (("vm_state", "stopped"), ("task_state", None), ("power_state", 4)):
        assert f'data-bind="{kind}" title="{badge(kind, value).title}"' in html
    assert "node1" not in html, "the host is an admin-only attribute"


def test_the_list_never_shows_another_projects_instance(bob_client, make_instance):
    make_instance("active", name="alices-secret")
    assert "alices-secret" not in page(bob_client, "/instances/")


def test_another_projects_instance_page_is_not_found(bob_client, make_instance):
    instance = make_instance("active")
    assert bob_client.get(f"/instances/{instance.uuid}/").status_code == 404


def test_an_admin_sees_every_project_with_host_and_host_status(admin_client, make_instance):
    make_instance("active", name="web-1")
    html = page(admin_client, "/instances/")
    assert "web-1" in html and "node1" in html
    assert 'data-host-status-of="node1"' in html
    assert badge("host_status", "UP").title in html


def test_the_list_filters_by_status_and_name(alice_client, make_instance):
    make_instance("active", name="web-1")
    make_instance("stopped", name="db-1")
    assert "db-1" not in page(alice_client, "/instances/?status=ACTIVE")
    assert "web-1" not in page(alice_client, "/instances/?name=db")


def test_the_list_pages_with_a_marker(alice_client, make_instance):
    for n in range(3):
        make_instance("active", name=f"vm-{n}")
    first = page(alice_client, "/instances/?limit=20&sort=name&dir=asc")
    assert first.index("vm-0") < first.index("vm-1") < first.index("vm-2")
    marker = Instance.objects.get(name="vm-0").uuid
    second = page(alice_client, f"/instances/?sort=name&dir=asc&marker={marker}")
    assert "vm-0" not in second and "vm-1" in second


def test_sorting_a_members_list_by_host_is_refused_with_novas_message(alice_client, make_instance):
    make_instance("active", name="web-1")
    html = page(alice_client, "/instances/?sort=host")
    assert "Invalid sort key: host" in html
    assert "web-1" not in html


def test_the_list_costs_the_same_queries_for_one_row_or_many(admin_client, make_instance):
    make_instance("active", name="one")
    with CaptureQueriesContext(connection) as one:
        page(admin_client, "/instances/")
    for n in range(4):
        make_instance("stopped", name=f"more-{n}")
    with CaptureQueriesContext(connection) as many:
        page(admin_client, "/instances/")
    assert len(many) == len(one)


def test_a_row_whose_hypervisor_disagrees_says_what_the_sync_will_do(alice_client, make_instance):
    from compute import state_machine

    instance = make_instance("active")
    state_machine.set_power_states(host_id=instance.host_id, changes={instance.pk: 4})
    html = page(alice_client, "/instances/")
    assert "Hypervisor reports shutdown" in html
    assert "will stop the instance" in html


def test_every_action_button_is_enabled_exactly_when_the_service_would_accept_it(
    alice_client, make_instance, alice_ctx
):
    instance = make_instance("stopped")
    html = page(alice_client, f"/instances/{instance.uuid}/")
    answers = evaluate(instance, alice_ctx)
    for spec in ACTIONS:
        if spec.key not in answers:
            assert f'data-action-key="{spec.key}"' not in html
            continue
        refusal = answers[spec.key]
        # A button, or the radio of a choice in a small form (soft / hard reboot).
        button = re.search(
            rf'<(?:button|input)[^>]*data-action-key="{re.escape(spec.key)}"[^>]*>', html
        )
        summary = f'data-action-key="{spec.key}"' in html
        assert button or summary, spec.key
        if refusal is None:
            assert button is None or "disabled" not in button.group(0), spec.key
        else:
            assert button is not None and "disabled" in button.group(0), spec.key
            escaped = refusal.replace("'", "&#x27;")
            assert f'title="{escaped}"' in button.group(0), spec.key


def test_an_action_posted_from_the_page_goes_through_the_service_and_is_logged(
    alice_client, make_instance
):
    instance = make_instance("active")
    response = alice_client.post(f"/instances/{instance.uuid}/action/", {"action": "pause"})
    assert response.status_code == 302
    instance.refresh_from_db()
    assert instance.task_state == TaskState.PAUSING
    record = InstanceAction.objects.get(instance=instance, action="pause")
    assert record.client == "dashboard"


def test_a_refused_action_shows_novas_message(alice_client, make_instance):
    instance = make_instance("stopped")
    response = alice_client.post(
        f"/instances/{instance.uuid}/action/", {"action": "pause"}, follow=True
    )
    assert (
        f"Cannot &#x27;pause&#x27; instance {instance.uuid} while it is in vm_state stopped"
        in response.content.decode()
    )


def test_a_destructive_action_asks_for_confirmation_before_anything_changes(
    alice_client, make_instance
):
    instance = make_instance("active")
    response = alice_client.post(f"/instances/{instance.uuid}/action/", {"action": "stop"})
    assert response.status_code == 200
    assert 'name="confirmed" value="yes"' in response.content.decode()
    instance.refresh_from_db()
    assert instance.task_state is None
    alice_client.post(f"/instances/{instance.uuid}/action/", {"action": "stop", "confirmed": "yes"})
    instance.refresh_from_db()
    assert instance.task_state == TaskState.POWERING_OFF


def test_an_action_with_parameters_takes_them_from_its_small_form(alice_client, make_instance):
    instance = make_instance("active")
    alice_client.post(
        f"/instances/{instance.uuid}/action/", {"action": "resize", "p-flavorRef": "2"}
    )
    instance.refresh_from_db()
    assert instance.task_state == TaskState.RESIZE_PREP
    assert instance.system_metadata["new_flavor_id"]


def test_the_button_that_started_a_task_shows_it_pending_after_a_reload(
    alice_client, make_instance
):
    instance = make_instance("active")
    alice_client.post(f"/instances/{instance.uuid}/action/", {"action": "suspend"})
    html = page(alice_client, f"/instances/{instance.uuid}/")
    pending = re.search(r'<button[^>]*class="btn is-pending"[^>]*data-action-key="([^"]+)"', html)
    assert pending and pending.group(1) == "suspend"


def test_the_page_of_an_error_instance_shows_its_fault(alice_client, agent, alice_ctx):
    from compute.drivers.fake import FakeDriver
    from compute.services import instance_create

    FakeDriver.fail_next(host="node1", operation="spawn", message="No more disks, sorry.")
    instance = instance_create(context=alice_ctx, name="doomed", flavor_ref="1", image_ref=CIRROS)
    agent.run_pending()
    instance.refresh_from_db()
    assert instance.vm_state == VmState.ERROR
    html = page(alice_client, f"/instances/{instance.uuid}/")
    assert "Fault" in html and "No more disks, sorry." in html


def test_the_action_log_shows_each_action_with_its_events(alice_client, make_instance):
    instance = make_instance("stopped")
    html = page(alice_client, f"/instances/{instance.uuid}/fragments/log/")
    assert "compute_stop_instance" in html and "compute_build_and_run_instance" in html


def test_bulk_actions_report_a_result_for_every_row(alice_client, make_instance):
    running = make_instance("active", name="running")
    stopped = make_instance("stopped", name="stopped")
    response = alice_client.post(
        "/instances/bulk/",
        {"action": "pause", "instance": [str(running.uuid), str(stopped.uuid)]},
        follow=True,
    )
    html = response.content.decode()
    assert "Pause accepted." in html
    assert (
        f"Cannot &#x27;pause&#x27; instance {stopped.uuid} while it is in vm_state stopped" in html
    )


def test_a_destructive_bulk_action_is_confirmed_first(alice_client, make_instance):
    instance = make_instance("active")
    response = alice_client.post(
        "/instances/bulk/", {"action": "delete", "instance": [str(instance.uuid)]}
    )
    assert response.status_code == 200 and 'value="yes"' in response.content.decode()
    instance.refresh_from_db()
    assert instance.task_state is None


def test_creating_an_instance_accepts_it_in_building(alice_client, agent):
    response = alice_client.post(
        "/instances/new/",
        {"name": "fresh", "project": _project("demo"), "flavor": "1", "image": CIRROS},
    )
    assert response.status_code == 302
    instance = Instance.objects.get(name="fresh")
    assert instance.vm_state == VmState.BUILDING


def test_a_member_cannot_pick_a_host_for_a_new_instance(alice_client, agent):
    html = page(alice_client, "/instances/new/")
    assert 'name="host"' not in html


def test_the_project_switcher_narrows_the_list_to_one_project(client, agent):
    from compute.services import instance_create, user_ensure
    from dashboard.context import context_for

    both = user_ensure(username="carol", password="carol-pass", project="demo").user
    user_ensure(username="carol", password=None, project="other")
    for project in ("demo", "other"):
        context = context_for(both, project_id=_project(project))
        instance_create(context=context, name=f"in-{project}", flavor_ref="1", image_ref=CIRROS)
    client.force_login(both)
    html = page(client, "/instances/")
    assert "in-demo" in html and "in-other" in html
    client.post("/projects/switch/", {"project": _project("other")})
    html = page(client, "/instances/")
    assert "in-other" in html and "in-demo" not in html


def _project(name: str) -> str:
    from compute.models import Project

    return Project.objects.get(name=name).pk
