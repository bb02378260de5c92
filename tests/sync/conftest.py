"""Helpers for the sync tests: instances brought to any vm_state through real actions (or the
state machine, for the states no action reaches without a task), and guests changed behind the
dashboard's back on the fake hypervisor."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone

from compute import state_machine
from compute.agent.agent import ComputeAgent
from compute.context import RequestContext
from compute.drivers.fake import remove_guest, set_guest_state
from compute.models import (
    FakeGuest,
    Flavor,
    Host,
    Image,
    Instance,
    InstanceAction,
    PowerSyncPass,
)
from compute.services import instance_action
from compute.states import PowerState, VmState
from compute.sync import sync_host
from tests.conftest import CIRROS, fresh

P = PowerState
V = VmState


def set_guest_power(instance: Instance, power: int) -> None:
    """Change the instance's guest on the fake hypervisor, as ``fake_guest`` would."""
    guest = FakeGuest.objects.filter(uuid=str(instance.uuid)).first()
    if power == P.NOSTATE:
        if guest is not None:
            remove_guest(guest)
        return
    if guest is None:
        assert instance.host is not None
        guest = FakeGuest(uuid=str(instance.uuid), host=instance.host.host, name=instance.name)
        guest.state = P.NOSTATE
    set_guest_state(guest, power, saved=power == P.SUSPENDED)


def sync_pass(agent: ComputeAgent) -> PowerSyncPass:
    assert agent.host is not None
    return sync_host(host=agent.host, driver=agent.driver)


def system_actions(instance: Instance) -> list[InstanceAction]:
    """The actions the system user (the sync, the watchdog) started on the instance."""
    return list(instance.actions.filter(user_name="system").order_by("id"))


def reloaded(instance: Instance) -> Instance:
    return Instance.objects.select_related("host").get(pk=instance.pk)


def create_without_task(*, name: str, project_id: str, host_id: int | None) -> Instance:
    """An instance in BUILDING with no task: no action path leaves one there, so through the
    state machine directly (the only writer of state columns)."""
    return state_machine.create_instance(
        task_state=None,
        name=name,
        project_id=project_id,
        host_id=host_id,
        flavor=Flavor.objects.get(flavorid="1"),
        image=Image.objects.get(pk=CIRROS),
    )


def bulk_active(count: int, *, project_id: str, host: Host) -> list[Instance]:
    """``count`` ACTIVE instances with RUNNING guests, built through the state machine."""
    flavor = Flavor.objects.get(flavorid="1")
    image = Image.objects.get(pk=CIRROS)
    now = timezone.now()
    made = []
    for i in range(count):
        instance = state_machine.create_instance(
            task_state=None,
            name=f"bulk-{i}",
            project_id=project_id,
            host=host,
            flavor=flavor,
            image=image,
        )
        made.append(
            state_machine.transition(
                instance,
                expected_task_state=None,
                vm_state=V.ACTIVE,
                power_state=P.RUNNING,
                launched_at=now,
            )
        )
    FakeGuest.objects.bulk_create(
        FakeGuest(uuid=str(i.uuid), host=host.host, name=i.name, state=P.RUNNING) for i in made
    )
    return made


@pytest.fixture
def instance_in(
    make_instance: Callable[..., Instance],
    agent: ComputeAgent,
    alice_ctx: RequestContext,
    admin_ctx: RequestContext,
    settings: object,
) -> Callable[[str], Instance]:
    """An instance of alice's in ``vm_state`` with no task, on node1, through real actions."""

    def make(vm_state: str, *, name: str = "vm") -> Instance:
        compute = dict(settings.COMPUTE)  # type: ignore[attr-defined]
        if vm_state == V.BUILDING:
            assert agent.host is not None
            instance = create_without_task(
                name=name, project_id=alice_ctx.project_id or "", host_id=agent.host.pk
            )
            return reloaded(instance)
        if vm_state == V.ERROR:
            instance = make_instance("active", name=name)
            instance_action(
                context=fresh(admin_ctx),
                instance_uuid=str(instance.uuid),
                action="os-resetState",
                params={"state": "error"},
            )
            return reloaded(instance)
        if vm_state == V.SHELVED:
            settings.COMPUTE = {**compute, "shelved_offload_time": -1}  # type: ignore[attr-defined]
            instance = make_instance("active", name=name)
            instance_action(
                context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="shelve"
            )
            agent.run_pending()
            settings.COMPUTE = compute  # type: ignore[attr-defined]
            return reloaded(instance)
        if vm_state == V.SOFT_DELETED:
            settings.COMPUTE = {**compute, "reclaim_instance_interval": 3600}  # type: ignore[attr-defined]
            instance = make_instance("active", name=name)
            instance_action(
                context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="delete"
            )
            agent.run_pending()
            settings.COMPUTE = compute  # type: ignore[attr-defined]
            return reloaded(instance)
        instance = make_instance(vm_state, name=name)
        return reloaded(instance)

    return make
