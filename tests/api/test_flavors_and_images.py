"""Flavors (with the admin's os-flavor-manage) and images (Nova's proxy and Glance v2)."""

from __future__ import annotations

import pytest

from compute.models import Flavor, Image
from tests.api.conftest import at
from tests.conftest import CIRROS

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_flavor(catalog):
    return Flavor.objects.create(
        flavorid="p1", name="secret", vcpus=1, ram=64, disk=1, is_public=False
    )


def test_flavors_list_the_public_flavors_sorted_by_id(alice_api, catalog, private_flavor):
    flavors = alice_api.get("/v2.1/flavors").json()["flavors"]
    assert [f["id"] for f in flavors] == ["1", "2", "3", "4", "5"]
    assert set(flavors[0]) == {"id", "name", "links", "description"}


def test_admins_see_private_flavors_with_is_public_none(admin_api, alice_api, private_flavor):
    assert len(admin_api.get("/v2.1/flavors?is_public=none").json()["flavors"]) == 6
    assert len(alice_api.get("/v2.1/flavors?is_public=none").json()["flavors"]) == 5
    assert alice_api.get("/v2.1/flavors/p1").status_code == 404
    assert admin_api.get("/v2.1/flavors/p1").status_code == 200


def test_the_flavor_detail_changes_shape_with_the_microversion(alice_api, catalog):
    old = alice_api.get("/v2.1/flavors/1", **at("2.54")).json()["flavor"]
    assert old["swap"] == ""
    assert "description" not in old
    assert "extra_specs" not in old
    new = alice_api.get("/v2.1/flavors/1").json()["flavor"]
    assert new["swap"] == 0
    assert new["description"] is None
    assert new["extra_specs"] == {}
    assert (new["ram"], new["vcpus"], new["disk"]) == (512, 1, 1)
    assert new["os-flavor-access:is_public"] is True


def test_flavors_filter_and_page(alice_api, catalog):
    big = alice_api.get("/v2.1/flavors/detail?minRam=8192").json()["flavors"]
    assert [f["name"] for f in big] == ["m1.large", "m1.xlarge"]
    page = alice_api.get("/v2.1/flavors?limit=2").json()
    assert [f["id"] for f in page["flavors"]] == ["1", "2"]
    assert "marker=2" in page["flavors_links"][0]["href"]
    assert [f["id"] for f in alice_api.get("/v2.1/flavors?marker=4").json()["flavors"]] == ["5"]
    assert alice_api.get("/v2.1/flavors?minRam=lots").status_code == 400


def test_an_admin_creates_describes_and_deletes_a_flavor(admin_api, catalog):
    body = {"flavor": {"name": "m1.huge", "ram": 32768, "vcpus": 16, "disk": 320, "id": "6"}}
    created = admin_api.post("/v2.1/flavors", body, format="json")
    assert created.status_code == 200
    assert created.json()["flavor"]["name"] == "m1.huge"
    assert admin_api.post("/v2.1/flavors", body, format="json").status_code == 409
    described = admin_api.put(
        "/v2.1/flavors/6", {"flavor": {"description": "for databases"}}, format="json"
    )
    assert described.json()["flavor"]["description"] == "for databases"
    assert admin_api.delete("/v2.1/flavors/6").status_code == 202
    assert admin_api.get("/v2.1/flavors/6").status_code == 404


def test_members_may_not_manage_flavors(alice_api, catalog):
    body = {"flavor": {"name": "mine", "ram": 1, "vcpus": 1, "disk": 0}}
    assert alice_api.post("/v2.1/flavors", body, format="json").status_code == 403
    assert alice_api.delete("/v2.1/flavors/1").status_code == 403
    described = alice_api.put("/v2.1/flavors/1", {"flavor": {"description": "x"}}, format="json")
    assert described.status_code == 403


def test_a_flavor_in_use_cannot_be_deleted(admin_api, make_instance):
    make_instance()
    response = admin_api.delete("/v2.1/flavors/1")
    assert response.status_code == 409
    assert Flavor.objects.filter(flavorid="1").exists()


def test_the_flavor_description_update_arrives_in_255(admin_api, catalog):
    body = {"flavor": {"description": "x"}}
    assert admin_api.put("/v2.1/flavors/1", body, format="json", **at("2.54")).status_code == 404


