from __future__ import annotations

import pytest

from compute.states import PowerState, VmState

pytestmark = pytest.mark.django_db


def test_a_created_instance_builds_on_the_fake_host_and_ends_active_and_running(make_instance):
    instance = make_instance("active")
    assert instance.vm_state == VmState.ACTIVE
    assert instance.task_state is None
    assert instance.power_state == PowerState.RUNNING
    assert instance.launched_at is not None
