"""The decision table itself, over every (vm_state, driver power) pair: Nova's §7, written out
here independently of ``compute.sync.decisions``."""

from __future__ import annotations

import pytest

from compute.states import ALL_VM_STATES, PowerState, VmState
from compute.sync import Correction, decide

P = PowerState
V = VmState
C = Correction

ALL_POWERS = [int(p) for p in P]

#: Nova's table: the pairs that get a correction. Everything else gets power_state only.
CORRECTED = {
    (V.ACTIVE, P.SHUTDOWN): C.STOP,
    (V.ACTIVE, P.CRASHED): C.STOP,
    (V.ACTIVE, P.SUSPENDED): C.STOP,
    (V.STOPPED, P.RUNNING): C.FORCE_STOP,
    (V.STOPPED, P.PAUSED): C.FORCE_STOP,
    (V.STOPPED, P.SUSPENDED): C.FORCE_STOP,
    (V.PAUSED, P.SHUTDOWN): C.FORCE_STOP,
    (V.PAUSED, P.CRASHED): C.FORCE_STOP,
}
#: Pairs Nova only logs.
LOGGED = {
    (V.ACTIVE, P.PAUSED),
    (V.ACTIVE, P.NOSTATE),
    *((vm, p) for vm in (V.SOFT_DELETED, V.DELETED) for p in (P.RUNNING, P.PAUSED, P.CRASHED)),
    *((vm, P.SUSPENDED) for vm in (V.SOFT_DELETED, V.DELETED)),
}

GRID = [(vm, power) for vm in ALL_VM_STATES for power in ALL_POWERS]


@pytest.mark.parametrize(("vm_state", "power"), GRID)
def test_decide_follows_novas_table_for_every_pair(vm_state, power):
    verdict = decide(vm_state, power)
    assert verdict.correction is CORRECTED.get((vm_state, power), C.NONE)
    assert verdict.warn == ((vm_state, power) in LOGGED)


@pytest.mark.parametrize("power", ALL_POWERS)
@pytest.mark.parametrize(
    "vm_state",
    [V.BUILDING, V.RESCUED, V.RESIZED, V.SUSPENDED, V.ERROR, V.SHELVED, V.SHELVED_OFFLOADED],
)
def test_states_nova_leaves_alone_get_power_state_only(vm_state, power):
    assert decide(vm_state, power).correction is C.NONE


@pytest.mark.parametrize("power", ALL_POWERS)
@pytest.mark.parametrize("terminate", [False, True])
def test_error_is_never_corrected_whatever_the_guest_does(power, terminate):
    assert decide(V.ERROR, power, shutdown_terminate=terminate).correction is C.NONE


@pytest.mark.parametrize("power", [P.SHUTDOWN, P.CRASHED])
def test_shutdown_terminate_turns_the_stop_of_an_active_instance_into_a_delete(power):
    assert decide(V.ACTIVE, power, shutdown_terminate=True).correction is C.DELETE


def test_shutdown_terminate_is_read_only_for_a_guest_that_went_off():
    assert decide(V.ACTIVE, P.SUSPENDED, shutdown_terminate=True).correction is C.STOP
    assert decide(V.STOPPED, P.RUNNING, shutdown_terminate=True).correction is C.FORCE_STOP


def test_no_correction_ever_starts_or_resumes_a_guest():
    actions = {decide(vm, p).correction.action for vm, p in GRID}
    assert actions <= {None, "stop", "forceStop"}
