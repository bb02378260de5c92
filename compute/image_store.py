"""The image store: the bytes behind ``Image`` rows, one file per image under ``IMAGE_DIR``.

It owns the files and the four columns that describe them (``file``, ``size``, ``checksum`` and
``os_hash_value``, with ``disk_format`` / ``virtual_size``), and keeps one invariant: an image row
with a ``file`` names a complete file whose size and hashes are the row's. Bytes are written to
a temporary name beside the target and renamed into place only when they are all there, so a
failed or interrupted upload never leaves a half file behind a row.

A compute host reads image files at the same path (shared storage, or the one machine of the
demo and the tests): the libvirt driver copies an image into its own pool before a guest boots
from it, so deleting or replacing an image never touches a running guest.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from compute.exceptions import Conflict, Invalid
from compute.models import Image

#: Glance's disk formats that QEMU can boot; the others are refused at import.
DISK_FORMATS = ("qcow2", "raw")
CHUNK = 1 << 20


def image_dir() -> Path:
    return Path(settings.IMAGE_DIR)


def image_path(image: Image) -> Path | None:
    """The absolute path of an image's file, or None for a row without one."""
    return image_dir() / image.file if image.file else None


def file_name_for(image: Image) -> str:
    return f"{image.pk}.{image.disk_format or 'img'}"


@dataclass(frozen=True)
class FileFacts:
    size: int
    checksum: str
    os_hash_value: str


def _write(target: Path, chunks: Iterable[bytes]) -> FileFacts:
    """Write ``chunks`` to ``target`` atomically, hashing them on the way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuidlib.uuid4().hex[:8]}.part")
    md5, sha512, size = hashlib.md5(usedforsecurity=False), hashlib.sha512(), 0
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
                md5.update(chunk)
                sha512.update(chunk)
                size += len(chunk)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return FileFacts(size=size, checksum=md5.hexdigest(), os_hash_value=sha512.hexdigest())


def facts_of(path: Path) -> FileFacts:
    md5, sha512, size = hashlib.md5(usedforsecurity=False), hashlib.sha512(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            md5.update(chunk)
            sha512.update(chunk)
            size += len(chunk)
    return FileFacts(size=size, checksum=md5.hexdigest(), os_hash_value=sha512.hexdigest())


def probe(path: Path) -> tuple[str, int]:
    """The format ``qemu-img`` finds in a file, and the size a guest would see."""
    try:
        out = subprocess.run(
            ["qemu-img", "info", "--output=json", str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except FileNotFoundError:
        raise Invalid("qemu-img is not installed: cannot read the image's format") from None
    except subprocess.CalledProcessError as exc:
        raise Invalid(f"Not a disk image: {exc.stderr.strip()}") from None
    info = json.loads(out)
    return str(info["format"]), int(info["virtual-size"])


def _file_of_chunks(path: Path) -> Iterable[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def image_store_file(image: Image, *, chunks: Iterable[bytes]) -> Image:
    """Glance's upload: write the bytes of a queued image, probe them, make it active.

    Refused (409) for an image that already has data, as Glance does; a file whose format is
    not the row's ``disk_format`` (when it has one) is refused too and nothing is kept.
    """
    if image.status != Image.Status.QUEUED or image.file:
        raise Conflict("Image status transition from active to saving is not allowed")
    claimed = Image.objects.filter(pk=image.pk, status=Image.Status.QUEUED).update(
        status=Image.Status.SAVING
    )
    if not claimed:
        raise Conflict("Image status transition from saving to saving is not allowed")
    target = image_dir() / f"{image.pk}.upload"
    try:
        facts = _write(target, chunks)
        found, virtual = probe(target)
        if image.disk_format and image.disk_format != found and image.disk_format != "raw":
            raise Invalid(f"Image data is {found}, not the image's disk_format {image.disk_format}")
        image.disk_format = image.disk_format or found
        final = image_dir() / file_name_for(image)
        target.replace(final)
    except BaseException:
        target.unlink(missing_ok=True)
        Image.objects.filter(pk=image.pk).update(status=Image.Status.QUEUED)
        raise
    return _activate(image, final, facts, virtual)


def _activate(image: Image, path: Path, facts: FileFacts, virtual: int) -> Image:
    image.file = path.name
    image.size = facts.size
    image.checksum = facts.checksum
    image.os_hash_value = facts.os_hash_value
    image.virtual_size = virtual
    image.container_format = image.container_format or "bare"
    image.status = Image.Status.ACTIVE
    image.progress = 100
    image.save()
    return image


def image_import(
    *, name: str, source: Path, image_id: uuidlib.UUID | None = None, min_ram: int = 0
) -> Image:
    """Copy a local disk image into the store and register it (``manage.py import_image``).

    With ``image_id`` the row with that id is created or its file replaced (idempotent
    re-imports of a built image); otherwise a new image is made each time, as Glance does.
    """
    if not source.is_file():
        raise Invalid(f"No such file: {source}")
    disk_format, virtual = probe(source)
    if disk_format not in DISK_FORMATS:
        raise Invalid(f"Unsupported disk format {disk_format!r}: expected one of {DISK_FORMATS}")
    with transaction.atomic():
        image = Image.objects.filter(pk=image_id).first() if image_id else None
        if image is None:
            image = Image(pk=image_id or uuidlib.uuid4())
        image.name = name
        image.disk_format = disk_format
        image.min_ram = min_ram or image.min_ram
        image.status = Image.Status.SAVING
        image.save()
    try:
        facts = _write(image_dir() / file_name_for(image), _file_of_chunks(source))
    except BaseException:
        Image.objects.filter(pk=image.pk, file="").update(status=Image.Status.QUEUED)
        raise
    return _activate(image, image_dir() / file_name_for(image), facts, virtual)


def image_adopt_file(image: Image, *, path: Path) -> Image:
    """Register a file a compute host wrote into the store (a snapshot) as ``image``'s bytes."""
    disk_format, virtual = probe(path)
    image.disk_format = disk_format
    return _activate(image, path, facts_of(path), virtual)


def snapshot_path(image_id: str) -> Path:
    """Where a compute host writes the snapshot that becomes image ``image_id``."""
    return image_dir() / f"{image_id}.qcow2"


def image_remove_file(image: Image) -> None:
    path = image_path(image)
    if path is not None:
        path.unlink(missing_ok=True)
    Image.objects.filter(pk=image.pk).update(file="")


__all__ = [
    "image_adopt_file",
    "image_dir",
    "image_import",
    "image_path",
    "image_remove_file",
    "image_store_file",
    "snapshot_path",
]
