"""Who may act on an instance, and how to get into its guest: the lock and the admin password."""

from __future__ import annotations

from compute.actions.spec import ActionSpec, Result, Step, allowed
from compute.states import TaskState, VmState

T = TaskState
V = VmState

GROUP = "Access"

LOCK = ActionSpec(
    group=GROUP,
    key="lock",
    name="lock",
    api_name="lock",
    policy="os_compute_api:os-lock-server:lock",
    label="Lock",
    summary="Refuse actions by non-admins until unlocked.",
    vm_states=None,
    task_states=None,
    check_lock=False,
    must_have_launched=False,
    params=("locked_reason",),
    manager_function="lock",
    prepare="lock",
    complete="lock",
)

UNLOCK = ActionSpec(
    group=GROUP,
    key="unlock",
    name="unlock",
    api_name="unlock",
    policy="os_compute_api:os-lock-server:unlock",
    foreign_lock_policy="os_compute_api:os-lock-server:unlock:unlock_override",
    label="Unlock",
    summary="Allow actions again.",
    vm_states=None,
    task_states=None,
    check_lock=False,
    must_have_launched=False,
    manager_function="unlock",
    complete="unlock",
)

CHANGE_PASSWORD = ActionSpec(
    group=GROUP,
    key="changePassword",
    name="changePassword",
    api_name="changePassword",
    policy="os_compute_api:os-admin-password",
    label="Change password",
    summary="Set the guest's administrator password.",
    vm_states=allowed(V.ACTIVE),
    locked_reads_invalid_state=True,
    steps=(Step(T.UPDATING_PASSWORD, "set_admin_password"),),
    result=Result.UNCHANGED,
    params=("adminPass",),
    manager_function="set_admin_password",
    prepare="change_password",
    finish="forget_password",
)

#: The family's user actions, in the order the page shows their buttons.
SHOWN: tuple[ActionSpec, ...] = (LOCK, UNLOCK, CHANGE_PASSWORD)
