"""``POST /servers/{id}/action``: Nova's bodies, answers and refusals, from the action table."""

from __future__ import annotations

import pytest
from django.db import transaction

from compute import actions
from compute.models import Image, Instance, InstanceAction
from compute.models.tenancy import Role
from compute.services import instance_action
from tests.api.conftest import EXTRAS, at
from tests.conftest import CIRROS, fresh

pytestmark = pytest.mark.django_db

#: One Nova body per action-table key (``delete`` is ``DELETE /servers/{id}``).
BODIES: dict[str, dict] = {
    "start": {"os-start": None},
    "stop": {"os-stop": None},
    "reboot": {"reboot": {"type": "SOFT"}},
    "reboot_hard": {"reboot": {"type": "HARD"}},
    "pause": {"pause": None},
    "unpause": {"unpause": None},
    "suspend": {"suspend": None},
    "resume": {"resume": None},
    "rescue": {"rescue": None},
    "unrescue": {"unrescue": None},
    "resize": {"resize": {"flavorRef": "3"}},
    "migrate": {"migrate": None},
    "confirmResize": {"confirmResize": None},
    "revertResize": {"revertResize": None},
    "os-migrateLive": {"os-migrateLive": {"host": None, "block_migration": "auto"}},
    "rebuild": {"rebuild": {"imageRef": CIRROS}},
    "createImage": {"createImage": {"name": "snap"}},
    "createBackup": {"createBackup": {"name": "b", "backup_type": "daily", "rotation": 1}},
    "changePassword": {"changePassword": {"adminPass": "s3cret"}},
    "shelve": {"shelve": None},
    "shelveOffload": {"shelveOffload": None},
    "unshelve": {"unshelve": None},
    "forceDelete": {"forceDelete": None},
    "restore": {"restore": None},
    "lock": {"lock": None},
    "unlock": {"unlock": None},
    "trigger_crash_dump": {"trigger_crash_dump": None},
    "os-resetState": {"os-resetState": {"state": "error"}},
    "evacuate": {"evacuate": {}},
}
STATES = ["active", "stopped", "paused", "suspended", "rescued", "resized", "shelved_offloaded"]


def act(client, instance, key, **headers):
    if key == "delete":
        return client.delete(f"/v2.1/servers/{instance.uuid}", **headers)
    return client.post(
        f"/v2.1/servers/{instance.uuid}/action", BODIES[key], format="json", **headers
    )


def test_every_action_of_the_table_has_a_body():
    assert {a.key for a in actions.ACTIONS} == {*BODIES, "delete"}


def check_agreement(client, instance, keys, *, try_allowed: bool = True):
    """Each action's answer agrees with what the server's ``vmdash:actions`` says of it."""
    shown = client.get(f"/v2.1/servers/{instance.uuid}", **EXTRAS).json()["server"][
        "vmdash:actions"
    ]
    version = Instance.objects.get(pk=instance.pk).version
    for key in keys:
        if key in shown["refused"]:
            response = act(client, instance, key)
            # Nova's one refusal that is a 400: evacuate of a server whose host is up.
            code = 400 if key == "evacuate" and "still in use" in shown["refused"][key] else 409
            assert response.status_code == code, (key, response.content)
            assert next(iter(response.json().values()))["message"] == shown["refused"][key]
            assert Instance.objects.get(pk=instance.pk).version == version
        elif key in shown["allowed"]:
            if not try_allowed:
                continue
            with transaction.atomic():  # try the action, then undo it for the next one
                response = act(client, instance, key)
                transaction.set_rollback(True)
            # Accepted, or refused for its parameters (no other host to migrate to): never 409.
            assert response.status_code in (200, 202, 204, 400), (key, response.content)
        else:  # admin-only actions are neither offered to nor allowed for members
            assert actions.get(key).role != Role.MEMBER
            assert act(client, instance, key).status_code == 403, key


def make_in_state(make_instance, admin_ctx, state):
    instance = make_instance(state if state != "error" else "active", name=state)
    if state == "error":
        instance_action(
            context=fresh(admin_ctx),
            instance_uuid=str(instance.uuid),
            action="os-resetState",
            params={"state": "error"},
        )
    return instance


def test_every_refusal_the_allowed_actions_key_shows_is_the_apis_409(
    alice_api, make_instance, admin_ctx
):
    for state in [*STATES, "error"]:
        instance = make_in_state(make_instance, admin_ctx, state)
        check_agreement(alice_api, instance, [a.key for a in actions.ACTIONS], try_allowed=False)


