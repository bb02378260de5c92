"""The ``manager`` role: Nova's ``PROJECT_MANAGER_OR_ADMIN`` rules (cold and live migration
without a host) pass for a manager of the instance's project, and nothing more."""

from __future__ import annotations

import pytest

from compute import policy, preconditions
from compute.models import Instance, Role
from compute.services import user_ensure
from dashboard.context import context_for
from tests.api.conftest import at
from tests.conftest import CIRROS

pytestmark = pytest.mark.django_db

MIGRATE = {"migrate": None}
LIVE = {"os-migrateLive": {"host": None, "block_migration": "auto"}}


@pytest.fixture
def carol():
    """A manager of alice's project ``demo``, and a plain member of ``research``."""
    user = user_ensure(
        username="carol", password="carol-pass", project="demo", role=Role.MANAGER
    ).user
    user_ensure(username="carol", password="carol-pass", project="research")
    return user


@pytest.fixture
def two_hosts(agent, agent_factory):
    return [agent, agent_factory("node2")]


def test_a_manager_migrates_an_instance_of_the_project_it_manages(
    carol, client_for, make_instance, two_hosts
):
    agents = two_hosts
    instance = make_instance("active")
    manager = client_for(carol, "demo")
    answer = manager.post(f"/v2.1/servers/{instance.uuid}/action", MIGRATE, format="json")
    assert answer.status_code == 202, answer.content
    for runner in agents:
        runner.run_pending()
    instance.refresh_from_db()
    assert (instance.vm_state, instance.task_state, instance.host.host) == (
        "resized",
        None,
        "node2",
    )


def test_a_manager_live_migrates_without_naming_a_host(carol, client_for, make_instance, two_hosts):
    instance = make_instance("active")
    manager = client_for(carol, "demo")
    answer = manager.post(
        f"/v2.1/servers/{instance.uuid}/action", LIVE, format="json", **at("2.25")
    )
    assert answer.status_code == 202, answer.content


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"migrate": {"host": "node2"}}, "os_compute_api:os-migrate-server:migrate:host"),
        (
            {"os-migrateLive": {"host": "node2", "block_migration": "auto"}},
            "os_compute_api:os-migrate-server:migrate_live:host",
        ),
    ],
)
def test_naming_the_host_stays_the_admins(carol, client_for, make_instance, two_hosts, body, rule):
    instance = make_instance("active")
    manager = client_for(carol, "demo")
    answer = manager.post(
        f"/v2.1/servers/{instance.uuid}/action", body, format="json", **at("2.56")
    )
    assert answer.status_code == 403
    assert answer.json()["forbidden"]["message"] == f"Policy doesn't allow {rule} to be performed."


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (MIGRATE, "os_compute_api:os-migrate-server:migrate"),
        (LIVE, "os_compute_api:os-migrate-server:migrate_live"),
    ],
)
def test_a_member_is_refused_with_novas_policy_text(
    alice_api, make_instance, two_hosts, body, rule
):
    instance = make_instance("active")
    answer = alice_api.post(
        f"/v2.1/servers/{instance.uuid}/action", body, format="json", **at("2.25")
    )
    assert answer.status_code == 403
    assert answer.json()["forbidden"]["message"] == f"Policy doesn't allow {rule} to be performed."
    assert Instance.objects.get(pk=instance.pk).task_state is None


def test_managing_one_project_gives_nothing_in_another(carol, bob, make_instance, client_for):
    """carol manages demo and is a member of research: research's instances refuse her the
    manager's actions, and the page's answer (the evaluator's memo) tells the two apart."""
    research = user_ensure(username="dave", password="dave-pass", project="research").user
    theirs = make_instance("active", context=context_for(research, client="test"))
    ours = make_instance("active", name="ours")
    page = context_for(carol)  # every project of carol's, as a page sees them
    assert "migrate" in preconditions.evaluate(ours, page, host_up=True)
    assert "migrate" not in preconditions.evaluate(theirs, page, host_up=True)
    evaluator = preconditions.Evaluator(page)
    assert "migrate" in evaluator.sorted(ours, host_up=True)[0]
    assert "migrate" not in {*evaluator.sorted(theirs, host_up=True)[0]}
    assert "migrate" not in evaluator.sorted(theirs, host_up=True)[1]
    # A token for research is a member's token.
    member = client_for(carol, "research")
    answer = member.post(f"/v2.1/servers/{theirs.uuid}/action", MIGRATE, format="json")
    assert answer.status_code == 403


def test_the_manager_rules_are_novas_defaults():
    managers = {rule for rule, role in policy.RULES.items() if role == Role.MANAGER}
    assert managers == {
        "os_compute_api:os-migrate-server:migrate",
        "os_compute_api:os-migrate-server:migrate_live",
        "os_compute_api:os-migrations:index",
        "os_compute_api:servers:migrations:index",
        "os_compute_api:servers:migrations:force_complete",
        "os_compute_api:servers:migrations:delete",
    }
    assert Role.ADMIN.implies(Role.MANAGER) and Role.MANAGER.implies(Role.MEMBER)
    assert not Role.MEMBER.implies(Role.MANAGER)


def test_a_manager_token_carries_keystones_implied_roles(carol, client):
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "carol", "domain": {"id": "default"}, "password": "carol-pass"}
                },
            },
            "scope": {"project": {"name": "demo", "domain": {"id": "default"}}},
        }
    }
    answer = client.post("/identity/v3/auth/tokens", body, content_type="application/json")
    assert answer.status_code == 201, answer.content
    roles = {r["name"] for r in answer.json()["token"]["roles"]}
    assert roles == {"manager", "member", "reader"}


def test_an_admin_grants_the_manager_role_through_keystones_api(admin_api, alice):
    roles = admin_api.get("/identity/v3/roles").json()["roles"]
    manager = next(r for r in roles if r["name"] == "manager")
    project = admin_api.get("/identity/v3/projects?name=demo").json()["projects"][0]
    answer = admin_api.put(
        f"/identity/v3/projects/{project['id']}/users/{alice.pk}/roles/{manager['id']}"
    )
    assert answer.status_code == 204
    assert alice.memberships.get(project_id=project["id"]).role == Role.MANAGER
    check = admin_api.get(
        f"/identity/v3/projects/{project['id']}/users/{alice.pk}/roles/{manager['id']}"
    )
    assert check.status_code == 204


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_a_public_images_properties_refuse_members_with_glances_text(alice_api, catalog, method):
    """Nova has no rule of its own here: it passes on Glance's ``ImageNotAuthorized``."""
    path = f"/v2.1/images/{CIRROS}/metadata" + ("/os_distro" if method == "delete" else "")
    body = None if method == "delete" else {"metadata": {"a": "b"}}
    answer = getattr(alice_api, method)(path, body, format="json", **at("2.35"))
    assert answer.status_code == 403, answer.content
    assert answer.json()["forbidden"]["message"] == f"Not authorized for image {CIRROS}."
