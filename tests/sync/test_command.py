"""``manage.py sync_power_states``: the same pass as the agent's, from the command line."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from compute.models import PowerSyncPass
from compute.services.hosts import host_register
from compute.states import PowerState, VmState
from tests.sync.conftest import reloaded, set_guest_power, system_actions

pytestmark = pytest.mark.django_db

P = PowerState
V = VmState


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("sync_power_states", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_once_with_json_prints_the_recorded_pass(instance_in, agent):
    instance = instance_in(V.ACTIVE, name="web-1")
    set_guest_power(instance, P.SHUTDOWN)

    (printed,) = json.loads(run("--once", "--json"))

    record = PowerSyncPass.objects.get()
    assert printed["host"] == "node1"
    assert printed["checked"] == record.checked == 1
    assert printed["started_at"] == record.started_at.isoformat()
    assert printed["error"] == ""
    assert printed["unknown_guests"] == []
    (change,) = printed["changes"]
    assert change["instance"] == str(instance.uuid)
    assert change["power_state"] == [P.RUNNING, P.SHUTDOWN]
    assert change["action"] == "stop"
    # The correction is a real action: the agent runs it.
    assert [a.action for a in system_actions(instance)] == ["stop"]
    agent.run_pending()
    assert reloaded(instance).vm_state == V.STOPPED


def test_once_without_json_prints_a_readable_summary(instance_in, agent):
    instance = instance_in(V.STOPPED, name="db-1")
    set_guest_power(instance, P.RUNNING)

    text = run("--once")

    assert "node1: 1 instance(s) checked" in text
    assert "db-1" in text
    assert "power shutdown → running, forceStop requested" in text


def test_only_the_named_hosts_are_synced(agent_factory):
    agent_factory("node1")
    agent_factory("node2")

    printed = json.loads(run("--once", "--json", "--host", "node2"))

    assert [p["host"] for p in printed] == ["node2"]
    assert list(PowerSyncPass.objects.values_list("host__host", flat=True)) == ["node2"]


def test_every_host_is_synced_by_default(agent_factory):
    agent_factory("node1")
    agent_factory("node2")

    printed = json.loads(run("--once", "--json"))

    assert sorted(p["host"] for p in printed) == ["node1", "node2"]


def test_an_unknown_host_is_refused(agent):
    with pytest.raises(CommandError, match="not found: nope"):
        run("--once", "--host", "nope")


def test_a_libvirt_test_hypervisor_host_is_skipped_unless_a_uri_is_given(agent):
    host_register(host="lv-1", driver="libvirt", driver_uri="test:///default")
    err = io.StringIO()

    call_command("sync_power_states", "--once", "--json", stdout=io.StringIO(), stderr=err)

    assert "Skipping lv-1" in err.getvalue()
    assert not PowerSyncPass.objects.filter(host__host="lv-1").exists()


def test_a_negative_interval_disables_the_loop(agent):
    assert "disabled" in run("--interval", "-1")
    assert not PowerSyncPass.objects.exists()


@pytest.mark.parametrize("chunk", ["1", "100"], ids=["host by host", "in chunks"])
def test_a_failing_driver_makes_once_exit_with_an_error(agent, monkeypatch, chunk):
    from compute.drivers.fake import FakeDriver

    def broken(*_: object) -> dict[str, int]:
        raise RuntimeError("hypervisor not ready")

    monkeypatch.setattr(FakeDriver, "list_power_states", broken)
    monkeypatch.setattr(FakeDriver, "list_power_states_of_hosts", staticmethod(broken))
    with pytest.raises(CommandError, match="failed on: node1"):
        run("--once", "--chunk", chunk)
    assert PowerSyncPass.objects.get().error == "hypervisor not ready"


def test_hosts_are_synced_in_chunks_with_a_record_each(agent_factory, instance_in):
    instance = instance_in(V.ACTIVE, name="web-1")  # on node1
    agent_factory("node2")
    agent_factory("node3")
    set_guest_power(instance, P.PAUSED)

    printed = json.loads(run("--once", "--json", "--chunk", "2"))

    assert [p["host"] for p in printed] == ["node1", "node2", "node3"]
    assert [len(p["changes"]) for p in printed] == [1, 0, 0]
    assert reloaded(instance).power_state == P.PAUSED
    records = PowerSyncPass.objects.order_by("host__host")
    assert [r.host.host for r in records] == ["node1", "node2", "node3"]
    assert records[0].started_at == records[1].started_at != records[2].started_at


def test_a_chunk_below_one_is_refused(agent):
    with pytest.raises(CommandError, match="at least 1"):
        run("--once", "--chunk", "0")


@pytest.mark.django_db(transaction=True)  # the loop closes stale connections between rounds
def test_the_loop_runs_a_pass_every_interval(agent):
    printed = run("--interval", "0.01", "--count", "3", "--json").splitlines()

    assert len(printed) == 3  # one JSON line per round
    assert [json.loads(line)[0]["host"] for line in printed] == ["node1"] * 3
    assert PowerSyncPass.objects.count() == 3