@pytest.mark.parametrize("state", ["active", "stopped", "error"])
def test_every_action_the_allowed_actions_key_allows_is_accepted_by_the_api(
    alice_api, make_instance, admin_ctx, state
):
    instance = make_in_state(make_instance, admin_ctx, state)
    check_agreement(alice_api, instance, [a.key for a in actions.ACTIONS])


def test_admins_are_offered_the_admin_only_actions_and_the_api_agrees(admin_api, make_instance):
    admin_only = [a.key for a in actions.ACTIONS if (a.role != Role.MEMBER)]
    for state in ("active", "paused"):
        instance = make_instance(state, name=state)
        shown = admin_api.get(f"/v2.1/servers/{instance.uuid}", **EXTRAS).json()["server"][
            "vmdash:actions"
        ]
        assert set(admin_only) <= {*shown["allowed"], *shown["refused"]}
        check_agreement(admin_api, instance, admin_only)


#: (starting state, action, task_state right after acceptance, action-log name)
STARTS = [
    ("active", "stop", "powering-off", "stop"),
    ("stopped", "start", "powering-on", "start"),
    ("active", "reboot", "rebooting", "reboot"),
    ("active", "reboot_hard", "rebooting_hard", "reboot"),
    ("active", "pause", "pausing", "pause"),
    ("active", "resize", "resize_prep", "resize"),
    ("active", "shelve", "shelving", "shelve"),
    ("active", "createImage", "image_snapshot_pending", "createImage"),
    ("active", "changePassword", "updating_password", "changePassword"),
    ("stopped", "rescue", "rescuing", "rescue"),
]


def test_a_nova_body_starts_its_action(alice_api, make_instance):
    servers = {state: make_instance(state, name=state) for state in ("active", "stopped")}
    for state, key, task_state, log in STARTS:
        instance = servers[state]
        with transaction.atomic():  # each body on the same server, undone afterwards
            response = act(alice_api, instance, key)
            assert response.status_code in (200, 202), (key, response.content)
            fresh_row = Instance.objects.get(pk=instance.pk)
            assert fresh_row.task_state == task_state, key
            assert InstanceAction.objects.filter(instance=instance).first().action == log
            transaction.set_rollback(True)


def test_a_refused_action_gets_novas_409_and_changes_nothing(alice_api, make_instance):
    instance = make_instance("active")
    response = act(alice_api, instance, "start")
    assert response.status_code == 409
    assert response.json() == {
        "conflictingRequest": {
            "code": 409,
            "message": f"Cannot 'start' instance {instance.uuid} while it is in vm_state active",
        }
    }
    before = instance.version
    instance.refresh_from_db()
    assert instance.version == before
    assert instance.actions.count() == 1  # only the create


def test_a_lost_race_is_a_409_and_the_winner_keeps_the_instance(
    alice_api, make_instance, alice_ctx, monkeypatch
):
    from compute.services import instances

    instance = make_instance("active")
    real_prepare = instances.prepare

    def racing_prepare(spec, **kwargs):
        # Another request wins between this one's precondition check and its UPDATE.
        monkeypatch.setattr(instances, "prepare", real_prepare)
        instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="pause")
        return real_prepare(spec, **kwargs)

    monkeypatch.setattr(instances, "prepare", racing_prepare)
    response = act(alice_api, instance, "stop")
    assert response.status_code == 409
    assert response.json()["conflictingRequest"]["message"].startswith(
        f"Conflict updating instance {instance.uuid}."
    )
    instance.refresh_from_db()
    assert instance.task_state == "pausing"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"trigger_crash_dump": {}}, "Invalid input for field/attribute trigger_crash_dump"),
        ({"reboot": {}}, "'type' is a required property"),
        ({"reboot": {"type": "MEDIUM"}}, "Invalid input for field/attribute type"),
        ({"os-stop": None, "pause": None}, "Malformed request body"),
        ({"hibernate": None}, "There is no such action: hibernate"),
        ({"resize": {"flavorRef": "99"}}, "Invalid flavorRef provided."),
        ({"resize": {"flavorRef": "1"}}, "When resizing, instances must change flavor!"),
        ({"rebuild": {"imageRef": "nope"}}, "Invalid input for field/attribute imageRef"),
        ({"createImage": {}}, "'name' is a required property"),
        ({"os-resetState": {"state": "paused"}}, "Invalid input for field/attribute state"),
    ],
)
def test_a_malformed_body_is_a_400_and_changes_nothing(
    alice_api, admin_api, make_instance, body, message
):
    instance = make_instance("active")
    client = admin_api if "os-resetState" in body else alice_api
    response = client.post(f"/v2.1/servers/{instance.uuid}/action", body, format="json")
    assert response.status_code == 400
    assert message in response.json()["badRequest"]["message"]
    assert Instance.objects.get(pk=instance.pk).version == instance.version


