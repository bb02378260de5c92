"""The shape of a row of the action table: what an action needs, does and ends in.

``ActionSpec`` says everything Nova's decorators and compute manager say about an action: the
vm_states and task_states it may start from, whether the lock and the host are checked (and in
which order), the policy rule, the task_state set when it is accepted, the task_states the agent
walks through with the driver call made at each, and the vm_state it ends in; and what the edges
need to offer it: its parameters and their choices, its variant, its group of buttons, and the
services' hooks that prepare or complete it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from compute.models.tenancy import Role
from compute.states import PowerState, VmState

#: "No task is running" — the default allowed task_states of Nova's check_instance_state.
NO_TASK: frozenset[str | None] = frozenset({None})


class HostCheck(enum.Enum):
    NONE = "none"
    #: instance.host must be set (Nova's check_instance_host).
    SET = "set"
    #: instance.host must be set and its compute service up (check_is_up=True).
    UP = "up"
    #: The compute the instance was resized or migrated away from must be up, checked after the
    #: states (confirmResize: Nova's ``_get_source_compute_service``).
    SOURCE_UP = "source_up"
    #: instance.host's compute service must be down (evacuate: Nova's ``ComputeServiceInUse``
    #: when ``service_is_up``), checked after the states.
    DOWN = "down"


class Result(enum.Enum):
    """How the resulting vm_state is found when it is not a plain state."""

    #: The vm_state the caller names, one of ``ActionSpec.chosen_results`` (os-resetState).
    CHOSEN = "chosen"
    #: vm_state is left as it was (snapshot, password, live migration).
    UNCHANGED = "unchanged"
    #: vm_state saved in system_metadata["old_vm_state"] at acceptance, default active.
    PREVIOUS = "previous"
    #: active, unless the instance was stopped before the action: then powered off → stopped.
    ACTIVE_OR_STOPPED = "active_or_stopped"
    #: active, or stopped when the guest's power state is SHUTDOWN (confirmResize).
    BY_POWER = "by_power"


@dataclass(frozen=True)
class Step:
    """One task_state of the agent's walk and the driver call made while in it."""

    task_state: str | None
    driver_call: str | None = None
    #: ``progress`` reported when the step starts (long tasks only).
    progress: int | None = None
    #: The status the action's migration record takes when the step starts (Nova's
    #: ``migration.status`` as the compute manager sets it on the way).
    migration_status: str = ""


@dataclass(frozen=True)
class Moves:
    """The migration record (Nova's ``migrations`` row) an action opens or carries on, and the
    statuses Nova gives it: at acceptance, when the host's agent takes it up, at the end, and
    when it fails. An action that does not open one (revert, confirm) acts on the instance's
    migration in ``continues`` status."""

    #: The record's ``migration_type`` when the action opens one; "" for an action that
    #: carries on the instance's open migration.
    opens: str = ""
    #: The status the carried-on migration must be in (Nova's ``get_by_instance_and_status``).
    continues: str = ""
    accepted: str = ""
    started: str = ""
    done: str = ""
    failed: str = ""


@dataclass(frozen=True)
class Variant:
    """One of the rows Nova's API serves as one action with a type
    (``{"reboot": {"type": "SOFT"}}``); the page offers them as one small form."""

    #: The request body's key the rows share, and the title of their one form on the page.
    action: str
    title: str
    #: The body's field that picks the row, and this row's value of it (Nova also accepts the
    #: value in lower case and title case).
    field: str
    value: str
    #: This choice's label in the form.
    label: str

    @property
    def accepted_values(self) -> tuple[str, ...]:
        return (self.value.upper(), self.value.title(), self.value.lower())


