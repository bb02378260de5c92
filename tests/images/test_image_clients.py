"""The stock client on the image store: ``openstack image create --file`` and ``image save``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from compute.models import Image
from tests.api.test_stock_clients import Cloud, cloud  # noqa: F401 - the fixture

pytestmark = [
    pytest.mark.clients,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:.*:Warning:openstack"),
]


def test_openstack_image_create_with_a_file_uploads_it_and_image_save_gets_it_back(
    cloud: Cloud,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    image_dir: Path,
):
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "32M"], check=True)
    (created,) = cloud.run(
        ("alice", "image", "create", "--disk-format", "qcow2", "--container-format", "bare",
         "--file", str(disk), "uploaded", "-f", "json"),
    )  # fmt: skip
    shown = json.loads(created.stdout)
    assert (shown["status"], shown["size"], shown["virtual_size"]) == (
        "active",
        disk.stat().st_size,
        32 << 20,
    )
    image = Image.objects.get(pk=shown["id"])
    assert (image_dir / image.file).read_bytes() == disk.read_bytes()
    saved = tmp_path / "saved.qcow2"
    cloud.run(("alice", "image", "save", "--file", str(saved), "uploaded"))
    assert saved.read_bytes() == disk.read_bytes()
