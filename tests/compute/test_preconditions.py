"""The precondition grid: every (action × vm_state × task_state) against the reference.

The oracle below is transcribed from shared/reference/nova-states.md §5 independently of
compute/actions.py, so a wrong row in the table fails here.
"""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from compute import actions, preconditions
from compute.context import RequestContext
from compute.exceptions import (
    Forbidden,
    InstanceInvalidState,
    InstanceIsLocked,
    InstanceNotReady,
    ServiceUnavailable,
)
from compute.models import Host, Instance
from compute.models.tenancy import Role
from compute.states import ALL_TASK_STATES, ALL_VM_STATES

ANY = None
NO_TASK = {None}
ALLOW_REBOOT = {
    None, "rebooting", "reboot_pending", "reboot_started", "resuming", "rebooting_hard",
    "unpausing", "pausing", "suspending",
}  # fmt: skip

#: action key → (allowed vm_states, allowed task_states); ANY accepts every value.
ORACLE: dict[str, tuple[set[str] | None, set[str | None] | None]] = {
    "start": ({"stopped"}, NO_TASK),
    "stop": ({"active", "error"}, NO_TASK),
    "reboot": ({"active"}, NO_TASK),
    "reboot_hard": ({"active", "stopped", "paused", "suspended", "error"}, ALLOW_REBOOT),
    "pause": ({"active"}, NO_TASK),
    "unpause": ({"paused"}, NO_TASK),
    "suspend": ({"active"}, NO_TASK),
    "resume": ({"suspended"}, NO_TASK),
    "rescue": ({"active", "stopped", "error"}, NO_TASK),
    "unrescue": ({"rescued"}, NO_TASK),
    "resize": ({"active", "stopped"}, NO_TASK),
    "migrate": ({"active", "stopped"}, NO_TASK),
    "confirmResize": ({"resized"}, NO_TASK),
    "revertResize": ({"resized"}, NO_TASK),
    "os-migrateLive": ({"active", "paused"}, NO_TASK),
    "evacuate": ({"active", "stopped", "error"}, NO_TASK),
    "rebuild": ({"active", "stopped", "error"}, NO_TASK),
    "createImage": ({"active", "stopped", "paused", "suspended"}, NO_TASK),
    "createBackup": ({"active", "stopped", "paused", "suspended"}, NO_TASK),
    "changePassword": ({"active"}, NO_TASK),
    "shelve": ({"active", "stopped", "paused", "suspended"}, NO_TASK),
    "shelveOffload": ({"shelved"}, NO_TASK),
    "unshelve": ({"shelved", "shelved_offloaded"}, NO_TASK),
    "delete": (ANY, ANY),
    "forceDelete": (ANY, ANY),
    "restore": ({"soft-delete"}, NO_TASK),
    "lock": (ANY, ANY),
    "unlock": (ANY, ANY),
    "trigger_crash_dump": ({"active", "paused", "rescued", "resized", "error"}, NO_TASK),
    "os-resetState": (ANY, ANY),
}
#: Nova's REST action name in refusals where it differs from the key.
API_NAME = {"reboot_hard": "reboot"}
#: The actions whose check_instance_state has must_have_launched=False (or that have none):
#: Nova's ``delete`` among them, so a failed build can always be deleted.
LAUNCH_NOT_NEEDED = {"delete", "forceDelete", "lock", "unlock", "os-resetState"}
#: Where ``check_instance_host`` stands above ``check_instance_state`` in nova/compute/api.py.
HOST_CHECKED_FIRST = {"start", "stop", "trigger_crash_dump"}
#: Nova's evacuate needs its instance's compute service down (``ComputeServiceInUse``).
HOST_MUST_BE_DOWN = {"evacuate"}
#: The REST handlers that catch InstanceIsLocked only as InstanceInvalidState.
LOCK_AS_INVALID_STATE = {"changePassword", "restore"}
#: Nova's policy rule names (nova/policies/*.py) for the admin-only actions.
POLICY = {
    "migrate": "os_compute_api:os-migrate-server:migrate",
    "os-migrateLive": "os_compute_api:os-migrate-server:migrate_live",
    "evacuate": "os_compute_api:os-evacuate",
    "os-resetState": "os_compute_api:os-admin-actions:reset_state",
}

