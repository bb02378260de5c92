"""Lock and unlock as Nova's ``API.lock`` / ``is_expected_locked_by`` decide them: by whether
the caller belongs to the instance's project, not by the admin role.

Each path through the service here; through the API in tests/api/test_nova_fidelity.py and the
page in tests/web/test_lock_page.py, so no edge can decide it differently.
"""

from __future__ import annotations

import pytest

from compute.exceptions import Forbidden
from compute.models import InstanceAction, Role
from compute.services import instance_action, user_ensure
from tests.conftest import context_of, fresh

pytestmark = pytest.mark.django_db

OVERRIDE = (
    "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed."
)


@pytest.fixture
def demo_admin_ctx(alice):
    """An admin who is also a member of alice's project: an owner, for Nova."""
    user = user_ensure(username="dora", password="dora-pass", project="demo", role=Role.ADMIN).user
    return context_of(user, "demo", is_admin=True)


def lock_of(instance) -> tuple[bool, str | None, str | None]:
    instance.refresh_from_db()
    return instance.locked, instance.locked_by, instance.locked_reason


def do(context, instance, action: str, **params):
    return instance_action(
        context=fresh(context), instance_uuid=str(instance.uuid), action=action, params=params
    )


def test_an_owner_cannot_take_over_an_admins_lock_by_locking_again(
    make_instance, alice_ctx, admin_ctx
):
    instance = make_instance("active")
    do(admin_ctx, instance, "lock", locked_reason="audit")
    assert do(alice_ctx, instance, "lock") is None  # nothing changes, nothing is recorded
    assert lock_of(instance) == (True, "admin", "audit")
    assert not InstanceAction.objects.filter(instance=instance, action="lock").exclude(
        user_id=admin_ctx.user_id
    )
    with pytest.raises(Forbidden) as refused:
        do(alice_ctx, instance, "unlock")
    assert refused.value.message == OVERRIDE
    assert lock_of(instance) == (True, "admin", "audit")


def test_an_owner_locking_a_locked_instance_changes_nothing(make_instance, alice_ctx):
    instance = make_instance("active")
    do(alice_ctx, instance, "lock", locked_reason="first")
    before = InstanceAction.objects.filter(instance=instance).count()
    assert do(alice_ctx, instance, "lock", locked_reason="second") is None
    assert lock_of(instance) == (True, "owner", "first")
    assert InstanceAction.objects.filter(instance=instance).count() == before


def test_an_admin_from_another_project_takes_an_owners_lock_over(
    make_instance, alice_ctx, admin_ctx
):
    instance = make_instance("active")
    do(alice_ctx, instance, "lock", locked_reason="mine")
    do(admin_ctx, instance, "lock")
    assert lock_of(instance) == (True, "admin", "mine")  # Nova keeps the reason it had


def test_an_admin_of_the_instances_own_project_locks_as_its_owner(
    make_instance, alice_ctx, demo_admin_ctx
):
    instance = make_instance("active")
    do(demo_admin_ctx, instance, "lock")
    assert lock_of(instance) == (True, "owner", None)
    do(alice_ctx, instance, "unlock")  # the owner's own lock: no override needed
    assert lock_of(instance) == (False, None, None)


def test_an_admin_unlocks_an_owners_lock_with_the_override_nova_gives_admins(
    make_instance, alice_ctx, admin_ctx
):
    instance = make_instance("active")
    do(alice_ctx, instance, "lock")
    do(admin_ctx, instance, "unlock")
    assert lock_of(instance) == (False, None, None)
