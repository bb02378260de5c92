"""One policy registry: every rule the product checks has Nova's name and default, and the
guard, the services, the API and the pages refuse — or show a fault's details — by it."""

from __future__ import annotations

from html import escape

import pytest

from compute import policy, records
from compute.actions import BY_KEY
from compute.context import RequestContext
from compute.exceptions import Forbidden
from compute.services import instance_action
from tests.conftest import fresh

MEMBER = RequestContext(user_id=2, user_name="alice", project_id="p", project_ids=frozenset({"p"}))
ADMIN = RequestContext(user_id=1, user_name="admin", project_id="a", is_admin=True)


@pytest.mark.parametrize("spec", sorted(BY_KEY.values(), key=lambda s: s.key), ids=lambda s: s.key)
def test_every_action_names_a_rule_with_novas_default(spec):
    assert spec.policy.startswith(("os_compute_api:", "compute:"))
    assert policy.RULES[spec.policy] == (spec.role)
    if spec.foreign_lock_policy:
        assert policy.RULES[spec.foreign_lock_policy] == policy.ADMIN


def test_authorize_refuses_with_novas_policy_not_authorized_text():
    rule = "os_compute_api:os-services:update"
    with pytest.raises(Forbidden) as refused:
        policy.authorize(MEMBER, rule)
    assert refused.value.message == f"Policy doesn't allow {rule} to be performed."
    policy.authorize(ADMIN, rule)
    policy.authorize(MEMBER, "os_compute_api:servers:stop")


def test_a_rule_nobody_registered_is_a_programming_error_not_a_pass():
    with pytest.raises(KeyError):
        policy.allowed(MEMBER, "os_compute_api:made-up")


@pytest.mark.parametrize(("code", "member_sees"), [(500, False), (409, True)])
def test_fault_details_are_hidden_from_members_only_for_internal_errors(code, member_sees):
    assert policy.fault_details_visible(MEMBER, code) is member_sees
    assert policy.fault_details_visible(ADMIN, code) is True


@pytest.mark.django_db
@pytest.mark.parametrize(("code", "member_sees"), [(500, False), (400, True)])
def test_the_page_and_the_api_show_a_faults_details_alike(
    make_instance, alice_ctx, admin_ctx, client, alice, code, member_sees
):
    from rest_framework.test import APIClient

    from compute.models import Project
    from dashboard.api.identity import tokens

    instance = make_instance("active")
    instance_action(
        context=fresh(admin_ctx),
        instance_uuid=str(instance.uuid),
        action="os-resetState",
        params={"state": "error"},
    )
    records.fault_record(instance, message="It broke.", code=code, details="the long story")
    client.force_login(alice)
    page = client.get(f"/instances/{instance.uuid}/").content.decode()
    api = APIClient()
    issued = tokens.token_issue(
        user=alice, project=Project.objects.get(name="demo"), methods=["password"]
    )
    api.credentials(HTTP_X_AUTH_TOKEN=issued.token)
    fault = api.get(f"/v2.1/servers/{instance.uuid}").json()["server"]["fault"]
    assert ("the long story" in page) is member_sees
    assert ("details" in fault) is member_sees
    assert escape("It broke.") in page
