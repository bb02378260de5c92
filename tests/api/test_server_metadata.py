"""``/servers/{id}/metadata`` and ``/tags``: Nova's bodies, merge and replace, and its texts."""

from __future__ import annotations

import pytest

from tests.api.conftest import at

pytestmark = pytest.mark.django_db


def test_metadata_merges_on_post_and_is_replaced_on_put(alice_api, make_instance):
    base = f"/v2.1/servers/{make_instance('active').uuid}/metadata"
    merged = alice_api.post(base, {"metadata": {"a": "1", "b": "2"}}, format="json")
    assert merged.status_code == 200 and merged.json() == {"metadata": {"a": "1", "b": "2"}}
    merged = alice_api.post(base, {"metadata": {"b": "3"}}, format="json")
    assert merged.json() == {"metadata": {"a": "1", "b": "3"}}
    replaced = alice_api.put(base, {"metadata": {"c": "4"}}, format="json")
    assert replaced.json() == {"metadata": {"c": "4"}}
    assert alice_api.get(base).json() == {"metadata": {"c": "4"}}


def test_one_item_is_set_shown_and_deleted_with_novas_texts(alice_api, make_instance):
    base = f"/v2.1/servers/{make_instance('active').uuid}/metadata"
    assert alice_api.put(f"{base}/k", {"meta": {"k": "v"}}, format="json").json() == {
        "meta": {"k": "v"}
    }
    assert alice_api.get(f"{base}/k").json() == {"meta": {"k": "v"}}
    mismatch = alice_api.put(f"{base}/k", {"meta": {"other": "v"}}, format="json")
    assert mismatch.status_code == 400
    assert mismatch.json()["badRequest"]["message"] == "Request body and URI mismatch"
    many = alice_api.put(f"{base}/k", {"meta": {"k": "v", "j": "w"}}, format="json")
    assert many.json()["badRequest"]["message"] == "Request body contains too many items"
    assert alice_api.delete(f"{base}/k").status_code == 204
    gone = alice_api.get(f"{base}/k")
    assert gone.status_code == 404
    assert gone.json()["itemNotFound"]["message"] == "Metadata item was not found"


def test_a_bad_body_changes_nothing(alice_api, make_instance):
    base = f"/v2.1/servers/{make_instance('active').uuid}/metadata"
    alice_api.post(base, {"metadata": {"a": "1"}}, format="json")
    for bad in ({"metadata": {"a": 1}}, {"metadata": []}, {"meta": {"a": "1"}}, {}):
        assert alice_api.put(base, bad, format="json").status_code == 400, bad
    assert alice_api.get(base).json() == {"metadata": {"a": "1"}}


def test_tags_appear_at_226(alice_api, make_instance):
    base = f"/v2.1/servers/{make_instance('active').uuid}/tags"
    assert alice_api.get(base, **at("2.25")).status_code == 404
    assert alice_api.put(base, {"tags": ["x", "y"]}, format="json", **at("2.26")).json() == {
        "tags": ["x", "y"]
    }
    assert alice_api.get(f"{base}/x", **at("2.26")).status_code == 204
    missing = alice_api.get(f"{base}/z", **at("2.26"))
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == "Tag z could not be found."
    assert alice_api.delete(base, **at("2.26")).status_code == 204
    assert alice_api.get(base, **at("2.26")).json() == {"tags": []}
