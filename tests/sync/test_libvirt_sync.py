"""The sync and the lifecycle events against libvirt's test hypervisor, in process.

``test:///default`` keeps its guests inside the process that opened it, so the agent's driver
and the "out-of-band" changes (a second connection, as ``virsh`` would be) both live here. The
node file ``tests/fixtures/libvirt-node.xml`` gives a host with guests in every libvirt state,
including CRASHED and PMSUSPENDED, which ``test:///default`` cannot reach.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from compute import state_machine, sync
from compute.agent import periodic
from compute.agent.agent import ComputeAgent
from compute.context import RequestContext
from compute.models import Flavor, Image, Instance, Project
from compute.services import instance_action, instance_create
from compute.states import PowerState, VmState
from compute.sync.lifecycle import LifecycleListener
from tests.conftest import CIRROS, fresh
from tests.sync.conftest import reloaded, system_actions

pytestmark = [pytest.mark.libvirt, pytest.mark.django_db]

libvirt = pytest.importorskip("libvirt")

from compute.drivers.libvirt import LibvirtDriver  # noqa: E402

P = PowerState
V = VmState
NODE_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "libvirt-node.xml"
TEST_NS = "{http://libvirt.org/schemas/domain/test/1.0}"
#: reference §9, written out here: VIR_DOMAIN_* → Nova power_state.
POWER_OF_DOMAIN_STATE = {0: 0, 1: 1, 2: 1, 3: 3, 4: 4, 5: 4, 6: 6, 7: 7}


@pytest.fixture
def lv_agent(db: None) -> Iterator[ComputeAgent]:
    agent = ComputeAgent(
        host="lv-sync", driver=LibvirtDriver(host="lv-sync", uri="test:///default")
    )
    agent.register()
    agent.heartbeat()
    yield agent
    agent.driver.close()


@pytest.fixture
def hypervisor() -> Iterator[object]:
    """Another connection to the same test hypervisor: changes behind the dashboard's back."""
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


@pytest.fixture
def lv_instance(
    lv_agent: ComputeAgent, alice_ctx: RequestContext, admin_ctx: RequestContext
) -> Iterator[Callable[[str], Instance]]:
    """An instance on the libvirt host brought to ``vm_state`` through real actions."""
    made: list[Instance] = []
    paths = {
        V.ACTIVE: [],
        V.STOPPED: [("stop", {})],
        V.PAUSED: [("pause", {})],
        V.SUSPENDED: [("suspend", {})],
        V.ERROR: [("os-resetState", {"state": "error"})],
    }

    def make(vm_state: str) -> Instance:
        instance = instance_create(
            context=fresh(alice_ctx), name=f"lv-{vm_state}", flavor_ref="1", image_ref=CIRROS
        )
        lv_agent.run_pending()
        for action, params in paths[vm_state]:
            ctx = admin_ctx if action == "os-resetState" else alice_ctx
            instance_action(
                context=fresh(ctx), instance_uuid=str(instance.uuid), action=action, params=params
            )
            lv_agent.run_pending()
        instance = reloaded(instance)
        assert instance.host_id == lv_agent.host.pk  # type: ignore[union-attr]
        assert (instance.vm_state, instance.task_state) == (vm_state, None)
        made.append(instance)
        return instance

    yield make
    for instance in made:
        lv_agent.driver.destroy(str(instance.uuid))


def out_of_band(conn: object, instance: Instance, change: str) -> None:
    dom = conn.lookupByUUIDString(str(instance.uuid))  # type: ignore[attr-defined]
    if change == "shutdown":
        dom.destroy()
    elif change == "start":
        dom.create()
    elif change == "pause":
        dom.suspend()
    elif change == "vanish":
        if dom.isActive():
            dom.destroy()
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)


def one_pass(agent: ComputeAgent):
    record = sync.sync_host(host=agent.host_name, driver=agent.driver)
    assert record.error == ""
    return record


ROWS = [
    pytest.param(V.ACTIVE, "shutdown", P.SHUTDOWN, "stop", V.STOPPED, id="active+shutoff→stop"),
    pytest.param(V.ACTIVE, "pause", P.PAUSED, None, V.ACTIVE, id="active+paused→ignored"),
    pytest.param(V.ACTIVE, "vanish", P.NOSTATE, None, V.ACTIVE, id="active+undefined→logged"),
    pytest.param(V.STOPPED, "start", P.RUNNING, "forceStop", V.STOPPED, id="stopped+running"),
    pytest.param(V.PAUSED, "shutdown", P.SHUTDOWN, "forceStop", V.STOPPED, id="paused+shutoff"),
    pytest.param(V.SUSPENDED, "start", P.RUNNING, None, V.SUSPENDED, id="suspended→power-only"),
    pytest.param(V.ERROR, "shutdown", P.SHUTDOWN, None, V.ERROR, id="error→power-only"),
]


