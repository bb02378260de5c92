"""Instance disks through libvirt's storage API: the libvirt driver's half of Nova's Qcow2 backend.

One ``dir`` storage pool per instances path (``<instances_path>/disks``) holds, like Nova's
``_base`` cache and instance directories:

- ``base-<md5>.<format>``: an image's bytes, uploaded once per distinct file through a libvirt
  stream (so a remote libvirtd works too) and shared by every guest booted from it; beside it
  an empty ``base-<md5>.<format>.complete`` once the upload has reached its end (a base without
  one was cut short, and is uploaded again);
- ``<uuid>-disk.qcow2``: the guest's root disk, a qcow2 overlay on its image's base, sized to
  the flavor's root disk (or the image, if that is larger);
- ``<uuid>-rescue.qcow2``: while rescued, an overlay on the rescue image's base.

The invariant: a guest's volumes are named after its uuid and nothing else, so delete finds
them all and rebuild, rescue and resize never depend on which image a guest was booted from.
Base files are never modified once uploaded, so replacing or deleting an image in the store
never touches a guest. Only this module and ``compute.drivers.libvirt`` import libvirt.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import libvirt

from compute.exceptions import DriverError

GIB = 1 << 30
CHUNK = 1 << 20

#: One lock per base volume name in this process: two guests booting from one image at once
#: upload it once (the second waits for the first).
_base_locks: dict[str, threading.Lock] = {}
_base_locks_guard = threading.Lock()


@dataclass(frozen=True)
class ImageFile:
    """An image's bytes as the agent hands them to the driver."""

    path: str
    disk_format: str = "qcow2"

    def key(self) -> str:
        """Names the base: the file's path, size and modification time, hashed, so an image
        whose file is replaced (a rebuilt vmdash-guest) gets a new base."""
        stat = Path(self.path).stat()
        return hashlib.md5(
            f"{self.path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode(), usedforsecurity=False
        ).hexdigest()


def _lock_for(name: str) -> threading.Lock:
    with _base_locks_guard:
        return _base_locks.setdefault(name, threading.Lock())


@contextlib.contextmanager
def _base_lock(pool_path: Path, name: str) -> Iterator[None]:
    """Held while a base is looked up and, if need be, uploaded: a lock for the threads of this
    process and a file lock for every agent on this machine — two agents on one libvirtd share
    its pool, and the second must not lay a disk over a base the first is still writing (Nova's
    computes share their image cache under lockutils' external locks the same way)."""
    where = hashlib.md5(str(pool_path).encode(), usedforsecurity=False).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"vmdash-base-{where}-{name}.lock"
    with _lock_for(name), open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _complete(name: str) -> str:
    """The empty volume that says base ``name`` was uploaded to its end."""
    return f"{name}.complete"


def _volume_xml(name: str, capacity: int, fmt: str, backing: tuple[str, str] | None) -> str:
    volume = ET.Element("volume")
    ET.SubElement(volume, "name").text = name
    ET.SubElement(volume, "capacity", unit="bytes").text = str(capacity)
    target = ET.SubElement(volume, "target")
    ET.SubElement(target, "format", type=fmt)
    if backing is not None:
        store = ET.SubElement(volume, "backingStore")
        ET.SubElement(store, "path").text = backing[0]
        ET.SubElement(store, "format", type=backing[1])
    return ET.tostring(volume, encoding="unicode")


def _is(exc: libvirt.libvirtError, code: int) -> bool:
    return exc.get_error_code() == code