def test_an_action_on_another_projects_server_is_not_found(alice_api, make_instance, bob_ctx):
    theirs = make_instance(context=bob_ctx)
    assert act(alice_api, theirs, "stop").status_code == 404


def test_reset_state_is_for_admins(alice_api, admin_api, make_instance):
    instance = make_instance("active")
    refused = act(alice_api, instance, "os-resetState")
    assert refused.status_code == 403
    assert "os_compute_api:os-admin-actions:reset_state" in refused.json()["forbidden"]["message"]
    assert act(admin_api, instance, "os-resetState").status_code == 202
    assert Instance.objects.get(pk=instance.pk).vm_state == "error"


def test_trigger_crash_dump_arrives_in_217(alice_api, make_instance):
    instance = make_instance("active")
    assert act(alice_api, instance, "trigger_crash_dump", **at("2.16")).status_code == 404
    assert act(alice_api, instance, "trigger_crash_dump", **at("2.17")).status_code == 202


def test_a_lock_reason_arrives_in_273(alice_api, make_instance):
    instance = make_instance("active")
    url = f"/v2.1/servers/{instance.uuid}/action"
    body = {"lock": {"locked_reason": "audit"}}
    # Before 2.73 Nova does not read lock's body: the reason is ignored, not refused.
    assert alice_api.post(url, body, format="json", **at("2.72")).status_code == 202
    server = alice_api.get(f"/v2.1/servers/{instance.uuid}").json()["server"]
    assert (server["locked"], server["locked_reason"]) == (True, None)
    unlock = {"unlock": None}
    assert alice_api.post(url, unlock, format="json").status_code == 202
    assert alice_api.post(url, body, format="json", **at("2.73")).status_code == 202
    server = alice_api.get(f"/v2.1/servers/{instance.uuid}").json()["server"]
    assert (server["locked"], server["locked_reason"]) == (True, "audit")


@pytest.mark.parametrize("key", ["os-stop", "pause", "suspend", "lock", "shelve"])
def test_argument_less_actions_take_an_empty_object_as_nova_does(admin_api, make_instance, key):
    instance = make_instance("active")
    response = admin_api.post(f"/v2.1/servers/{instance.uuid}/action", {key: {}}, format="json")
    assert response.status_code == 202, response.content


def test_migrate_takes_a_host_from_256_and_unshelve_a_zone_from_277(admin_api, make_instance):
    active = make_instance("active")
    body = {"migrate": {"host": "node1"}}
    url = f"/v2.1/servers/{active.uuid}/action"
    # Before 2.56 (migrate) and 2.77 (unshelve) Nova does not read the body: the arguments
    # are ignored, not refused.
    ignored = admin_api.post(url, body, format="json", **at("2.55"))
    assert ignored.json()["badRequest"]["message"] == (
        "No valid host was found. No valid host found for cold migrate."
    )  # the scheduler's answer (one host here): the body was not read
    shelved = make_instance("shelved_offloaded", name="shelved")
    url = f"/v2.1/servers/{shelved.uuid}/action"
    body = {"unshelve": {"availability_zone": "nova"}}
    assert admin_api.post(url, {"unshelve": "x"}, format="json", **at("2.77")).status_code == 400
    assert admin_api.post(url, body, format="json", **at("2.77")).status_code == 202


def test_create_image_answers_with_the_image_id_from_245_and_a_location_before(
    alice_api, make_instance
):
    instance = make_instance("active")
    response = act(alice_api, instance, "createImage")
    assert response.status_code == 202
    image = Image.objects.get(pk=response.json()["image_id"])
    assert image.server_id == instance.pk
    other = make_instance("active", name="other")
    legacy = act(alice_api, other, "createImage", **at("2.44"))
    assert legacy.status_code == 202
    assert not legacy.content
    assert legacy["Location"].startswith("http://testserver/v2.1/images/")


def test_rescue_answers_200_with_the_admin_password(alice_api, make_instance):
    instance = make_instance("active")
    url = f"/v2.1/servers/{instance.uuid}/action"
    response = alice_api.post(url, {"rescue": {"adminPass": "pw"}}, format="json")
    assert (response.status_code, response.json()) == (200, {"adminPass": "pw"})


def test_confirm_resize_answers_204(alice_api, make_instance):
    instance = make_instance("resized")
    assert act(alice_api, instance, "confirmResize").status_code == 204
    assert Instance.objects.get(pk=instance.pk).vm_state == "active"


