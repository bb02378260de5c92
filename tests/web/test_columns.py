"""The instances list's column chooser: the chosen columns are the URL's (``cols``), kept by a
saved view, followed by the CSV export, and never more than the caller may see."""

from __future__ import annotations

import csv
import io
import re

import pytest

from dashboard.models import SavedView

pytestmark = pytest.mark.django_db


def headers(page: str) -> list[str]:
    """The list table's column headers (their text), in order."""
    head = re.search(r"<table class=\"table table-instances\".*?<thead>(.*?)</thead>", page, re.S)
    cells = re.findall(r"<th[^>]*>(.*?)</th>", head.group(1), re.S)
    return [re.sub(r"<[^>]+>|[▲▼]", "", c).strip() for c in cells]


def export_headers(client, query: str) -> list[str]:
    body = b"".join(client.get(f"/instances/export.csv?{query}").streaming_content).decode()
    return next(csv.reader(io.StringIO(body)))


def test_without_a_choice_every_column_the_caller_may_see_is_shown(alice_client, make_instance):
    make_instance("active", name="vm")
    page = alice_client.get("/instances/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert headers(page) == [
        "",
        "Name",
        "Status",
        "vm_state",
        "task_state",
        "power_state",
        "Created",
    ]
    assert page.count('name="cols"') == 5  # the chooser offers the five, all checked
    assert page.count('name="cols" value') == page.count("checked>")


def test_the_urls_columns_are_shown_in_the_tables_order_and_the_rows_follow(
    alice_client, make_instance
):
    make_instance("active", name="vm")
    page = alice_client.get("/instances/?cols=power_state,status").content.decode()
    assert headers(page) == ["", "Name", "Status", "power_state"]
    row = re.search(r"<tr data-instance=.*?</tr>", page, re.S).group(0)
    assert 'data-bind="status"' in row and 'data-bind="power_state"' in row
    assert 'data-bind="vm_state"' not in row and 'data-bind="task_state"' not in row
    # The sort links, the pages and the export keep the choice.
    assert "cols=power_state%2Cstatus" in page or "cols=power_state,status" in page
    assert export_headers(alice_client, "cols=power_state,status") == [
        "name", "id", "status", "power_state"
    ]  # fmt: skip


def test_the_choosers_checkboxes_give_one_shareable_list(alice_client):
    answer = alice_client.get("/instances/?name=web&cols=status&cols=vm_state")
    assert answer.status_code == 302
    assert answer["Location"] == "/instances/?name=web&cols=status%2Cvm_state"


def test_a_column_the_caller_may_not_see_is_never_shown_or_exported(
    alice_client, admin_client, make_instance
):
    make_instance("active", name="vm")
    page = alice_client.get("/instances/?cols=host,host_status,status").content.decode()
    assert headers(page) == ["", "Name", "Status"]
    assert export_headers(alice_client, "cols=host,status") == ["name", "id", "status"]
    admins = admin_client.get("/instances/?cols=host,status", HTTP_ACCEPT_LANGUAGE="en")
    assert headers(admins.content.decode()) == ["", "Name", "Status", "Host"]
    assert export_headers(admin_client, "cols=host,status") == ["name", "id", "status", "host"]


def test_unknown_columns_are_ignored_by_the_page_and_refused_by_a_saved_view(alice, alice_client):
    page = alice_client.get("/instances/?cols=secret").content.decode()
    assert "power_state" in headers(page)  # nothing valid asked: every column
    alice_client.post("/instances/views/", {"name": "bad", "query": "cols=secret"})
    assert not SavedView.objects.filter(user=alice).exists()


def test_a_saved_view_keeps_the_columns(alice, alice_client, make_instance):
    make_instance("active", name="vm")
    alice_client.post(
        "/instances/views/", {"name": "lean", "query": "status=ACTIVE&cols=status%2Cpower_state"}
    )
    view = SavedView.objects.get(user=alice)
    assert view.query == "status=ACTIVE&cols=status%2Cpower_state"
    page = alice_client.get(f"/instances/?{view.query}").content.decode()
    assert headers(page) == ["", "Name", "Status", "power_state"]
    assert 'aria-current="page">lean</a>' in page
