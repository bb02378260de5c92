"""The pass records: kept per host up to ``PASSES_KEPT``, pruned apart from the passes (by the
watchdog every few minutes, by ``sync_power_states`` after each round) in one statement."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compute import watchdog
from compute.models import Host, PowerSyncPass
from compute.sync import history, prune_passes
from tests.sync.conftest import sync_pass

pytestmark = pytest.mark.django_db


def passes(host: Host, count: int) -> list[PowerSyncPass]:
    """``count`` records of ``host``, one a minute, the newest last."""
    now = timezone.now()
    return PowerSyncPass.objects.bulk_create(
        PowerSyncPass(host=host, started_at=now - timedelta(minutes=count - n))
        for n in range(count)
    )


def test_pruning_keeps_the_newest_records_of_every_host_in_one_statement(agent_factory):
    one, two, three = (agent_factory(f"node{n}").host for n in (1, 2, 3))
    assert one and two and three
    made = {h.pk: passes(h, n) for h, n in ((one, 8), (two, 5), (three, 2))}

    with CaptureQueriesContext(connection) as captured:
        pruned = prune_passes(keep=5)

    assert pruned == 3
    assert len(captured.captured_queries) == 1
    kept = set(PowerSyncPass.objects.values_list("pk", flat=True))
    assert kept == {r.pk for r in made[one.pk][-5:] + made[two.pk] + made[three.pk]}


def test_a_pass_does_not_prune(agent, monkeypatch):
    monkeypatch.setattr(history, "PASSES_KEPT", 3)
    assert agent.host is not None
    passes(agent.host, 5)

    sync_pass(agent)

    assert PowerSyncPass.objects.filter(host=agent.host).count() == 6


def test_the_watchdog_prunes_at_most_once_per_spacing(agent, monkeypatch):
    monkeypatch.setattr(history, "PASSES_KEPT", 3)
    monkeypatch.setattr(watchdog, "_next_sync_passes_prune", 0.0)
    assert agent.host is not None
    passes(agent.host, 5)

    assert watchdog.run_once()["sync_passes_pruned"] == 2
    passes(agent.host, 2)
    assert watchdog.run_once()["sync_passes_pruned"] == 0  # not again so soon

    monkeypatch.setattr(watchdog, "_next_sync_passes_prune", 0.0)  # the spacing has passed
    assert watchdog.prune_sync_passes() == 2
    assert PowerSyncPass.objects.count() == 3


def test_each_round_of_the_command_prunes(agent, monkeypatch):
    monkeypatch.setattr(history, "PASSES_KEPT", 3)
    assert agent.host is not None
    passes(agent.host, 5)

    call_command("sync_power_states", "--once", stdout=io.StringIO(), stderr=io.StringIO())

    newest = PowerSyncPass.objects.filter(host=agent.host).order_by("-started_at", "-id")
    assert newest.count() == 3
    # the command's own pass is the newest, and kept
    assert newest.first().started_at > timezone.now() - timedelta(minutes=1)


def test_records_keep_what_the_pass_saw_exactly_as_it_saw_it(instance_in, agent):
    from compute.states import PowerState, VmState
    from tests.sync.conftest import set_guest_power

    instance = instance_in(VmState.ACTIVE, name='db «primary» "eu" \\ 1')
    set_guest_power(instance, PowerState.PAUSED)

    record = sync_pass(agent)

    stored = PowerSyncPass.objects.get(pk=record.pk)
    assert stored.host_id == record.host_id
    assert stored.started_at == record.started_at
    assert stored.duration_ms == record.duration_ms
    assert (stored.checked, stored.changes, stored.unknown_guests, stored.error) == (
        record.checked,
        record.changes,
        record.unknown_guests,
        record.error,
    )
    assert stored.changes[0]["name"] == 'db «primary» "eu" \\ 1'


def test_an_error_record_keeps_the_drivers_words(agent, monkeypatch):
    def broken() -> dict[str, int]:
        raise RuntimeError("can't reach 'qemu:///system' — «timeout»")

    monkeypatch.setattr(agent.driver, "list_power_states", broken)

    record = sync_pass(agent)

    assert (
        PowerSyncPass.objects.get(pk=record.pk).error == "can't reach 'qemu:///system' — «timeout»"
    )