ADMIN = RequestContext(user_id=1, user_name="admin", project_id="p", is_admin=True)
MEMBER = RequestContext(user_id=2, user_name="alice", project_id="p", project_ids=frozenset({"p"}))


def an_instance(vm_state: str, task_state: str | None, **extra: object) -> Instance:
    fields = {"launched_at": timezone.now(), **extra}
    if fields.get("host_id", 1) is not None:
        fields.pop("host_id", None)
        fields["host"] = Host(id=1, host="node1")  # named without a query (evacuate's text)
    return Instance(uuid=uuid.uuid4(), vm_state=vm_state, task_state=task_state, **fields)


def test_the_oracle_covers_every_action_in_the_table():
    assert set(ORACLE) == {a.key for a in actions.ACTIONS}


def expected_refusal(action: str, instance: Instance) -> str | None:
    """The text Nova refuses with, or None if the oracle allows the action."""
    allowed_vm, allowed_task = ORACLE[action]
    name = API_NAME.get(action, action)
    if allowed_vm is not None and instance.vm_state not in allowed_vm:
        return (
            f"Cannot '{name}' instance {instance.uuid} while it is in vm_state {instance.vm_state}"
        )
    if allowed_task is not None and instance.task_state not in allowed_task:
        if instance.task_state is None:
            return f"Instance {instance.uuid} is in an invalid state for '{name}'"
        return (
            f"Cannot '{name}' instance {instance.uuid} "
            f"while it is in task_state {instance.task_state}"
        )
    if instance.launched_at is None and action not in LAUNCH_NOT_NEEDED:
        return f"Instance {instance.uuid} is in an invalid state for '{name}'"
    return None


@pytest.mark.parametrize("launched", [True, False], ids=["launched", "never-launched"])
@pytest.mark.parametrize("action", sorted(ORACLE))
@pytest.mark.parametrize("vm_state", ALL_VM_STATES)
def test_action_is_allowed_or_refused_exactly_as_nova_says_for_every_task_state(
    action, vm_state, launched
):
    spec = actions.get(action)
    mismatches = []
    for task_state in ALL_TASK_STATES:
        instance = an_instance(
            vm_state, task_state, launched_at=timezone.now() if launched else None
        )
        want = expected_refusal(action, instance)
        try:
            preconditions.check(spec, instance, ADMIN, host_up=action not in HOST_MUST_BE_DOWN)
            got = None
        except InstanceInvalidState as refusal:
            got = refusal.message
        if got != want:
            mismatches.append((task_state, want, got))
    assert not mismatches, mismatches


@pytest.mark.parametrize("vm_state", ["building", "error"])
def test_a_build_that_never_launched_can_always_be_deleted(vm_state):
    for task_state in (None, "scheduling", "spawning"):
        instance = an_instance(vm_state, task_state, launched_at=None, host_id=None)
        preconditions.check(actions.get("delete"), instance, MEMBER, host_up=None)


@pytest.mark.parametrize("action", sorted(ORACLE))
def test_evaluate_gives_the_same_answer_as_the_guard_for_every_vm_state(action):
    spec = actions.get(action)
    for vm_state in ALL_VM_STATES:
        instance = an_instance(vm_state, None)
        answer = preconditions.evaluate(instance, ADMIN, host_up=True)[action]
        try:
            preconditions.check(spec, instance, ADMIN, host_up=True)
        except Exception as refusal:
            assert answer == refusal.message
        else:
            assert answer is None


LOCK_CHECKED = sorted(
    k for k in ORACLE if k not in ("createImage", "createBackup", "lock", "unlock", "os-resetState")
)


@pytest.mark.parametrize("action", sorted(set(LOCK_CHECKED) - LOCK_AS_INVALID_STATE))
def test_a_locked_instance_refuses_members_with_novas_locked_text(action):
    allowed_vm, _ = ORACLE[action]
    vm_state = sorted(allowed_vm)[0] if allowed_vm else "active"
    instance = an_instance(vm_state, None, locked=True)
    spec = actions.get(action)
    if spec.role != Role.MEMBER:
        with pytest.raises(Forbidden):
            preconditions.check(spec, instance, MEMBER, host_up=True)
        return
    with pytest.raises(InstanceIsLocked, match=f"Instance {instance.uuid} is locked"):
        preconditions.check(spec, instance, MEMBER, host_up=True)
    preconditions.check(spec, instance, ADMIN, host_up=True)  # admins bypass locks


