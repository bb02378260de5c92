"""The polling fallback returns the socket's deltas, with the socket's visibility."""

from __future__ import annotations

import pytest

from compute.models import ChangeEvent
from compute.outbox.replay import latest_seq
from compute.services import host_update

pytestmark = pytest.mark.django_db


def test_polling_needs_a_signed_in_user(client):
    assert client.get("/live/poll?since=0").status_code == 401


def test_polling_needs_a_sequence_number(alice_client):
    assert alice_client.get("/live/poll?since=soon").status_code == 400


def test_a_member_polls_the_deltas_of_its_instances_without_the_host(alice_client, make_instance):
    since = latest_seq()
    instance = make_instance("stopped")
    data = alice_client.get(f"/live/poll?since={since}").json()
    deltas = [m["delta"] for m in data["messages"]]
    assert deltas and all(d["id"] == str(instance.uuid) for d in deltas)
    assert all("host" not in d for d in deltas)
    assert [d["version"] for d in deltas] == sorted(d["version"] for d in deltas)
    assert data["seq"] == latest_seq() and data["resync"] is False


def test_a_member_never_polls_another_projects_instances_or_hosts(
    bob_client, make_instance, admin_ctx, host
):
    since = latest_seq()
    make_instance("stopped")
    host_update(context=admin_ctx, host=host, status="disabled", disabled_reason="patching")
    data = bob_client.get(f"/live/poll?since={since}").json()
    assert data["messages"] == []
    assert data["seq"] == latest_seq()


def test_an_admin_polls_everything_including_hosts(admin_client, make_instance, admin_ctx, host):
    since = latest_seq()
    make_instance("active")
    host_update(context=admin_ctx, host=host, forced_down=True)
    kinds = {
        m["delta"]["type"] for m in admin_client.get(f"/live/poll?since={since}").json()["messages"]
    }
    assert kinds == {"instance", "host"}


def test_a_page_older_than_the_outbox_is_told_to_resync(alice_client, make_instance):
    make_instance("active")
    make_instance("active")
    ChangeEvent.objects.filter(id__lte=latest_seq() - 1).delete()
    assert alice_client.get("/live/poll?since=0").json()["resync"] is True
