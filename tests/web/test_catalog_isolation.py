"""The page offers, and the service accepts, only the flavors a caller's project may use and the
images it may see — the same reads the API uses (Nova's flavor access, Glance's visibility)."""

from __future__ import annotations

import pytest

from compute.exceptions import Invalid
from compute.models import Flavor, FlavorAccess, Image, Instance
from compute.services import instance_action, instance_create
from tests.conftest import CIRROS, fresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_flavor(catalog) -> Flavor:
    return Flavor.objects.create(
        flavorid="secret", name="m1.secret", vcpus=1, ram=256, disk=1, is_public=False
    )


@pytest.fixture
def others_snapshot(make_instance, bob_ctx, agent) -> Image:
    """An active snapshot of another project's instance."""
    theirs = make_instance("active", context=bob_ctx, name="theirs")
    return Image.objects.create(
        name="theirs-snap", status=Image.Status.ACTIVE, server=theirs, metadata={}
    )


def test_a_member_is_offered_neither_a_private_flavor_nor_another_projects_snapshot(
    alice_client, make_instance, private_flavor, others_snapshot
):
    instance = make_instance("active")
    for url in ("/instances/new/", f"/instances/{instance.uuid}/"):
        html = alice_client.get(url).content.decode()
        assert "m1.secret" not in html, url
        assert "theirs-snap" not in html, url


def test_a_project_granted_a_private_flavor_is_offered_it(alice_client, alice_ctx, private_flavor):
    FlavorAccess.objects.create(flavor=private_flavor, project_id=alice_ctx.project_id)
    assert "m1.secret" in alice_client.get("/instances/new/").content.decode()


def test_the_service_refuses_a_private_flavor_and_another_projects_image_whatever_the_edge(
    alice_ctx, agent, private_flavor, others_snapshot, make_instance
):
    with pytest.raises(Invalid, match="Flavor secret could not be found"):
        instance_create(context=fresh(alice_ctx), name="x", flavor_ref="secret", image_ref=CIRROS)
    with pytest.raises(Invalid, match=f"Image {others_snapshot.pk} could not be found"):
        instance_create(
            context=fresh(alice_ctx), name="x", flavor_ref="1", image_ref=str(others_snapshot.pk)
        )
    mine = make_instance("active")
    with pytest.raises(Invalid, match="Invalid flavorRef provided"):
        instance_action(
            context=fresh(alice_ctx),
            instance_uuid=str(mine.uuid),
            action="resize",
            params={"flavorRef": "secret"},
        )
    with pytest.raises(Invalid, match="could not be found"):
        instance_action(
            context=fresh(alice_ctx),
            instance_uuid=str(mine.uuid),
            action="rebuild",
            params={"imageRef": str(others_snapshot.pk)},
        )
    assert Instance.objects.filter(name="x").count() == 0