# --- images ---------------------------------------------------------------------------------------
def test_novas_image_proxy_answers_before_236_and_is_gone_from_236(alice_api, catalog):
    images = alice_api.get("/v2.1/images/detail", **at("2.35")).json()["images"]
    cirros = next(i for i in images if i["id"] == CIRROS)
    assert (cirros["status"], cirros["progress"], cirros["minDisk"]) == ("ACTIVE", 100, 1)
    shown = alice_api.get(f"/v2.1/images/{CIRROS}", **at("2.35")).json()["image"]
    assert shown["name"] == "cirros-0.6.2-x86_64-disk"
    assert alice_api.get("/v2.1/images", **at("2.36")).status_code == 404


def test_glance_lists_images_by_id(alice_api, catalog):
    response = alice_api.get(f"/image/v2/images?id=in:{CIRROS},nonsense")
    (image,) = response.json()["images"]
    assert (image["id"], image["status"], image["visibility"]) == (CIRROS, "active", "public")
    assert alice_api.get(f"/image/v2/images/{CIRROS}").json()["name"].startswith("cirros")
    assert alice_api.get("/image/v2/images/nonsense").status_code == 404


def test_glance_pages_with_a_relative_next_link(alice_api, catalog):
    page = alice_api.get("/image/v2/images?limit=2").json()
    assert len(page["images"]) == 2
    assert page["next"].startswith("/v2/images?")
    assert alice_api.get("/image/v2/images?limit=x").status_code == 400


def test_a_snapshot_is_visible_to_its_project_only(alice_api, bob_api, make_instance):
    instance = make_instance()
    response = alice_api.post(
        f"/v2.1/servers/{instance.uuid}/action", {"createImage": {"name": "snap"}}, format="json"
    )
    image_id = response.json()["image_id"]
    assert alice_api.get(f"/image/v2/images/{image_id}").json()["instance_uuid"] == str(
        instance.uuid
    )
    assert bob_api.get(f"/image/v2/images/{image_id}").status_code == 404
    assert Image.objects.filter(pk=image_id, status=Image.Status.QUEUED).exists()


def test_image_endpoints_need_a_token(anonymous, catalog):
    assert anonymous.get("/image/v2/images").status_code == 401
    assert anonymous.get("/image").status_code == 300


def test_a_snapshots_own_metadata_overrides_novas_properties(alice_api, make_instance):
    instance = make_instance()
    body = {"createImage": {"name": "snap", "metadata": {"image_type": "test", "k": "v"}}}
    response = alice_api.post(f"/v2.1/servers/{instance.uuid}/action", body, format="json")
    image = alice_api.get(f"/image/v2/images/{response.json()['image_id']}").json()
    assert (image["image_type"], image["k"]) == ("test", "v")


def test_glance_lists_by_image_properties_sorted_as_asked(alice_api, make_instance, agent):
    """What Tempest's backup test asks: a server's daily backups, oldest first."""
    instance, other = make_instance(name="one"), make_instance(name="two")
    made = []
    for server, name, kind in ((instance, "b1", "daily"), (other, "x", "daily"),
                               (instance, "b2", "daily"), (instance, "w", "weekly")):  # fmt: skip
        body = {"createBackup": {"name": name, "backup_type": kind, "rotation": 5}}
        alice_api.post(f"/v2.1/servers/{server.uuid}/action", body, format="json")
        agent.run_pending()
        made.append(name)
    query = f"image_type=backup&backup_type=daily&instance_uuid={instance.uuid}"
    asc = alice_api.get(f"/image/v2/images?{query}&sort_key=created_at&sort_dir=asc").json()
    assert [i["name"] for i in asc["images"]] == ["b1", "b2"]
    desc = alice_api.get(f"/image/v2/images?{query}&sort_key=created_at&sort_dir=desc").json()
    assert [i["name"] for i in desc["images"]] == ["b2", "b1"]
    assert alice_api.get("/image/v2/images?image_type=nothing").json()["images"] == []
    assert alice_api.get("/image/v2/images?sort_key=colour").status_code == 400
    assert alice_api.get("/image/v2/images?sort_dir=sideways").status_code == 400
