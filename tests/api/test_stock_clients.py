"""The stock clients against a live server: python-openstackclient (the ``openstack`` command,
configured by an ordinary ``clouds.yaml``) and openstacksdk.

The agent of node1 runs in the test, between the commands, so every step is deterministic.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from compute.models import Host, Instance, Project
from tests.conftest import CIRROS

pytestmark = [
    pytest.mark.clients,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:.*:Warning:openstack"),
]

OPENSTACK = shutil.which("openstack", path=str(Path(sys.executable).parent)) or shutil.which(
    "openstack"
)


class Cloud:
    """Runs ``openstack --os-cloud <name> …``, and openstacksdk, against the live server."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def run(self, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess]:
        """``(cloud, *arguments)`` commands, run side by side (each start-up costs seconds)."""
        if OPENSTACK is None:
            pytest.skip("the openstack command is not installed")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(self.config)
        running = [
            subprocess.Popen(
                [OPENSTACK, "--os-cloud", cloud, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for cloud, *args in commands
        ]
        done = []
        for process, command in zip(running, commands, strict=True):
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, (command, err)
            done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
        return done

    def sdk(self, cloud: str) -> Any:
        from openstack.config import OpenStackConfig
        from openstack.connection import Connection

        region = OpenStackConfig(config_files=[str(self.config)]).get_one(cloud=cloud)
        return Connection(config=region)


@pytest.fixture
def cloud(live_server, tmp_path, alice, admin_user) -> Cloud:
    clouds = {
        "clouds": {
            # The ordinary shape: unversioned auth_url, domain names.
            "alice": {
                "auth": {
                    "auth_url": f"{live_server.url}/identity",
                    "username": "alice",
                    "password": "alice-pass",
                    "project_name": "demo",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "identity_api_version": 3,
            },
            # The other common shape: versioned auth_url, domain ids.
            "admin": {
                "auth": {
                    "auth_url": f"{live_server.url}/identity/v3",
                    "username": "admin",
                    "password": "admin-pass",
                    "project_name": "admin",
                    "user_domain_id": "default",
                    "project_domain_id": "default",
                },
                "region_name": "RegionOne",
            },
        }
    }
    config = tmp_path / "clouds.yaml"
    config.write_text(json.dumps(clouds, indent=2))  # JSON is YAML: no YAML library needed
    return Cloud(config)


def test_the_openstack_command_stops_shows_lists_and_disables_a_service(
    cloud, make_instance, agent
):
    web = make_instance("active", name="web")
    db = make_instance("active", name="db")
    # Independent commands run side by side.
    _, show = cloud.run(
        ("alice", "server", "stop", "db"),
        ("admin", "server", "show", str(web.uuid), "-f", "json"),
    )
    shown = json.loads(show.stdout)
    assert shown["status"] == "ACTIVE"
    assert shown["OS-EXT-SRV-ATTR:host"] == "node1"
    assert shown["host_status"] == "UP"
    assert shown["image"] == f"cirros-0.6.2-x86_64-disk ({web.image_id})"
    agent.run_pending()
    assert Instance.objects.get(pk=db.pk).vm_state == "stopped"

    listing, _ = cloud.run(
        ("alice", "server", "list", "--long", "-f", "json"),
        (
            "admin", "compute", "service", "set", "--disable", "--disable-reason",
            "kernel upgrade", "node1", "nova-compute",
        ),
    )  # fmt: skip
    rows = {row["Name"]: row for row in json.loads(listing.stdout)}
    assert rows["db"]["Status"] == "SHUTOFF"
    assert rows["db"]["Power State"] in (4, "Shutdown")
    assert rows["web"]["Status"] == "ACTIVE"
    assert rows["web"]["Task State"] is None
    assert rows["web"]["Image Name"] == "cirros-0.6.2-x86_64-disk"
    assert rows["web"]["Flavor"] == "m1.tiny"
    assert rows["web"]["Networks"]
    # what ``openstack compute service list --long`` shows
    (service,) = list(cloud.sdk("admin").compute.services())
    assert (service.status, service.disabled_reason, service.state) == (
        "disabled", "kernel upgrade", "up"
    )  # fmt: skip


def test_a_refused_action_reaches_the_sdk_as_a_conflict_with_novas_text(cloud, make_instance):
    from openstack.exceptions import ConflictException

    instance = make_instance("stopped", name="web")
    with pytest.raises(ConflictException) as refused:
        cloud.sdk("alice").compute.stop_server(str(instance.uuid))
    assert f"Cannot 'stop' instance {instance.uuid} while it is in vm_state stopped" in str(
        refused.value
    )


def test_openstacksdk_drives_the_lifecycle(cloud, make_instance, agent):
    instance = make_instance("stopped", name="web")
    conn = cloud.sdk("alice")
    compute = conn.compute

    def state() -> tuple[str, str | None]:
        agent.run_pending()
        server = compute.get_server(str(instance.uuid))
        return server.status, server.task_state

    compute.start_server(str(instance.uuid))
    assert state() == ("ACTIVE", None)
    compute.pause_server(str(instance.uuid))
    assert state() == ("PAUSED", None)
    compute.reboot_server(str(instance.uuid), "HARD")
    assert state() == ("ACTIVE", None)
    compute.resize_server(str(instance.uuid), "2")
    assert state() == ("VERIFY_RESIZE", None)
    compute.confirm_server_resize(str(instance.uuid))
    assert state() == ("ACTIVE", None)
    assert compute.get_server(str(instance.uuid)).flavor["original_name"] == "m1.small"
    # what ``openstack server event list`` shows
    actions = [a.action for a in compute.server_actions(str(instance.uuid))]
    assert actions == ["confirmResize", "resize", "reboot", "pause", "start", "stop", "create"]


def test_openstacksdk_creates_a_server(cloud, agent):
    conn = cloud.sdk("alice")
    server = conn.compute.create_server(
        name="fresh", flavor_id="1", image_id=CIRROS, networks="auto"
    )
    assert conn.compute.get_server(server.id).status == "BUILD"
    agent.run_pending()
    assert conn.compute.get_server(server.id).status == "ACTIVE"


def test_the_sdk_enables_and_forces_down_a_service_as_openstack_compute_service_set_does(
    cloud, agent
):
    # What ``compute service set --enable --down`` calls, without a second CLI start-up.
    compute = cloud.sdk("admin").compute
    Host.objects.update(disabled=True, disabled_reason="maintenance")
    (service,) = list(compute.services(host="node1", binary="nova-compute"))
    compute.enable_service(service, "node1", "nova-compute")
    compute.update_service_forced_down(service, "node1", "nova-compute", True)
    host = Host.objects.get(host="node1")
    assert (host.disabled, host.disabled_reason, host.forced_down) == (False, None, True)
    (listed,) = list(compute.services())
    assert (listed.status, listed.state, listed.is_forced_down) == ("enabled", "down", True)


def test_a_member_is_refused_the_compute_services(cloud):
    from openstack.exceptions import ForbiddenException

    with pytest.raises(ForbiddenException) as refused:
        list(cloud.sdk("alice").compute.services())
    assert "os_compute_api:os-services:list" in str(refused.value)


def test_openstack_limits_and_quota_show_and_a_create_beyond_the_quota(cloud, admin_api, agent):
    """``openstack limits show --absolute`` and ``openstack quota show`` read Nova's bodies; a
    create past the instances quota is refused with Nova's 403 text."""
    project = Project.objects.get(name="demo").pk
    set_quota = admin_api.put(
        f"/v2.1/os-quota-sets/{project}", {"quota_set": {"instances": 1}}, format="json"
    )
    assert set_quota.status_code == 200, set_quota.content
    limits, quota = cloud.run(
        ("alice", "limits", "show", "--absolute", "-f", "json"),
        ("alice", "quota", "show", "-f", "json"),
    )
    # The client shows Nova's maxTotalInstances / totalInstancesUsed under the SDK's names.
    absolute = {row["Name"]: row["Value"] for row in json.loads(limits.stdout)}
    assert (absolute["instances"], absolute["instances_used"]) == (1, 0)
    assert (absolute["max_total_cores"], absolute["total_cores_used"]) == (20, 0)
    rows = {r["Resource"]: r["Limit"] for r in json.loads(quota.stdout)}
    assert (rows["instances"], rows["cores"], rows["ram"]) == (1, 20, 51200)
    sdk = cloud.sdk("alice")
    sdk.compute.create_server(name="one", flavor_id="1", image_id=CIRROS, networks="none")
    from openstack.exceptions import ForbiddenException

    with pytest.raises(ForbiddenException) as refused:
        sdk.compute.create_server(name="two", flavor_id="1", image_id=CIRROS, networks="none")
    assert "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances" in str(
        refused.value
    )


def test_the_openstack_command_creates_a_server_on_a_named_network_and_lists_its_ports(
    cloud, agent
):
    """``--network NAME`` resolves through Neutron's /v2.0/networks; ``port list --server``
    reads /v2.0/ports?device_id=…."""
    (created,) = cloud.run(
        ("alice", "server", "create", "--flavor", "1", "--image", CIRROS, "--network",
         "private", "on-private", "-f", "json"),
    )  # fmt: skip
    server = json.loads(created.stdout)
    agent.run_pending()
    address = Instance.objects.get(uuid=server["id"]).addresses["private"][0]["addr"]
    listing, networks = cloud.run(
        ("alice", "port", "list", "--server", "on-private", "-f", "json"),
        ("alice", "network", "list", "-f", "json"),
    )
    (port,) = json.loads(listing.stdout)
    assert port["Fixed IP Addresses"][0]["ip_address"] == address
    assert port["Status"] == "ACTIVE"
    assert [n["Name"] for n in json.loads(networks.stdout)] == ["private"]


def test_the_openstack_command_lists_shows_force_completes_and_aborts_migrations(
    cloud, make_instance, agent, agent_factory, admin_user
):
    """``openstack server migration list / show / force complete / abort`` on live migrations
    the fake hypervisor makes slow, node1's agent running them in a thread meanwhile."""
    import threading
    import time

    from django.db import close_old_connections

    from compute.models import FakeGuest, Migration
    from compute.services import instance_action
    from tests.conftest import context_of

    first = make_instance("active", name="first")
    second = make_instance("active", name="second")
    agent_factory("node2")
    admin = context_of(admin_user, "admin", is_admin=True)
    FakeGuest.objects.update(migration_seconds=60)
    for instance in (first, second):
        instance_action(
            context=admin,
            instance_uuid=str(instance.uuid),
            action="os-migrateLive",
            params={"host": "node2"},
        )

    def run() -> None:
        try:
            agent.run_pending()
        finally:
            close_old_connections()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    deadline = time.monotonic() + 20
    while not Migration.objects.filter(instance=first, status="running").exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    migration = Migration.objects.get(instance=first)
    v = ("--os-compute-api-version", "2.80")
    # By the migration's uuid: python-openstackclient 10.5's show by numeric id passes the
    # server and migration ids to openstacksdk the wrong way round (GET /servers/<migration
    # id>/migrations/<server uuid>), a client bug Nova's API answers with a 404 too.
    listing, shown = cloud.run(
        ("admin", *v, "server", "migration", "list", "--server", str(first.uuid), "-f", "json"),
        (
            "admin",
            *v,
            "server",
            "migration",
            "show",
            str(first.uuid),
            str(migration.uuid),
            "-f",
            "json",
        ),
    )
    (row,) = json.loads(listing.stdout)
    assert (row["Id"], row["Status"], row["Type"]) == (migration.pk, "running", "live-migration")
    assert (row["Source Compute"], row["Dest Compute"]) == ("node1", "node2")
    show = json.loads(shown.stdout)
    assert show["Status"] == "running" and show["Server UUID"] == str(first.uuid)
    assert show["Memory Total Bytes"] == 512 << 20
    assert 0 < show["Memory Processed Bytes"] < show["Memory Total Bytes"]

    # The first is forced to complete, by its uuid; the second, queued behind it, is aborted.
    cloud.run(
        (
            "admin",
            *v,
            "server",
            "migration",
            "force",
            "complete",
            str(first.uuid),
            str(migration.uuid),
        )
    )
    queued = Migration.objects.get(instance=second)
    cloud.run(("admin", *v, "server", "migration", "abort", str(second.uuid), str(queued.pk)))
    worker.join(30)
    assert Migration.objects.get(pk=migration.pk).status == "completed"
    assert Migration.objects.get(pk=queued.pk).status == "cancelled"
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.host.host, second.host.host) == ("node2", "node1")
    assert second.task_state is None and second.vm_state == "active"
