"""A button is enabled exactly when the service accepts the action: for every action of the
table, every reachable vm_state, owner, project manager and admin, with the lock taken by either party and a
resize whose source host is down. The buttons come from the page's own code
(``dashboard.web.actionbar``); acceptance from ``instance_action`` itself, rolled back.

Only a precondition refusal (a 409, a policy 403) counts as refused: a parameter the service
rejects (a 400, "No valid host") is the form's business, not the button's.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from compute.exceptions import ComputeError, ComputeServiceInUse, Conflict, Forbidden
from compute.models import Host, Instance
from compute.services import instance_action
from dashboard.web.actionbar import action_groups
from dashboard.web.forms import Catalog
from dashboard.web.rows import instance_rows
from tests.conftest import CIRROS, fresh

pytestmark = pytest.mark.django_db

PARAMS = {
    "resize": {"flavorRef": "3"},
    "rebuild": {"imageRef": CIRROS},
    "createImage": {"name": "snap"},
    "createBackup": {"name": "b", "backup_type": "daily", "rotation": 1},
    "changePassword": {"adminPass": "s3cret"},
    "os-resetState": {"state": "error"},
}
STATES = ["active", "stopped", "paused", "suspended", "rescued", "resized", "shelved_offloaded"]


class _RolledBack(Exception):
    pass


def accepted(context, instance, key) -> tuple[bool, str]:
    """Whether the service accepts ``key`` now (its precondition refusal, if not)."""
    try:
        with transaction.atomic():
            instance_action(
                context=fresh(context),
                instance_uuid=str(instance.uuid),
                action=key,
                params=dict(PARAMS.get(key, {})),
            )
            raise _RolledBack
    except _RolledBack:
        return True, ""
    except (Conflict, Forbidden, ComputeServiceInUse) as refusal:
        # Evacuate's "host still in use" is a precondition refusal Nova answers with a 400.
        return False, refusal.message
    except ComputeError as invalid:  # a parameter's problem: the precondition passed
        return True, invalid.message


def disagreements(instance, context) -> list[tuple[str, bool, bool, str]]:
    instance = Instance.objects.select_related("host").get(pk=instance.pk)
    (row,) = instance_rows([instance], context)
    found = []
    for group in action_groups(row, context, Catalog.load(context)):
        for button in group.buttons:
            ok, why = accepted(context, instance, button.key)
            if button.enabled != ok:
                found.append((button.key, button.enabled, ok, why or str(button.refusal)))
    return found


@pytest.mark.parametrize("role", ["owner", "manager", "admin"])
@pytest.mark.parametrize("vm_state", STATES)
def test_every_button_is_enabled_exactly_when_the_service_accepts_it(
    make_instance, alice_ctx, manager_ctx, admin_ctx, role, vm_state
):
    instance = make_instance(vm_state)
    context = {"owner": alice_ctx, "manager": manager_ctx, "admin": admin_ctx}[role]
    assert disagreements(instance, context) == []


@pytest.mark.parametrize(("role", "shown"), [("owner", False), ("manager", True), ("admin", True)])
def test_the_migrate_buttons_are_offered_to_project_managers_and_admins(
    make_instance, alice_ctx, manager_ctx, admin_ctx, role, shown
):
    instance = Instance.objects.select_related("host").get(pk=make_instance("active").pk)
    context = {"owner": alice_ctx, "manager": manager_ctx, "admin": admin_ctx}[role]
    (row,) = instance_rows([instance], context)
    keys = {b.key for g in action_groups(row, context, Catalog.load(context)) for b in g.buttons}
    assert ({"migrate", "os-migrateLive"} <= keys) is shown
    assert ("os-resetState" in keys) is (role == "admin")


@pytest.mark.parametrize("party", ["owner", "admin"])
@pytest.mark.parametrize("role", ["owner", "admin"])
def test_buttons_agree_with_the_service_on_a_locked_instance(
    make_instance, alice_ctx, admin_ctx, party, role
):
    instance = make_instance("active")
    locker = alice_ctx if party == "owner" else admin_ctx
    instance_action(context=fresh(locker), instance_uuid=str(instance.uuid), action="lock")
    context = alice_ctx if role == "owner" else admin_ctx
    assert disagreements(instance, context) == []


def test_unlock_is_disabled_for_an_owner_when_an_admin_holds_the_lock(
    make_instance, alice_ctx, admin_ctx
):
    instance = make_instance("active")
    instance_action(context=fresh(admin_ctx), instance_uuid=str(instance.uuid), action="lock")
    instance = Instance.objects.select_related("host").get(pk=instance.pk)
    (row,) = instance_rows([instance], alice_ctx)
    buttons = {
        b.key: b for g in action_groups(row, alice_ctx, Catalog.load(alice_ctx)) for b in g.buttons
    }
    assert not buttons["unlock"].enabled
    assert buttons["unlock"].refusal == (
        "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed."
    )


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_confirm_resize_is_disabled_while_the_source_host_is_down(
    make_instance, agent_factory, alice_ctx, admin_ctx, role
):
    agent_factory("node2")  # somewhere to resize to
    instance = make_instance("resized")
    source = instance.system_metadata["old_host"]
    Host.objects.filter(host=source).update(forced_down=True)
    context = alice_ctx if role == "owner" else admin_ctx
    assert disagreements(instance, context) == []
    instance = Instance.objects.select_related("host").get(pk=instance.pk)
    (row,) = instance_rows([instance], context)
    buttons = {
        b.key: b for g in action_groups(row, context, Catalog.load(context)) for b in g.buttons
    }
    assert buttons["confirmResize"].refusal == "Service is unavailable at this time."
    assert buttons["revertResize"].enabled
