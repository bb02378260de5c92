"""The image store: ``import_image``, and Glance's image data upload and download."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from compute.models import Image
from tests.web.conftest import signed_in

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")


@pytest.fixture
def qcow2(tmp_path: Path) -> Path:
    path = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    return path


def test_import_image_copies_the_file_into_the_store_and_registers_it(db, qcow2, image_dir):
    call_command("import_image", "tiny-disk", str(qcow2))
    image = Image.objects.get(name="tiny-disk")
    data = qcow2.read_bytes()
    assert image.status == Image.Status.ACTIVE
    assert (image.disk_format, image.container_format) == ("qcow2", "bare")
    assert (image.size, image.virtual_size) == (len(data), 64 << 20)
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert image.os_hash_value == hashlib.sha512(data).hexdigest()
    assert (image_dir / image.file).read_bytes() == data


def test_import_image_of_a_missing_file_is_refused(db, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No such file"):
        call_command("import_image", "nothing", str(tmp_path / "missing.qcow2"))


def queued(**fields) -> Image:
    return Image.objects.create(name="uploaded", status=Image.Status.QUEUED, progress=0, **fields)


def test_uploading_data_to_a_queued_image_makes_it_active_with_its_checksum(
    admin_user, qcow2, image_dir
):
    image = queued(disk_format="qcow2")
    data = qcow2.read_bytes()
    response = signed_in(admin_user).put(
        f"/image/v2/images/{image.pk}/file", data=data, content_type="application/octet-stream"
    )
    assert response.status_code == 204
    image.refresh_from_db()
    assert image.status == Image.Status.ACTIVE
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert (image_dir / image.file).read_bytes() == data


def test_downloading_an_images_data_returns_its_bytes(admin_user, qcow2):
    image = queued()
    client = signed_in(admin_user)
    client.put(f"/image/v2/images/{image.pk}/file", data=qcow2.read_bytes(),
               content_type="application/octet-stream")  # fmt: skip
    response = client.get(f"/image/v2/images/{image.pk}/file")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == qcow2.read_bytes()


def test_uploading_twice_is_a_conflict_as_in_glance(admin_user, qcow2):
    image = queued()
    client = signed_in(admin_user)
    first = client.put(f"/image/v2/images/{image.pk}/file", data=qcow2.read_bytes(),
                       content_type="application/octet-stream")  # fmt: skip
    again = client.put(f"/image/v2/images/{image.pk}/file", data=qcow2.read_bytes(),
                       content_type="application/octet-stream")  # fmt: skip
    assert (first.status_code, again.status_code) == (204, 409)


def test_data_that_is_not_the_declared_format_is_refused_and_nothing_is_kept(admin_user, image_dir):
    image = queued(disk_format="qcow2")
    response = signed_in(admin_user).put(
        f"/image/v2/images/{image.pk}/file", data=b"x" * 4096,
        content_type="application/octet-stream",
    )  # fmt: skip
    assert response.status_code == 400
    image.refresh_from_db()
    assert (image.status, image.file) == (Image.Status.QUEUED, "")
    assert not any(image_dir.iterdir())


def test_a_member_may_not_upload_to_a_public_image(alice, qcow2):
    image = queued()
    response = signed_in(alice).put(
        f"/image/v2/images/{image.pk}/file", data=qcow2.read_bytes(),
        content_type="application/octet-stream",
    )  # fmt: skip
    assert response.status_code == 403
