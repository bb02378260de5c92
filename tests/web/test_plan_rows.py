"""The host page's plan rows (``dashboard/web/plan_rows.py``): drawn once per situation, each
row still names its own instance, escapes what users typed, speaks the page's language, and the
page reads a fixed number of queries however many instances the host holds."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compute.models import Host
from compute.services import instance_action
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def _row_of(html: str, uuid: str) -> str:
    found = re.search(rf'<tr data-instance="{uuid}".*?</tr>', html, re.S)
    assert found, f"no row for {uuid}"
    return found.group(0)


def test_rows_of_one_situation_each_carry_their_own_instance_in_novas_refusal(
    admin_client, agent_factory, make_instance, alice_ctx
):
    first = make_instance("active", name="first")
    second = make_instance("active", name="second")
    agent_factory("node2")
    for instance in (first, second):
        instance_action(context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="lock")
    html = admin_client.get("/hosts/node1/").content.decode()
    for mine, other in ((first, second), (second, first)):
        row = _row_of(html, str(mine.uuid))
        assert f"Instance {mine.uuid} is locked" in row
        assert str(other.uuid) not in row
        assert f'name="choice-{mine.uuid}"' in row


def test_an_instance_name_is_escaped_in_its_plan_row(admin_client, agent_factory, make_instance):
    instance = make_instance("active", name='<b>"bold" & co</b>')
    agent_factory("node2")
    row = _row_of(admin_client.get("/hosts/node1/").content.decode(), str(instance.uuid))
    assert "<b>" not in row
    assert "&lt;b&gt;&quot;bold&quot; &amp; co&lt;/b&gt;" in row
    assert 'aria-label="Drain choice for &lt;b&gt;&quot;bold&quot; &amp; co&lt;/b&gt;"' in row


def test_the_plan_rows_speak_the_pages_language(admin_client, agent_factory, make_instance):
    instance = make_instance("stopped")
    agent_factory("node2")
    admin_client.cookies["django_language"] = "zh-hans"
    html = admin_client.get("/hosts/node1/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    row = _row_of(html, str(instance.uuid))
    assert "可冷迁移" in row and "冷迁移，然后确认" in row
    # Nova's identifiers stay as Nova spells them in the badges.
    assert ">stopped</span>" in row


def test_the_host_page_reads_as_many_queries_for_many_residents_as_for_one(
    admin_client, agent_factory, make_instance, alice_ctx
):
    make_instance("active", name="one")
    agent_factory("node2")
    admin_client.get("/hosts/node1/")
    with CaptureQueriesContext(connection) as one:
        admin_client.get("/hosts/node1/")
    # node2 is disabled meanwhile, so that the scheduler puts the new instances on node1.
    Host.objects.filter(host="node2").update(disabled=True)
    locked = make_instance("active", name="locked")
    instance_action(context=fresh(alice_ctx), instance_uuid=str(locked.uuid), action="lock")
    for state in ("stopped", "paused", "suspended", "error"):
        make_instance(state, name=state)
    Host.objects.filter(host="node2").update(disabled=False)
    with CaptureQueriesContext(connection) as many:
        html = admin_client.get("/hosts/node1/").content.decode()
    assert html.count("<tr data-instance=") == 6
    assert len(many) == len(one)