@pytest.mark.parametrize("action", sorted(LOCK_AS_INVALID_STATE))
def test_a_locked_instance_reads_invalid_state_where_nova_catches_the_lock_as_such(action):
    allowed_vm, _ = ORACLE[action]
    instance = an_instance(sorted(allowed_vm)[0], None, locked=True)
    spec = actions.get(action)
    with pytest.raises(InstanceInvalidState) as refused:
        preconditions.check(spec, instance, MEMBER, host_up=True)
    assert refused.value.message == (
        f"Instance {instance.uuid} is in an invalid state for '{action}'"
    )
    preconditions.check(spec, instance, ADMIN, host_up=True)


@pytest.mark.parametrize("action", ["createImage", "createBackup"])
def test_snapshots_ignore_the_lock_as_in_nova(action):
    preconditions.check(
        actions.get(action), an_instance("active", None, locked=True), MEMBER, host_up=True
    )


def test_an_instance_never_launched_is_in_an_invalid_state_for_start():
    instance = an_instance("stopped", None, launched_at=None)
    with pytest.raises(InstanceInvalidState, match="is in an invalid state for 'start'"):
        preconditions.check(actions.get("start"), instance, ADMIN, host_up=True)


def test_force_delete_does_not_need_a_launched_instance():
    preconditions.check(
        actions.get("forceDelete"), an_instance("building", "spawning", launched_at=None), ADMIN
    )


@pytest.mark.parametrize("action", ["start", "stop", "trigger_crash_dump"])
def test_actions_that_need_a_host_refuse_an_instance_without_one(action):
    allowed_vm, _ = ORACLE[action]
    instance = an_instance(sorted(allowed_vm)[0], None, host_id=None)
    with pytest.raises(InstanceNotReady, match="is not ready"):
        preconditions.check(actions.get(action), instance, ADMIN, host_up=True)


@pytest.mark.parametrize("vm_state", ALL_VM_STATES)
@pytest.mark.parametrize("action", sorted(ORACLE))
def test_the_host_is_checked_before_the_states_exactly_where_nova_checks_it_first(action, vm_state):
    """A host-less instance in a vm_state the action refuses: "not ready" where Nova's
    check_instance_host stands first (start, stop, trigger_crash_dump), the state's text where
    check_instance_state does (resize, migrate), and no host text for the rest."""
    instance = an_instance(vm_state, None, host_id=None, launched_at=None)
    try:
        preconditions.check(actions.get(action), instance, ADMIN, host_up=None)
        got = None
    except (InstanceInvalidState, InstanceNotReady) as refusal:
        got = refusal.message
    if action in HOST_CHECKED_FIRST:
        assert got == f"Instance {instance.uuid} is not ready"
    elif expected_refusal(action, instance) is not None:
        assert got == expected_refusal(action, instance)
    else:
        assert got in (None, f"Instance {instance.uuid} is not ready")


@pytest.mark.parametrize("action", ["resize", "migrate"])
def test_resize_and_migrate_refuse_while_the_compute_service_is_down(action):
    with pytest.raises(ServiceUnavailable, match=r"Service is unavailable at this time\."):
        preconditions.check(actions.get(action), an_instance("active", None), ADMIN, host_up=False)


def test_a_disabled_host_still_passes_the_host_check():
    # MAINTENANCE is "up" for Nova's check_instance_host(check_is_up=True).
    preconditions.check(actions.get("resize"), an_instance("active", None), ADMIN, host_up=True)


@pytest.mark.parametrize("action", sorted(POLICY))
def test_admin_only_actions_are_forbidden_to_members_and_hidden_from_their_answer(action):
    instance = an_instance("active", None)
    with pytest.raises(Forbidden) as refused:
        preconditions.check(actions.get(action), instance, MEMBER, host_up=True)
    assert refused.value.message == f"Policy doesn't allow {POLICY[action]} to be performed."
    assert action not in preconditions.evaluate(instance, MEMBER, host_up=True)


def test_the_admin_only_actions_are_exactly_those_the_oracle_names():
    assert {a.key for a in actions.ACTIONS if (a.role != Role.MEMBER)} == set(POLICY)


