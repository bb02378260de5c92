"""Nova's evacuate: a server of a host that is down is rebuilt on another host, from active,
stopped or error; refused with Nova's texts otherwise. And "evacuate all" from a down host, as a
drain whose every step is an evacuation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from compute.agent.agent import ComputeAgent
from compute.models import DrainJob, Host, Instance, Migration
from compute.services import drains, host_update, instance_action
from tests.api.conftest import at
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def evacuate(api, server: Instance, body: dict | None = None, version: str = "2.68"):
    return api.post(
        f"/v2.1/servers/{server.uuid}/action",
        {"evacuate": body if body is not None else {}},
        format="json",
        **at(version),
    )


@pytest.fixture
def node2(agent_factory: Callable[[str], ComputeAgent]) -> Callable[[], ComputeAgent]:
    return lambda: agent_factory("node2")


def force_down(admin_ctx, name: str = "node1") -> None:
    host_update(context=fresh(admin_ctx), host=Host.objects.get(host=name), forced_down=True)


def test_evacuate_of_a_server_whose_host_is_up_is_novas_400(make_instance, node2, admin_api):
    server = make_instance("active")
    node2()
    response = evacuate(admin_api, server)
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Compute service of node1 is still in use."


@pytest.mark.parametrize("vm_state", ["active", "stopped", "error"])
def test_a_server_of_a_forced_down_host_is_rebuilt_on_another_host(
    make_instance, node2, admin_api, admin_ctx, vm_state
):
    server = make_instance("stopped" if vm_state == "stopped" else "active")
    if vm_state == "error":
        instance_action(
            context=fresh(admin_ctx),
            instance_uuid=str(server.uuid),
            action="os-resetState",
            params={"state": "error"},
        )
    other = node2()
    force_down(admin_ctx)
    response = evacuate(admin_api, server)
    assert response.status_code == 200 and not response.content
    other.run_pending()
    server.refresh_from_db()
    expected = "stopped" if vm_state == "stopped" else "active"
    assert (server.host.host, server.vm_state, server.task_state) == ("node2", expected, None)
    migration = Migration.objects.get(instance=server)
    assert (migration.migration_type, migration.status) == ("evacuation", "done")
    assert (migration.source_compute, migration.dest_compute) == ("node1", "node2")


def test_before_2_14_on_shared_storage_is_required_and_the_password_is_returned(
    make_instance, node2, admin_api, admin_ctx
):
    server = make_instance("active")
    node2()
    force_down(admin_ctx)
    missing = evacuate(admin_api, server, {}, version="2.13")
    assert missing.status_code == 400
    answer = evacuate(admin_api, server, {"onSharedStorage": False, "adminPass": "s3cret"}, "2.13")
    assert answer.status_code == 200 and answer.json() == {"adminPass": "s3cret"}


@pytest.mark.parametrize(
    ("body", "version", "code", "message"),
    [
        ({"host": "node1"}, "2.68", 400, "The target host can't be the same one."),
        ({"host": "nowhere"}, "2.68", 404, "Compute host nowhere not found."),
        ({"force": True}, "2.29", 400, "Can't force to a non-provided destination"),
        ({"force": True, "host": "node2"}, "2.68", 400, None),  # force is gone from 2.68
    ],
)
def test_bad_evacuate_requests_are_refused_with_novas_texts_and_change_nothing(
    make_instance, node2, admin_api, admin_ctx, body, version, code, message
):
    server = make_instance("active")
    node2()
    force_down(admin_ctx)
    response = evacuate(admin_api, server, body, version)
    assert response.status_code == code
    if message is not None:
        assert next(iter(response.json().values()))["message"] == message
    server.refresh_from_db()
    assert server.task_state is None and server.host.host == "node1"
    assert not Migration.objects.exists()


def test_evacuate_of_a_paused_server_is_novas_409_and_members_are_refused(
    make_instance, node2, admin_api, alice_api, admin_ctx
):
    server = make_instance("paused")
    node2()
    force_down(admin_ctx)
    response = evacuate(admin_api, server)
    assert response.status_code == 409
    assert response.json()["conflictingRequest"]["message"] == (
        f"Cannot 'evacuate' instance {server.uuid} while it is in vm_state paused"
    )
    member = evacuate(alice_api, server)
    assert member.status_code == 403
    assert member.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:os-evacuate to be performed."
    )


def test_evacuate_all_from_a_down_host_lands_every_instance_elsewhere_error_included(
    make_instance, node2, admin_api, admin_ctx
):
    servers = [make_instance("active", name=f"vm-{n}") for n in range(3)]
    instance_action(
        context=fresh(admin_ctx),
        instance_uuid=str(servers[2].uuid),
        action="os-resetState",
        params={"state": "error"},
    )
    make_instance("paused", name="paused")
    other = node2()
    force_down(admin_ctx)
    plan = admin_api.get("/v2.1/vmdash/hosts/node1/drain-plan").json()["drain_plan"]
    verdicts = {row["name"]: (row["verdict"], row["default"]) for row in plan["instances"]}
    assert verdicts["vm-2"] == ("evacuate", "evacuate")
    assert verdicts["paused"] == ("cannot-move", "leave")

    job = drains.drain_start(context=fresh(admin_ctx), host=Host.objects.get(host="node1"))
    for _ in range(5):
        other.run_pending()
        drains.advance_all()
    job.refresh_from_db()
    assert job.state == DrainJob.State.DONE
    states = {s.instance.name: s.state for s in job.steps.select_related("instance")}
    assert states == {"vm-0": "done", "vm-1": "done", "vm-2": "done", "paused": "skipped"}
    for server in servers:
        server.refresh_from_db()
        assert (server.host.host, server.vm_state) == ("node2", "active")