def test_rebuild_answers_202_with_the_server_and_its_password(alice_api, make_instance):
    instance = make_instance("active")
    url = f"/v2.1/servers/{instance.uuid}/action"
    body = {"rebuild": {"imageRef": CIRROS, "name": "reborn", "adminPass": "pw"}}
    response = alice_api.post(url, body, format="json")
    assert response.status_code == 202
    server = response.json()["server"]
    assert (server["status"], server["adminPass"]) == ("REBUILD", "pw")


def test_rebuild_refuses_a_key_pair_that_does_not_exist(alice_api, make_instance):
    instance = make_instance("active")
    url = f"/v2.1/servers/{instance.uuid}/action"
    body = {"rebuild": {"imageRef": CIRROS, "key_name": "k"}}
    response = alice_api.post(url, body, format="json")
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Invalid key_name provided."
    assert Instance.objects.get(pk=instance.pk).task_state is None


def test_rebuild_keeps_user_data_metadata_and_access_ips_as_nova_does(alice_api, make_instance):
    instance = make_instance("active")
    url = f"/v2.1/servers/{instance.uuid}/action"
    body = {
        "rebuild": {
            "imageRef": CIRROS,
            "user_data": "aGk=",
            "metadata": {"a": "b"},
            "accessIPv4": "192.0.2.9",
        }
    }
    response = alice_api.post(url, body, format="json", **at("2.57"))
    assert response.status_code == 202, response.content
    server = response.json()["server"]
    assert (server["user_data"], server["metadata"]) == ("aGk=", {"a": "b"})
    assert server["accessIPv4"] == "192.0.2.9"
    for addresses in server["addresses"].values():
        assert all(set(a) == {"addr", "version"} for a in addresses)


# --- what an acceptance costs ------------------------------------------------------------------


def test_an_accepted_action_is_a_handful_of_statements(alice_api, make_instance):
    """Token remembered, the instance read with its host only, one UPDATE … RETURNING (no
    re-read, no savepoint), the outbox row, and the action's three rows — one statement on
    PostgreSQL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first, second = make_instance(name="a"), make_instance(name="b")
    assert act(alice_api, first, "stop").status_code == 202  # the token is checked here
    with CaptureQueriesContext(connection) as captured:
        assert act(alice_api, second, "stop").status_code == 202
    sql = [q["sql"] for q in captured.captured_queries]
    # The test's own transaction turns the service's BEGIN into a savepoint; there is no other.
    assert sum(s.upper().startswith("SAVEPOINT") for s in sql) <= 1, sql
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
    statements = [s for s in sql if not s.upper().startswith(control)]
    assert not [s for s in statements if "dashboard_token" in s or "compute_membership" in s]
    reads = [s for s in statements if s.startswith("SELECT")]
    assert len(reads) == 1 and "compute_image" not in reads[0] and "compute_flavor" not in reads[0]
    assert sum(s.startswith("UPDATE") and "RETURNING" in s for s in statements) == 1
    records = 1 if connection.vendor == "postgresql" else 3
    assert len(statements) == 1 + 1 + 1 + records, statements


def test_the_rows_of_an_accepted_action_are_what_the_orm_would_have_written(
    alice_api, make_instance, alice_ctx
):
    from compute.models import ActionDispatch, InstanceActionEvent

    instance = make_instance()
    response = act(alice_api, instance, "stop")
    assert response.status_code == 202
    action = InstanceAction.objects.get(request_id=response["X-Compute-Request-Id"])
    event = InstanceActionEvent.objects.get(action=action)
    dispatch = ActionDispatch.objects.get(action=action)
    assert (action.instance_id, action.action, action.user_id, action.project_id) == (
        instance.pk,
        "stop",
        alice_ctx.user_id,
        instance.project_id,
    )
    assert (action.client, action.finish_time, action.message) == ("api", None, None)
    assert action.updated_at is not None and action.start_time == event.start_time
    assert (event.event, event.host, event.finish_time, event.result) == (
        "compute_stop_instance",
        "node1",
        None,
        None,
    )
    assert (dispatch.instance_id, dispatch.host_id, dispatch.kind, dispatch.params) == (
        instance.pk,
        instance.host_id,
        "stop",
        {},
    )
    assert (dispatch.state, dispatch.expected_task_state, dispatch.claimed_by) == (
        "pending",
        "powering-off",
        "",
    )
    assert dispatch.created_at is not None and dispatch.deadline > dispatch.created_at
