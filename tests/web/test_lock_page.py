"""The lock as Nova decides it, from the instance page (the service's rules, not the page's)."""

from __future__ import annotations

from html import escape

import pytest

from compute.exceptions import Forbidden
from compute.services import instance_action
from tests.conftest import fresh

pytestmark = pytest.mark.django_db

OVERRIDE = (
    "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed."
)


def lock_of(instance) -> tuple[bool, str | None]:
    instance.refresh_from_db()
    return instance.locked, instance.locked_by


def test_the_page_keeps_an_admins_lock_from_its_owner(make_instance, admin_ctx, alice_client):
    instance = make_instance("active")
    instance_action(context=fresh(admin_ctx), instance_uuid=str(instance.uuid), action="lock")
    page = f"/instances/{instance.uuid}/action/"
    alice_client.post(page, {"action": "lock"})
    assert lock_of(instance) == (True, "admin")
    answer = alice_client.post(page, {"action": "unlock"}, follow=True)
    assert escape(OVERRIDE) in answer.content.decode()
    assert lock_of(instance) == (True, "admin")


def test_an_admins_page_locks_another_projects_instance_as_admin(
    make_instance, alice_ctx, admin_client
):
    instance = make_instance("active")
    admin_client.post(f"/instances/{instance.uuid}/action/", {"action": "lock"})
    assert lock_of(instance) == (True, "admin")
    with pytest.raises(Forbidden):
        instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="unlock")


def test_a_members_page_lock_is_the_owners_and_the_member_lifts_it(make_instance, alice_client):
    instance = make_instance("active")
    page = f"/instances/{instance.uuid}/action/"
    alice_client.post(page, {"action": "lock"})
    assert lock_of(instance) == (True, "owner")
    alice_client.post(page, {"action": "unlock"})
    assert lock_of(instance) == (False, None)