# --- the raising guard and the non-raising answers agree ----------------------------------------

CALLERS = {"admin": ADMIN, "member": MEMBER}
#: (locked_by, launched, host_id, host_up): what else the check reads besides the two states.
#: The instance is in the member's project, so "owner" is the member's own lock and "admin" the
#: other party's (unlock then needs the override).
SITUATIONS = [
    (None, True, 1, True),
    ("owner", True, 1, True),
    ("admin", True, 1, True),
    (None, False, 1, True),
    (None, True, None, None),
    (None, True, 1, False),
]


def guard_answer(spec: actions.ActionSpec, instance: Instance, context, host_up) -> str | None:
    """What the raising ``check`` says: None if it passes, else the text it raises."""
    try:
        preconditions.check(spec, instance, context, host_up=host_up)
    except Exception as refusal:
        return refusal.message
    return None


@pytest.mark.parametrize("caller", sorted(CALLERS))
@pytest.mark.parametrize("situation", SITUATIONS, ids=str)
def test_check_evaluate_and_the_memoised_evaluator_agree_over_the_whole_grid(caller, situation):
    """Every action × vm_state × task_state: the guard's refusal text (or its pass) is exactly
    the answer ``evaluate`` and a request's ``Evaluator`` give, uuid included."""
    context = CALLERS[caller]
    locked_by, launched, host, up = situation
    evaluator = preconditions.Evaluator(context)
    mismatches = []
    for vm_state in ALL_VM_STATES:
        for task_state in ALL_TASK_STATES:
            instance = an_instance(
                vm_state,
                task_state,
                locked=locked_by is not None,
                locked_by=locked_by,
                project_id="p",
                launched_at=timezone.now() if launched else None,
                host_id=host,
            )
            plain = preconditions.evaluate(instance, context, host_up=up)
            allowed, refused = evaluator.sorted(instance, host_up=up)
            assert allowed == sorted(k for k, text in plain.items() if text is None)
            assert list(refused.items()) == sorted((k, t) for k, t in plain.items() if t)
            memoised = {**dict.fromkeys(allowed), **refused}
            for spec in actions.ACTIONS:
                if (spec.role != Role.MEMBER) and not context.is_admin:
                    want = "<absent>"
                else:
                    want = guard_answer(spec, instance, context, up)
                got = (plain.get(spec.key, "<absent>"), memoised.get(spec.key, "<absent>"))
                if got != (want, want):
                    mismatches.append((spec.key, vm_state, task_state, want, got))
    assert not mismatches, mismatches[:5]


def test_the_evaluator_runs_the_check_once_per_situation_not_once_per_instance(monkeypatch):
    calls = []
    real = preconditions.evaluate

    def counting(instance, context, *, host_up=None, source_up=None):
        calls.append(instance.vm_state)
        return real(instance, context, host_up=host_up, source_up=source_up)

    monkeypatch.setattr(preconditions, "evaluate", counting)
    evaluator = preconditions.Evaluator(MEMBER)
    servers = [an_instance(("active", "stopped")[n % 2], None) for n in range(100)]
    answers = [evaluator.sorted(i, host_up=True) for i in servers]
    assert sorted(calls) == ["active", "stopped"]
    # The texts are each instance's own, not the first one's.
    assert "start" in answers[1][0]
    assert (
        answers[0][1]["start"] == f"Cannot 'start' instance {servers[0].uuid} while it is in "
        "vm_state active"
    )
    assert (
        answers[2][1]["start"] == f"Cannot 'start' instance {servers[2].uuid} while it is in "
        "vm_state active"
    )


def test_the_evaluator_reads_the_hosts_liveness_itself_when_not_given(monkeypatch):
    """Without ``host_up`` the answer depends on the instance's own host: never memoised."""
    from compute.models import Host

    down = Host(pk=1, host="h")
    monkeypatch.setattr(Host, "is_up", property(lambda self: self is not down))
    instance = an_instance("active", None)
    instance.host = down
    evaluator = preconditions.Evaluator(ADMIN)
    assert evaluator.sorted(instance)[1]["resize"] == "Service is unavailable at this time."
    instance.host = Host(pk=2, host="g")
    assert "resize" in evaluator.sorted(instance)[0]
