"""The host page in Simplified Chinese: the power sync's lines and the maintenance log are put
into words in the page's language when shown, keeping Nova's identifiers (power states,
host_status values) as they are."""

from __future__ import annotations

import pytest

from compute.drivers.fake import set_guest_state
from compute.models import FakeGuest
from compute.states import PowerState
from compute.sync import sync_host

pytestmark = pytest.mark.django_db


def test_the_sync_and_the_maintenance_log_read_in_chinese(admin_client, agent, make_instance):
    instance = make_instance("active", name="web-1")
    set_guest_state(FakeGuest.objects.get(uuid=str(instance.uuid)), PowerState.SHUTDOWN)
    sync_host(host=agent.host, driver=agent.driver)
    admin_client.post("/hosts/node1/update/", {"op": "disable", "reason": "内核升级"})
    html = admin_client.get("/hosts/node1/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "web-1: 电源 running → shutdown" in html
    log = html[html.index('id="audit-log"') :]
    assert "host_status UP → MAINTENANCE" in log  # Nova's values, kept
    assert "已禁用 否 → 是" in log and "原因 — → 内核升级" in log
    assert ">禁用<" in log and "已更改" in log  # the operation and its outcome
    english = admin_client.get("/hosts/node1/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "web-1: power running → shutdown" in english and "disabled no → yes" in english
