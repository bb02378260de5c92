"""The agent's image bookkeeping around captures, on the fake hypervisor (which writes no file):
shelve makes Nova's ``<name>-shelved`` snapshot and unshelve deletes it; a capture a hypervisor
did write into the image store becomes the image's bytes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from compute.image_store import snapshot_path
from compute.models import Image
from compute.services import instance_action
from tests.conftest import fresh


def test_shelve_records_novas_shelved_snapshot_and_unshelve_deletes_it(
    make_instance, agent, alice_ctx
):
    instance = make_instance("shelved_offloaded", name="web")
    shelved = Image.objects.get(pk=instance.system_metadata["shelved_image_id"])
    assert (shelved.name, shelved.status, shelved.server_id) == (
        "web-shelved",
        Image.Status.ACTIVE,
        instance.pk,
    )
    instance_action(
        context=fresh(alice_ctx), instance_uuid=str(instance.uuid), action="unshelve", params={}
    )
    agent.run_pending()
    instance.refresh_from_db()
    shelved.refresh_from_db()
    assert instance.vm_state == "active"
    assert "shelved_image_id" not in instance.system_metadata
    assert shelved.status == Image.Status.DELETED


def test_a_capture_written_into_the_store_becomes_the_snapshots_bytes(
    make_instance, agent, alice_ctx, monkeypatch
):
    instance = make_instance(name="db")

    def write_capture(uuid: str, *, image_name: str, target: str = "") -> None:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", target, "8M"], check=True)

    monkeypatch.setattr(agent.driver, "snapshot", write_capture)
    instance_action(
        context=fresh(alice_ctx),
        instance_uuid=str(instance.uuid),
        action="createImage",
        params={"name": "db-snap"},
    )
    agent.run_pending()
    image = Image.objects.get(name="db-snap")
    assert image.status == Image.Status.ACTIVE
    assert (image.file, image.disk_format, image.virtual_size) == (
        snapshot_path(str(image.pk)).name,
        "qcow2",
        8 << 20,
    )
    assert image.checksum and image.size == snapshot_path(str(image.pk)).stat().st_size
