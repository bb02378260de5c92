"""The image cache of the libvirt driver's pool on the real libvirtd: a base is uploaded whole
before any disk is laid over it — by several agents at once, and after an upload cut short.

Two agents on one libvirtd share its pool; both booting from one image at the same moment once
gave the second an overlay on a base the first was still writing ("Image is not in qcow2
format"). A pool of its own here, removed at the end.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guests.site import URI

libvirt = pytest.importorskip("libvirt")


@pytest.fixture
def pool_dir(real_guests: None, tmp_path: Path) -> Iterator[Path]:
    from compute.drivers.libvirt_storage import DiskPool

    top = Path("/var/lib/libvirt/vmdash-base-tests") / tmp_path.name
    yield top
    conn = libvirt.open(URI)
    try:
        pool = DiskPool(str(top))
        for name in (pool.name,):
            try:
                found = conn.storagePoolLookupByName(name)
            except libvirt.libvirtError:
                continue
            for vol in found.listAllVolumes():
                vol.delete(0)
            if found.isActive():
                found.destroy()
            found.undefine()
    finally:
        conn.close()
        shutil.rmtree(top, ignore_errors=True)


def image_file(tmp_path: Path, mib: int = 3) -> Path:
    """A file whose every MiB differs, so a short or zero-filled copy shows."""
    path = tmp_path / "image.raw"
    path.write_bytes(b"".join(bytes([7 + n % 200]) * (1 << 20) for n in range(mib)))
    return path


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _base_in_process(instances_path: str, image: str, queue: multiprocessing.Queue) -> None:
    from compute.drivers.libvirt_storage import DiskPool, ImageFile

    conn = libvirt.open(URI)
    try:
        vol = DiskPool(instances_path).base(conn, ImageFile(image, disk_format="raw"))
        queue.put(_digest(vol.path()))
    finally:
        conn.close()


def test_several_agents_asking_for_one_base_at_once_each_get_it_whole(pool_dir, tmp_path):
    image = image_file(tmp_path, mib=64)  # an upload long enough for the others to arrive
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = context.Queue()
    agents = [
        context.Process(target=_base_in_process, args=(str(pool_dir), str(image), queue))
        for _ in range(4)
    ]
    for agent in agents:
        agent.start()
    for agent in agents:
        agent.join(120)
        assert agent.exitcode == 0
    whole = _digest(str(image))
    assert [queue.get(timeout=5) for _ in agents] == [whole] * 4, "a base read before its end"
    bases = sorted(p.name for p in (pool_dir / "disks").iterdir())
    assert len(bases) == 2 and bases[1] == bases[0] + ".complete"


def test_a_base_whose_upload_was_cut_short_is_uploaded_again(pool_dir, tmp_path):
    from compute.drivers.libvirt_storage import DiskPool, ImageFile, _volume_xml

    image = ImageFile(str(image_file(tmp_path)), disk_format="raw")
    disks = DiskPool(str(pool_dir))
    conn = libvirt.open(URI)
    try:
        # What an agent killed mid-upload leaves: the volume at its size, zeros, no marker.
        name = f"base-{image.key()}.raw"
        disks.pool(conn).createXML(_volume_xml(name, 3 << 20, "raw", None), 0)
        assert _digest(disks.path_of(name)) != _digest(image.path)
        vol = disks.base(conn, image)
        assert _digest(vol.path()) == _digest(image.path)
        assert disks.volume(conn, f"{name}.complete") is not None
        # Complete now: asked again, the same volume, not a third upload.
        assert disks.base(conn, image).path() == vol.path()
    finally:
        conn.close()