@pytest.mark.parametrize(("vm_state", "change", "power", "correction", "final"), ROWS)
def test_one_pass_over_libvirt_applies_novas_decision_table(
    lv_agent, lv_instance, hypervisor, vm_state, change, power, correction, final
):
    instance = lv_instance(vm_state)
    out_of_band(hypervisor, instance, change)

    record = one_pass(lv_agent)

    synced = reloaded(instance)
    assert synced.power_state == power
    actions = system_actions(instance)
    assert [a.action for a in actions] == (["stop"] if correction else [])
    mine = [c for c in record.changes if c["instance"] == str(instance.uuid)]
    assert [c["action"] for c in mine] == [correction]

    lv_agent.run_pending()
    done = reloaded(instance)
    assert (done.vm_state, done.task_state) == (final, None)
    if correction:
        assert done.power_state == P.SHUTDOWN
        assert lv_agent.driver.get_power_state(str(instance.uuid)) == P.SHUTDOWN


def test_an_action_that_starts_during_a_libvirt_pass_wins(
    lv_agent, lv_instance, hypervisor, alice_ctx, monkeypatch
):
    instance = lv_instance(V.ACTIVE)
    out_of_band(hypervisor, instance, "shutdown")
    real_write = state_machine.set_power_states

    def user_acts_first(*, host_id, changes):
        instance_action(
            context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="reboot_hard"
        )
        return real_write(host_id=host_id, changes=changes)

    monkeypatch.setattr(state_machine, "set_power_states", user_acts_first)
    one_pass(lv_agent)
    monkeypatch.undo()

    assert reloaded(instance).power_state == P.RUNNING
    assert system_actions(instance) == []
    lv_agent.run_pending()
    assert reloaded(instance).vm_state == V.ACTIVE
    assert lv_agent.driver.get_power_state(str(instance.uuid)) == P.RUNNING


# --- lifecycle events from libvirt's event loop ---------------------------------------------


@pytest.fixture
def listener(lv_agent, settings) -> LifecycleListener:
    settings.COMPUTE = {**settings.COMPUTE, "lifecycle_stopped_delay": 0.2}
    periodic.attach(lv_agent, interval=-1)
    (deliver,) = [job for _, job in lv_agent.periodic]
    return deliver.__self__  # type: ignore[attr-defined]


def wait_for_events(listener: LifecycleListener, count: int) -> None:
    deadline = time.monotonic() + 5
    while listener.pending < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert listener.pending >= count


def test_a_libvirt_stopped_event_stops_the_instance_once_the_delay_has_passed(
    lv_agent, lv_instance, hypervisor, listener
):
    instance = lv_instance(V.ACTIVE)
    listener.due()  # forget the events of the build

    out_of_band(hypervisor, instance, "shutdown")
    wait_for_events(listener, 1)
    listener.deliver_due()
    assert system_actions(instance) == []  # held for the delay
    time.sleep(0.25)
    listener.deliver_due()

    assert [a.action for a in system_actions(instance)] == ["stop"]
    lv_agent.run_pending()
    assert reloaded(instance).vm_state == V.STOPPED


def test_a_libvirt_reboot_seen_as_stopped_then_started_is_not_a_stop(
    lv_agent, lv_instance, hypervisor, listener
):
    instance = lv_instance(V.ACTIVE)
    listener.due()

    out_of_band(hypervisor, instance, "shutdown")
    out_of_band(hypervisor, instance, "start")
    time.sleep(0.4)
    listener.deliver_due()

    assert system_actions(instance) == []
    assert reloaded(instance).vm_state == V.ACTIVE


# --- a host with guests in every libvirt state ----------------------------------------------


def node_domains() -> dict[str, int]:
    root = ET.parse(NODE_FILE).getroot()
    return {
        dom.findtext("uuid") or "": int(dom.findtext(f"{TEST_NS}runstate") or 0)
        for dom in root.iterfind("domain")
        if dom.findtext("uuid")
    }


def test_one_pass_over_a_host_with_guests_in_every_libvirt_state(db):
    agent = ComputeAgent(
        host="lv-node", driver=LibvirtDriver(host="lv-node", uri=f"test://{NODE_FILE}")
    )
    host = agent.register()
    agent.heartbeat()
    project = Project.objects.create(name="lv-node")
    flavor, image = Flavor.objects.get(flavorid="1"), Image.objects.get(pk=CIRROS)
    domains = node_domains()
    instances = {}
    for uuid in domains:  # every guest an ACTIVE instance the database believes is running
        created = state_machine.create_instance(
            task_state=None,
            uuid=uuid,
            name=uuid[:8],
            project=project,
            host=host,
            flavor=flavor,
            image=image,
        )
        instances[uuid] = state_machine.transition(
            created, expected_task_state=None, vm_state=V.ACTIVE, power_state=P.RUNNING,
            launched_at=timezone.now(),
        )  # fmt: skip
    try:
        record = one_pass(agent)

        assert record.checked == 50
        assert record.unknown_guests == []  # the two domains that are not uuids are not ours
        stopped = {c["instance"] for c in record.changes if c["action"] == "stop"}
        for uuid, state in domains.items():
            power = POWER_OF_DOMAIN_STATE[state]
            assert reloaded(instances[uuid]).power_state == power, uuid
            should_stop = power in (P.SHUTDOWN, P.CRASHED, P.SUSPENDED)
            assert (uuid in stopped) == should_stop, (uuid, state)
        agent.run_pending()
        for uuid in stopped:
            assert reloaded(instances[uuid]).vm_state == V.STOPPED
    finally:
        agent.driver.close()
