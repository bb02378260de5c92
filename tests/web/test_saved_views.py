"""Saved views: a named list query per user and project, its link the list's own URL."""

from __future__ import annotations

import pytest

from compute.models import Project
from dashboard.models import SavedView

pytestmark = pytest.mark.django_db


def test_a_view_is_saved_listed_opened_and_removed(alice, alice_client, make_instance):
    make_instance("active", name="web-1")
    make_instance("stopped", name="db-1")
    answer = alice_client.post(
        "/instances/views/",
        {"name": "Stopped web", "query": "name=web&status=SHUTOFF&sort=name&marker=x&evil=1"},
    )
    assert answer.status_code == 302
    view = SavedView.objects.get(user=alice)
    # Only the list's own parameters, never a page anchor or anything else.
    assert view.query == "name=web&status=SHUTOFF&sort=name"
    assert answer["Location"] == "/instances/?name=web&status=SHUTOFF&sort=name"
    page = alice_client.get(answer["Location"]).content.decode()
    assert 'aria-current="page">Stopped web</a>' in page
    # Saving the same name again updates it.
    alice_client.post("/instances/views/", {"name": "Stopped web", "query": "status=ACTIVE"})
    assert SavedView.objects.get(user=alice).query == "status=ACTIVE"
    alice_client.post(f"/instances/views/{view.pk}/delete/")
    assert not SavedView.objects.filter(user=alice).exists()


def test_bad_input_saves_nothing(alice, alice_client):
    for name, query in (("", "status=ACTIVE"), ("x" * 81, ""), ("ok", "status=NOPE")):
        alice_client.post("/instances/views/", {"name": name, "query": query})
    assert not SavedView.objects.filter(user=alice).exists()


def test_views_belong_to_their_user_and_project(alice, bob, alice_client, bob_client):
    alice_client.post("/instances/views/", {"name": "mine", "query": "status=ERROR"})
    mine = SavedView.objects.get(user=alice)
    assert mine.project_id is None  # alice's page shows "all my projects"
    assert "mine" not in bob_client.get("/instances/").content.decode()
    bob_client.post(f"/instances/views/{mine.pk}/delete/")  # not bob's to remove
    assert SavedView.objects.filter(pk=mine.pk).exists()
    demo = Project.objects.get(name="demo").pk
    alice_client.post("/projects/switch/", {"project": demo})
    alice_client.post("/instances/views/", {"name": "demo only", "query": "sort=name"})
    assert SavedView.objects.get(name="demo only").project_id == demo
    assert "demo only" in alice_client.get("/instances/").content.decode()
    alice_client.post("/projects/switch/", {"project": ""})
    assert "demo only" not in alice_client.get("/instances/").content.decode()
