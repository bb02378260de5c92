"""A host that comes back after its instances were evacuated destroys their old guests (Nova's
``_destroy_evacuated_instances``), so two copies never run, and completes the records; a guest
whose instance lives on this host again is kept.

The fake hypervisor holds one guest per instance, so it cannot itself model the old copy left
on a dead host: the returning host's driver is told it still lists the guest, and what it is
asked to destroy is recorded (a real host's old copy: tests/guests/test_guest_drain.py)."""

from __future__ import annotations

import pytest

from compute.agent.agent import ComputeAgent
from compute.drivers.fake import FakeDriver
from compute.models import Host, Migration
from compute.services import host_update, instance_action
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


class LeftBehind(FakeDriver):
    """The returning host's hypervisor, still holding the old copy of ``uuids``."""

    def __init__(self, *, host: str, uuids: set[str]) -> None:
        super().__init__(host=host)
        self.left = set(uuids)
        self.destroyed: list[str] = []

    def list_power_states(self) -> dict[str, int]:
        return {**super().list_power_states(), **dict.fromkeys(self.left, 1)}

    def destroy(self, uuid: str) -> None:
        self.destroyed.append(uuid)
        self.left.discard(uuid)


def evacuated(make_instance, agent_factory, admin_ctx):
    server = make_instance("active")
    node2 = agent_factory("node2")
    node1 = Host.objects.get(host="node1")
    host_update(context=fresh(admin_ctx), host=node1, forced_down=True)
    instance_action(context=fresh(admin_ctx), instance_uuid=str(server.uuid), action="evacuate")
    node2.run_pending()
    host_update(context=fresh(admin_ctx), host=node1, forced_down=False)
    return server, node2


def test_the_returning_host_destroys_the_evacuated_guest_and_completes_the_record(
    make_instance, agent_factory, admin_ctx
):
    server, _ = evacuated(make_instance, agent_factory, admin_ctx)
    assert Migration.objects.get(instance=server).status == "done"
    driver = LeftBehind(host="node1", uuids={str(server.uuid)})
    returning = ComputeAgent(host="node1", driver=driver)
    returning.register()
    returning.recover()
    assert driver.destroyed == [str(server.uuid)]
    assert Migration.objects.get(instance=server).status == "completed"
    server.refresh_from_db()
    assert (server.host.host, server.vm_state) == ("node2", "active")
    # Once completed, a later start leaves everything be.
    driver.left.add(str(server.uuid))
    returning.recover()
    assert driver.destroyed == [str(server.uuid)]


def test_a_guest_whose_instance_lives_here_again_is_kept(make_instance, agent_factory, admin_ctx):
    server, _ = evacuated(make_instance, agent_factory, admin_ctx)
    # It came back (a later move): the database places it on node1 again.
    server.__class__.objects.filter(pk=server.pk).update(host=Host.objects.get(host="node1"))
    driver = LeftBehind(host="node1", uuids={str(server.uuid)})
    returning = ComputeAgent(host="node1", driver=driver)
    returning.register()
    returning.recover()
    assert driver.destroyed == []
    assert Migration.objects.get(instance=server).status == "completed"
