"""Power: start, stop, reboot, pause, suspend and their undoing, and the sync's force-stop."""

from __future__ import annotations

from compute.actions.spec import ActionSpec, HostCheck, Result, Step, Variant, allowed
from compute.states import ALLOW_HARD_REBOOT, ALLOW_REBOOT, TaskState, VmState

T = TaskState
V = VmState

GROUP = "Power"

START = ActionSpec(
    group=GROUP,
    key="start",
    name="start",
    api_name="start",
    policy="os_compute_api:servers:start",
    label="Start",
    summary="Power on a stopped instance.",
    vm_states=allowed(V.STOPPED),
    host_check=HostCheck.SET,
    host_checked_first=True,
    steps=(Step(T.POWERING_ON, "power_on"),),
    result=V.ACTIVE,
    manager_function="start_instance",
)

STOP = ActionSpec(
    group=GROUP,
    key="stop",
    name="stop",
    api_name="stop",
    policy="os_compute_api:servers:stop",
    label="Stop",
    summary="Shut the guest down cleanly, then power it off.",
    vm_states=allowed(V.ACTIVE, V.ERROR),
    host_check=HostCheck.SET,
    host_checked_first=True,
    steps=(Step(T.POWERING_OFF, "power_off"),),
    result=V.STOPPED,
    destructive=True,
    manager_function="stop_instance",
)

REBOOT = ActionSpec(
    group=GROUP,
    key="reboot",
    name="reboot",
    api_name="reboot",
    policy="os_compute_api:servers:reboot",
    label="Soft reboot",
    summary="Ask the guest OS to restart.",
    vm_states=allowed(V.ACTIVE),
    steps=(Step(T.REBOOTING), Step(T.REBOOT_PENDING), Step(T.REBOOT_STARTED, "reboot_soft")),
    result=V.ACTIVE,
    manager_function="reboot_instance",
    variant=Variant("reboot", "Reboot", "type", "SOFT", "Soft"),
)

REBOOT_HARD = ActionSpec(
    group=GROUP,
    key="reboot_hard",
    name="reboot",
    api_name="reboot",
    policy="os_compute_api:servers:reboot",
    label="Hard reboot",
    summary="Power-cycle the instance; also recovers a stuck reboot, pause or suspend.",
    vm_states=frozenset(ALLOW_HARD_REBOOT),
    task_states=ALLOW_REBOOT,
    steps=(
        Step(T.REBOOTING_HARD),
        Step(T.REBOOT_PENDING_HARD),
        Step(T.REBOOT_STARTED_HARD, "reboot_hard"),
    ),
    result=V.ACTIVE,
    destructive=True,
    manager_function="reboot_instance",
    variant=Variant("reboot", "Reboot", "type", "HARD", "Hard"),
)

PAUSE = ActionSpec(
    group=GROUP,
    key="pause",
    name="pause",
    api_name="pause",
    policy="os_compute_api:os-pause-server:pause",
    label="Pause",
    summary="Freeze the guest in memory.",
    vm_states=allowed(V.ACTIVE),
    steps=(Step(T.PAUSING, "pause"),),
    result=V.PAUSED,
    manager_function="pause_instance",
)

UNPAUSE = ActionSpec(
    group=GROUP,
    key="unpause",
    name="unpause",
    api_name="unpause",
    policy="os_compute_api:os-pause-server:unpause",
    label="Unpause",
    summary="Let a paused guest run again.",
    vm_states=allowed(V.PAUSED),
    steps=(Step(T.UNPAUSING, "unpause"),),
    result=V.ACTIVE,
    manager_function="unpause_instance",
)

SUSPEND = ActionSpec(
    group=GROUP,
    key="suspend",
    name="suspend",
    api_name="suspend",
    policy="os_compute_api:os-suspend-server:suspend",
    label="Suspend",
    summary="Save the guest's memory to disk and stop it.",
    vm_states=allowed(V.ACTIVE),
    steps=(Step(T.SUSPENDING, "suspend"),),
    result=V.SUSPENDED,
    manager_function="suspend_instance",
)

RESUME = ActionSpec(
    group=GROUP,
    key="resume",
    name="resume",
    api_name="resume",
    policy="os_compute_api:os-suspend-server:resume",
    label="Resume",
    summary="Restore a suspended guest from its saved memory.",
    vm_states=allowed(V.SUSPENDED),
    steps=(Step(T.RESUMING, "resume"),),
    result=Result.PREVIOUS,
    remembers_state=False,
    manager_function="resume_instance",
)

#: Not a user action: Nova's ``force_stop``, which the power-state sync calls for a guest that
#: runs (or is paused, or suspended) while its instance is stopped, or that is off while it is
#: paused. Unlike ``stop`` it accepts any vm_state; like it, it needs no task in progress. Only
#: the system context may start it (``compute.services.instances.instance_action``).
FORCE_STOP = ActionSpec(
    key="forceStop",
    name="stop",
    api_name="stop",
    policy="os_compute_api:servers:stop",
    label="Force stop",
    summary="Power off a guest whatever its vm_state says, leaving the instance stopped.",
    vm_states=None,
    host_check=HostCheck.SET,
    steps=(Step(T.POWERING_OFF, "power_off"),),
    result=V.STOPPED,
    manager_function="stop_instance",
)

#: The family's user actions, in the order the page shows their buttons.
SHOWN: tuple[ActionSpec, ...] = (START, STOP, REBOOT, REBOOT_HARD, PAUSE, UNPAUSE, SUSPEND, RESUME)
