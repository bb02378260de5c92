"""Texts and liveness rules read off Nova's source: the lost race's conflict, the policy
refusal's wording, and the servicegroup's heartbeat arithmetic."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from compute import state_machine
from compute.conf import conf
from compute.exceptions import Forbidden, UnexpectedTaskState
from compute.models import Host
from compute.scheduler import select_host
from compute.services import instance_action, instance_create
from compute.status import HostStatus, service_is_up
from compute.watchdog import check_hosts
from tests.conftest import CIRROS, fresh


def test_a_lost_race_reads_like_novas_conflict_with_the_expected_list():
    lost = UnexpectedTaskState(instance_uuid="u-1", expected=None, actual="powering-off")
    assert lost.message == (
        "Conflict updating instance u-1. Expected: {'task_state': [None]}. "
        "Actual: {'task_state': 'powering-off'}"
    )
    several = UnexpectedTaskState(instance_uuid="u-1", expected=("deleting", None), actual="x")
    assert "Expected: {'task_state': ['deleting', None]}." in several.message


@pytest.mark.django_db
def test_the_state_machine_raises_the_lost_race_with_the_expected_list(make_instance, alice_ctx):
    instance = make_instance("active")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="stop")
    with pytest.raises(UnexpectedTaskState) as lost:
        state_machine.transition(instance, expected_task_state=None, task_state="pausing")
    assert lost.value.message.endswith(
        "Expected: {'task_state': [None]}. Actual: {'task_state': 'powering-off'}"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("where", "rule"),
    [
        ({"host": "node1"}, "compute:servers:create:requested_destination"),
        ({"availability_zone": "nova:node1"}, "os_compute_api:servers:create:forced_host"),
    ],
)
def test_a_member_naming_a_host_at_create_is_refused_in_novas_policy_words(
    agent, alice_ctx, where, rule
):
    with pytest.raises(Forbidden) as refused:
        instance_create(
            context=fresh(alice_ctx), name="x", flavor_ref="1", image_ref=CIRROS, **where
        )
    assert refused.value.message == f"Policy doesn't allow {rule} to be performed."


# --- liveness ------------------------------------------------------------------------------------


def alive(seen_seconds_ago: float, down: float = 60) -> bool:
    now = timezone.now()
    return service_is_up(
        forced_down=False,
        last_seen_up=now - timedelta(seconds=seen_seconds_ago),
        created_at=now - timedelta(days=1),
        now=now,
        service_down_time=down,
    )


def test_a_heartbeat_far_in_the_future_counts_as_down_as_novas_absolute_difference_does():
    assert alive(0) and alive(59) and alive(-59)
    assert not alive(61)
    assert not alive(-61), "a compute whose clock runs a minute ahead is not up"


@override_settings(COMPUTE={"report_interval": 10.3, "service_down_time": 10})
def test_the_report_interval_override_truncates_to_whole_seconds_as_nova_does():
    assert conf().effective_service_down_time() == 25.0  # int(10.3 * 2.5) == 25, not 25.75


@pytest.mark.django_db
def test_a_host_whose_heartbeat_is_far_ahead_is_neither_scheduled_nor_left_up(agent, host):
    Host.objects.filter(pk=host.pk).update(last_seen_up=timezone.now() + timedelta(hours=1))
    host.refresh_from_db()
    assert host.status_at() == HostStatus.UNKNOWN
    with pytest.raises(Exception, match="No valid host was found"):
        select_host()
    check_hosts()
    host.refresh_from_db()
    assert host.published_status == HostStatus.UNKNOWN