class DiskPool:
    """The driver's storage pool on one libvirt connection."""

    def __init__(self, instances_path: str) -> None:
        self.path = Path(instances_path) / "disks"
        digest = hashlib.md5(str(self.path).encode(), usedforsecurity=False).hexdigest()[:8]
        self.name = f"vmdash-{digest}"

    # --- the pool -------------------------------------------------------------------------
    def pool(self, conn: libvirt.virConnect) -> libvirt.virStoragePool:
        """The pool, defined, built and started on first use (and after a libvirtd restart)."""
        try:
            pool = conn.storagePoolLookupByName(self.name)
        except libvirt.libvirtError as exc:
            if not _is(exc, libvirt.VIR_ERR_NO_STORAGE_POOL):
                raise
            xml = (
                f"<pool type='dir'><name>{self.name}</name>"
                f"<target><path>{self.path}</path></target></pool>"
            )
            try:
                pool = conn.storagePoolDefineXML(xml, 0)
                pool.build(0)  # mkdir -p
                pool.setAutostart(1)
            except libvirt.libvirtError:  # defined meanwhile by another agent, or a real error
                pool = conn.storagePoolLookupByName(self.name)
        if not pool.isActive():
            with contextlib.suppress(libvirt.libvirtError):  # started meanwhile
                pool.create(0)
        return pool

    def volume(self, conn: libvirt.virConnect, name: str) -> libvirt.virStorageVol | None:
        pool = self.pool(conn)
        try:
            return pool.storageVolLookupByName(name)
        except libvirt.libvirtError as exc:
            if _is(exc, libvirt.VIR_ERR_NO_STORAGE_VOL):
                return None
            raise

    def path_of(self, name: str) -> str:
        return str(self.path / name)

    # --- bases ----------------------------------------------------------------------------
    def base(self, conn: libvirt.virConnect, image: ImageFile) -> libvirt.virStorageVol:
        """The image's base volume, uploaded on first use."""
        source = Path(image.path)
        if not source.is_file():
            raise DriverError(f"Image file {image.path} is missing on host")
        name = f"base-{image.key()}.{image.disk_format}"
        with _base_lock(self.path, name):
            found = self.volume(conn, name)
            if found is not None and self.volume(conn, _complete(name)) is not None:
                return found
            pool = self.pool(conn)
            if found is not None:  # an upload that never finished (its agent died): again
                with contextlib.suppress(libvirt.libvirtError):
                    found.delete(0)
            size = source.stat().st_size
            # Created raw with the file's exact size, then overwritten with its bytes: the
            # result is the file, whatever its format (qcow2 headers included).
            vol = pool.createXML(_volume_xml(name, size, "raw", None), 0)
            try:
                self._upload(conn, vol, source, size)
            except BaseException:
                with contextlib.suppress(libvirt.libvirtError):
                    vol.delete(0)
                raise
            pool.createXML(_volume_xml(_complete(name), 0, "raw", None), 0)
            return vol

    @staticmethod
    def _upload(
        conn: libvirt.virConnect, vol: libvirt.virStorageVol, source: Path, size: int
    ) -> None:
        stream = conn.newStream(0)
        vol.upload(stream, 0, size, 0)
        try:
            with source.open("rb") as f:
                while chunk := f.read(CHUNK):
                    view = memoryview(chunk)
                    while view:
                        sent = stream.send(bytes(view))
                        view = view[sent:]
            stream.finish()
        except BaseException:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise

    # --- guest volumes --------------------------------------------------------------------
    def create_overlay(
        self,
        conn: libvirt.virConnect,
        name: str,
        image: ImageFile,
        *,
        size_gb: int,
    ) -> str:
        """A qcow2 overlay on the image's base, ``size_gb`` GiB (at least the image's own
        virtual size); an existing volume of that name is replaced. Returns its path."""
        base = self.base(conn, image)
        self.delete(conn, name)
        base_virtual = self._virtual_size(base)
        capacity = max(size_gb * GIB, base_virtual)
        pool = self.pool(conn)
        vol = pool.createXML(
            _volume_xml(name, capacity, "qcow2", (base.path(), image.disk_format)), 0
        )
        return vol.path()

    @staticmethod
    def _virtual_size(base: libvirt.virStorageVol) -> int:
        # A raw-declared base reports its file size; qcow2's virtual size is in its header.
        with contextlib.suppress(OSError, ValueError):
            with open(base.path(), "rb") as f:
                header = f.read(32)
            if header[:4] == b"QFI\xfb":
                return int.from_bytes(header[24:32], "big")
        return int(base.info()[1])

    def grow(self, conn: libvirt.virConnect, name: str, size_gb: int) -> None:
        """Grow a guest's disk to ``size_gb`` GiB; never shrinks (Nova refuses that too)."""
        vol = self.volume(conn, name)
        if vol is None:
            raise DriverError(f"Disk {self.path_of(name)} is missing")
        if size_gb * GIB > vol.info()[1]:
            vol.resize(size_gb * GIB, 0)

    def delete(self, conn: libvirt.virConnect, name: str) -> None:
        vol = self.volume(conn, name)
        if vol is None:
            return
        try:
            vol.delete(0)
        except libvirt.libvirtError as exc:
            if not _is(exc, libvirt.VIR_ERR_NO_STORAGE_VOL):
                raise

    def import_file(self, conn: libvirt.virConnect, name: str, source: Path) -> None:
        """Volume ``name`` made of a local file's bytes (a disk exported by another host's
        pool); the pool is refreshed so libvirt reads its format (qcow2) from its header."""
        self.delete(conn, name)
        size = source.stat().st_size
        pool = self.pool(conn)
        vol = pool.createXML(_volume_xml(name, size, "raw", None), 0)
        try:
            self._upload(conn, vol, source, size)
        except BaseException:
            with contextlib.suppress(libvirt.libvirtError):
                vol.delete(0)
            raise
        pool.refresh(0)

    def export(self, conn: libvirt.virConnect, name: str, target: Path) -> None:
        """Flatten volume ``name`` (overlay and base) into a standalone qcow2 at ``target``:
        libvirt clones it in the pool (``qemu-img convert``), the clone is downloaded through
        a stream and removed. The guest must not be running (its disk image is locked)."""
        source = self.volume(conn, name)
        if source is None:
            raise DriverError(f"Disk {self.path_of(name)} is missing")
        pool = self.pool(conn)
        digest = hashlib.md5(str(target).encode(), usedforsecurity=False).hexdigest()[:8]
        clone_name = f"export-{digest}-{name}"
        self.delete(conn, clone_name)
        capacity = int(source.info()[1])
        clone = pool.createXMLFrom(_volume_xml(clone_name, capacity, "qcow2", None), source, 0)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.part")
            stream = conn.newStream(0)
            clone.download(stream, 0, 0, 0)
            with partial.open("wb") as out:
                for chunk in _received(stream):
                    out.write(chunk)
            stream.finish()
            partial.replace(target)
        finally:
            with contextlib.suppress(libvirt.libvirtError):
                clone.delete(0)


def _received(stream: libvirt.virStream) -> Iterator[bytes]:
    while True:
        chunk = stream.recv(CHUNK)
        if chunk == -2:  # non-blocking "try again": cannot happen on a blocking stream
            continue
        if not chunk:
            return
        yield chunk
