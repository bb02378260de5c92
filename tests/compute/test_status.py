"""The forward map (vm_state, task_state) → status and its reverse, against the reference §4."""

from __future__ import annotations

import pytest

from compute.states import ALL_TASK_STATES, ALL_VM_STATES
from compute.status import Status, UnknownStatus, status_filter, status_from_state

SOFT = {"rebooting", "reboot_pending", "reboot_started"}
HARD = {"rebooting_hard", "reboot_pending_hard", "reboot_started_hard"}
REBUILD = {"rebuilding", "rebuild_block_device_mapping", "rebuild_spawning"}
RESIZE = {"resize_prep", "resize_migrating", "resize_migrated", "resize_finish"}


def expected(vm: str, task: str | None) -> str:
    """§4a written out as plain conditions."""
    if vm == "active":
        if task in SOFT:
            return "REBOOT"
        if task in HARD:
            return "HARD_REBOOT"
        if task == "updating_password":
            return "PASSWORD"
        if task in REBUILD:
            return "REBUILD"
        if task == "migrating":
            return "MIGRATING"
        if task in RESIZE:
            return "RESIZE"
        return "ACTIVE"
    if vm == "stopped":
        return "RESIZE" if task in RESIZE else "REBUILD" if task in REBUILD else "SHUTOFF"
    if vm == "resized":
        return "REVERT_RESIZE" if task == "resize_reverting" else "VERIFY_RESIZE"
    if vm == "paused":
        return "MIGRATING" if task == "migrating" else "PAUSED"
    if vm == "error":
        return "REBUILD" if task in REBUILD else "ERROR"
    return {
        "building": "BUILD",
        "suspended": "SUSPENDED",
        "rescued": "RESCUE",
        "deleted": "DELETED",
        "soft-delete": "SOFT_DELETED",
        "shelved": "SHELVED",
        "shelved_offloaded": "SHELVED_OFFLOADED",
    }[vm]


@pytest.mark.parametrize("vm_state", ALL_VM_STATES)
def test_status_is_novas_forward_map_for_every_task_state(vm_state):
    wrong = {
        task: status_from_state(vm_state, task)
        for task in ALL_TASK_STATES
        if status_from_state(vm_state, task) != expected(vm_state, task)
    }
    assert not wrong


def test_a_deleted_row_is_deleted_whatever_its_states():
    assert status_from_state("active", "rebooting", deleted=True) == Status.DELETED


def test_an_unknown_vm_state_is_unknown():
    assert status_from_state("bogus", None) == Status.UNKNOWN


def test_active_filter_applies_no_task_filter_so_it_matches_rebooting_servers_too():
    wanted = status_filter(["active"])
    assert wanted.vm_states == {"active"}
    assert wanted.any_task


def test_rebuild_filter_selects_three_vm_states_and_the_rebuild_tasks():
    wanted = status_filter(["REBUILD"])
    assert wanted.vm_states == {"active", "stopped", "error"}
    assert wanted.task_states == REBUILD
    assert not wanted.any_task


def test_several_statuses_merge_into_one_vm_set_and_one_task_set():
    wanted = status_filter(["REBOOT", "HARD_REBOOT"])
    assert wanted.vm_states == {"active"}
    assert wanted.task_states == SOFT | HARD


def test_an_unknown_status_is_refused():
    with pytest.raises(UnknownStatus):
        status_filter(["SLEEPING"])