@dataclass(frozen=True)
class ActionSpec:
    key: str
    #: Nova's instance-action name, used in the action log (``reboot``, ``live-migration``).
    name: str
    #: The action as Nova's REST handlers name it in refusals (``reboot``, ``os-migrateLive``).
    api_name: str
    label: str
    summary: str
    #: Allowed vm_states; None accepts any.
    vm_states: frozenset[str] | None
    #: Allowed task_states (None in the set = no task); None accepts any.
    task_states: frozenset[str | None] | None = NO_TASK
    check_lock: bool = True
    host_check: HostCheck = HostCheck.NONE
    #: Nova's ``check_instance_host`` stands above ``check_instance_state`` (start, stop,
    #: trigger_crash_dump): a host-less instance is "not ready" whatever its vm_state.
    host_checked_first: bool = False
    must_have_launched: bool = True
    #: The REST handler lets ``InstanceIsLocked`` fall into its ``InstanceInvalidState`` branch
    #: (changePassword, restore), so a locked instance reads "… is in an invalid state for …".
    locked_reads_invalid_state: bool = False
    #: The least role Nova's default for ``policy`` lets through: ``member``
    #: (``PROJECT_MEMBER_OR_ADMIN``), ``manager`` (``PROJECT_MANAGER_OR_ADMIN``: a manager of the
    #: instance's project) or ``admin`` (``ADMIN``). ``compute.policy.RULES`` reads it.
    role: Role = Role.MEMBER
    #: Nova's policy rule for the action, named in a 403 ("Policy doesn't allow … to be
    #: performed.").
    policy: str = ""
    #: A second rule the caller needs when the instance's lock is the other party's (unlock's
    #: ``unlock_override``, admins by default; ``compute.policy.lock_is_foreign``).
    foreign_lock_policy: str = ""
    #: The task_state set when the action is accepted, followed by the agent's walk. The first
    #: step's task_state is the one the service sets; an empty walk runs without the agent.
    steps: tuple[Step, ...] = ()
    result: str | Result = Result.UNCHANGED
    #: Parameters the action takes (names as in Nova's request bodies).
    params: tuple[str, ...] = ()
    #: Asks the browser user to confirm first.
    destructive: bool = False
    #: Saves the vm_state it started from (system_metadata "old_vm_state"), for actions whose
    #: result depends on it. Off for the actions that read a state saved earlier.
    remembers_state: bool = True
    #: A driver failure leaves vm_state ERROR (build, rebuild, resize …) rather than as it was.
    error_on_failure: bool = False
    #: Nova's compute-manager function, named in the action's event (``compute_<function>``).
    manager_function: str = ""
    #: The group of buttons the page shows it in (its family's module sets it).
    group: str = ""
    #: Set when Nova's API serves it and its siblings as one action with a type.
    variant: Variant | None = None
    #: With ``Result.CHOSEN``: the vm_states the caller may name, in the order offered.
    chosen_results: tuple[str, ...] = ()
    #: The service's preparer of its parameters (``compute.services.params.PREPARERS``), for
    #: an action that takes any.
    prepare: str = ""
    #: For an action the service completes in the request (no steps, so no agent): its
    #: completion (``compute.services.instances.COMPLETIONS``).
    complete: str = ""
    #: The row this one becomes when reclaim_instance_interval > 0 and the instance has
    #: launched (Nova's REST delete: ``delete`` → ``softDelete``).
    reclaiming: str = ""
    #: The agent's end of it besides the states (``compute.agent.finish.FINISHERS``).
    finish: str = ""
    #: Nova's shelve: offloaded at once, within the same action, when shelved_offload_time
    #: is 0 (the agent's walk gains the offload and the action ends shelved_offloaded).
    offloads: bool = False
    #: The name of the image the walk's ``snapshot`` step makes for itself (``{name}``: the
    #: instance's), where no image was made at acceptance: shelve's ``<name>-shelved``.
    snapshot_name: str = ""
    #: The migration record the action keeps, if it moves the instance between hosts.
    moves: Moves | None = None

    @property
    def completed_by_service(self) -> bool:
        """Whether the service completes it in the request (else the host's agent runs it)."""
        return not self.steps

    def resulting_vm_state(
        self, *, vm_state: str, power_state: int, remembered: str | None = None, chosen: str = ""
    ) -> str:
        """The vm_state the action ends in: its plain result, or what ``result`` says to read —
        the vm_state it had (UNCHANGED), the one saved at acceptance (PREVIOUS, default
        active), the caller's choice (CHOSEN), the guest's power (BY_POWER: stopped if it is
        shut down). ACTIVE_OR_STOPPED is the agent's, which powers the guest off on its way."""
        result = self.result
        if isinstance(result, str):
            return result
        if result is Result.UNCHANGED:
            return vm_state
        if result is Result.PREVIOUS:
            return remembered or VmState.ACTIVE
        if result is Result.CHOSEN:
            if chosen not in self.chosen_results:
                raise ValueError(f"{chosen!r} is not one of {self.chosen_results}")
            return chosen
        if result is Result.BY_POWER:
            return VmState.STOPPED if power_state == PowerState.SHUTDOWN else VmState.ACTIVE
        raise ValueError(f"{self.key}'s result {result} is decided by the agent's walk")

    @property
    def start_task(self) -> str | None:
        return self.steps[0].task_state if self.steps else None

    @property
    def walk(self) -> tuple[str, ...]:
        """The task_states the instance passes through, in order."""
        return tuple(s.task_state for s in self.steps if s.task_state)


def allowed(*states: str) -> frozenset[str]:
    """The vm_states an action may start from."""
    return frozenset(states)
