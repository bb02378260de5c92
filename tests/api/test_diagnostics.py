"""Diagnostics from the drivers: the fake's deterministic load model, the agent's bounded
samples for the charts, ``GET /servers/{id}/diagnostics`` in Nova's 2.48 format (checked
against the format's JSON schema, written from Nova's API reference), and the charts' data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import jsonschema
import pytest
from django.utils import timezone

from compute.consoles import hub
from compute.diagnostics import SAMPLES_KEPT, sample_host
from compute.models import FakeGuest, InstanceSample
from compute.states import PowerState
from tests.api.conftest import at
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db

INT = {"type": ["integer", "null"]}
STANDARD_2_48 = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "state",
        "driver",
        "hypervisor",
        "hypervisor_os",
        "uptime",
        "config_drive",
        "num_cpus",
        "num_nics",
        "num_disks",
        "memory_details",
        "cpu_details",
        "nic_details",
        "disk_details",
    ],
    "properties": {
        "state": {"enum": ["pending", "running", "paused", "shutdown", "crashed", "suspended"]},
        "driver": {"enum": ["libvirt", "xenapi", "vmwareapi", "ironic", "hyperv"]},
        "hypervisor": {"type": ["string", "null"]},
        "hypervisor_os": {"type": ["string", "null"]},
        "uptime": INT,
        "config_drive": {"type": "boolean"},
        "num_cpus": {"type": "integer"},
        "num_nics": {"type": "integer"},
        "num_disks": {"type": "integer"},
        "memory_details": {
            "type": "object",
            "additionalProperties": False,
            "required": ["maximum", "used"],
            "properties": {"maximum": INT, "used": INT},
        },
        "cpu_details": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "time", "utilisation"],
                "properties": {"id": INT, "time": INT, "utilisation": INT},
            },
        },
        "nic_details": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "mac_address",
                    "rx_octets",
                    "rx_errors",
                    "rx_drop",
                    "rx_packets",
                    "rx_rate",
                    "tx_octets",
                    "tx_errors",
                    "tx_drop",
                    "tx_packets",
                    "tx_rate",
                ],
                "properties": {
                    "mac_address": {"type": "string", "pattern": "^([a-f0-9]{2}:){5}[a-f0-9]{2}$"},
                    **{
                        k: INT
                        for k in (
                            "rx_octets",
                            "rx_errors",
                            "rx_drop",
                            "rx_packets",
                            "rx_rate",
                            "tx_octets",
                            "tx_errors",
                            "tx_drop",
                            "tx_packets",
                            "tx_rate",
                        )
                    },
                },
            },
        },
        "disk_details": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "read_bytes",
                    "read_requests",
                    "write_bytes",
                    "write_requests",
                    "errors_count",
                ],
                "properties": {
                    k: INT
                    for k in (
                        "read_bytes",
                        "read_requests",
                        "write_bytes",
                        "write_requests",
                        "errors_count",
                    )
                },
            },
        },
    },
}


@pytest.fixture
def consoles(agent) -> Iterator[hub.ConsoleHost]:
    served = hub.serve(agent.host_name, agent.driver)
    yield served
    hub.unserve(agent.host_name, served)


def test_the_fake_guests_counters_grow_while_it_runs_and_stand_still_when_stopped(
    agent, make_instance, alice_ctx
):
    from compute.services import instance_action
    from tests.conftest import fresh

    instance = make_instance("active")
    uuid = str(instance.uuid)
    FakeGuest.objects.filter(uuid=uuid).update(booted_at=timezone.now() - timedelta(hours=1))
    first = agent.driver.get_diagnostics(uuid)
    assert first.state == PowerState.RUNNING and 3590 <= first.uptime <= 3610
    assert 0 < first.memory_used_mb <= first.memory_maximum_mb == 512
    assert first.cpu_ns > 0 and first.disk_details[0].read_bytes > 0
    time.sleep(0.05)
    second = agent.driver.get_diagnostics(uuid)
    assert second.cpu_ns >= first.cpu_ns
    assert second.nic_details[0].rx_octets >= first.nic_details[0].rx_octets
    instance_action(context=fresh(alice_ctx), instance_uuid=uuid, action="stop")
    agent.run_pending()
    stopped = agent.driver.get_diagnostics(uuid)
    assert (stopped.state, stopped.uptime, stopped.memory_used_mb) == (PowerState.SHUTDOWN, 0, 0)
    time.sleep(0.05)
    assert agent.driver.get_diagnostics(uuid).cpu_ns == stopped.cpu_ns


def test_the_agent_samples_running_guests_only_and_keeps_an_hour(agent, make_instance):
    running = make_instance("active", name="on")
    make_instance("stopped", name="off")
    previous: dict = {}
    assert sample_host(host="node1", driver=agent.driver, previous=previous) == 0  # a baseline
    time.sleep(0.05)
    assert sample_host(host="node1", driver=agent.driver, previous=previous) == 1
    sample = InstanceSample.objects.get()
    assert sample.instance_id == running.pk
    assert 0 <= sample.cpu_percent <= 100 and sample.memory_maximum_mb == 512
    assert sample.disk_read_bps > 0 and sample.net_rx_bps > 0
    InstanceSample.objects.update(at=timezone.now() - timedelta(seconds=SAMPLES_KEPT + 1))
    time.sleep(0.05)
    sample_host(host="node1", driver=agent.driver, previous=previous)
    assert InstanceSample.objects.count() == 1  # the old one went, the new one came


def test_diagnostics_are_the_drivers_in_the_2_48_format(admin_api, make_instance, consoles):
    instance = make_instance("active")
    response = admin_api.get(f"/v2.1/servers/{instance.uuid}/diagnostics", **at("2.48"))
    assert response.status_code == 200
    body = response.json()
    jsonschema.validate(body, STANDARD_2_48)
    assert body["state"] == "running" and body["hypervisor"] == "fake"
    assert body["num_nics"] == 1 and body["nic_details"][0]["rx_octets"] > 0
    assert body["cpu_details"][0]["time"] > 0 and body["memory_details"]["used"] > 0


def test_before_2_48_the_libvirt_style_dictionary(admin_api, make_instance, consoles):
    instance = make_instance("active")
    body = admin_api.get(f"/v2.1/servers/{instance.uuid}/diagnostics", **at("2.47")).json()
    assert body["memory"] == 512 * 1024
    assert body["cpu0_time"] > 0 and body["vda_read"] > 0 and body["tap0_rx"] > 0


def test_an_unreachable_host_is_answered_from_the_flavor(admin_api, make_instance):
    instance = make_instance("active")
    body = admin_api.get(f"/v2.1/servers/{instance.uuid}/diagnostics", **at("2.48")).json()
    jsonschema.validate(body, STANDARD_2_48)
    assert body["memory_details"] == {"maximum": 512, "used": 0}


def test_the_charts_data_is_the_instances_samples_for_its_projects_only(
    agent, make_instance, alice, bob
):
    alice_client, bob_client = signed_in(alice), signed_in(bob)
    instance = make_instance("active")
    previous: dict = {}
    sample_host(host="node1", driver=agent.driver, previous=previous)
    time.sleep(0.05)
    sample_host(host="node1", driver=agent.driver, previous=previous)
    body = alice_client.get(f"/instances/{instance.uuid}/samples/").json()
    assert body["interval"] == 10.0
    [row] = body["samples"]
    assert len(row) == 8 and row[3] == 512
    assert (
        alice_client.get(f"/instances/{instance.uuid}/samples/?since={row[0]}").json()["samples"]
        == []
    )
    assert alice_client.get(f"/instances/{instance.uuid}/samples/?since=x").status_code == 400
    assert bob_client.get(f"/instances/{instance.uuid}/samples/").status_code == 404
