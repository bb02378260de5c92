"""The agent's cleanup of the disks a move leaves on its source (``MovedDiskCleanup``)."""

from __future__ import annotations

import pytest

from compute.agent.periodic import MovedDiskCleanup
from compute.models import Instance
from compute.states import VmState

pytestmark = pytest.mark.django_db


def test_only_the_disks_of_guests_confirmed_elsewhere_are_removed(
    make_instance, agent, agent_factory
):
    other = agent_factory("node2")
    confirmed, reverting, mine, busy, unknown = (make_instance("active") for _ in range(5))
    Instance.objects.filter(pk__in=[confirmed.pk, reverting.pk, busy.pk]).update(host=other.host)
    Instance.objects.filter(pk=reverting.pk).update(
        vm_state=VmState.RESIZED, system_metadata={"old_host": "node1"}
    )
    Instance.objects.filter(pk=busy.pk).update(task_state="migrating")
    Instance.objects.filter(pk=unknown.pk).delete()
    orphans = {str(i.uuid) for i in (confirmed, reverting, mine, busy, unknown)}
    removed: list[str] = []
    agent.driver.disks_without_domain = lambda: orphans  # type: ignore[method-assign]
    agent.driver.remove_disks = removed.append  # type: ignore[method-assign]

    MovedDiskCleanup(agent, interval=60)()

    assert removed == [str(confirmed.uuid)]
