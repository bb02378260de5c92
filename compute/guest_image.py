"""The ``vmdash-guest`` image: a tiny BIOS-bootable guest built from Debian packages only.

Debian's kernel (``apt-get download`` of the package ``linux-image-amd64`` depends on, unpacked
with ``dpkg-deb``), an initramfs of ``busybox-static`` and two modules (the ACPI button and
evdev, so busybox ``acpid`` hears the power button), and SYSLINUX on a FAT image that SeaBIOS
boots as the guest's first disk; ``qemu-img`` turns it into a qcow2. Nothing else is downloaded.

What the guest does is what the real-guest tests check: it prints a banner on its serial
console (``vmdash-guest: <name> booted …``, its memory included, so a resize is visible), gives
a root shell there, takes its name from the SMBIOS OEM string ``vmdash-name:<name>`` the
libvirt driver writes, powers off on the ACPI power button and on ``poweroff``, and reboots on
ctrl-alt-del.

The build is cached under ``var/guest-image/<recipe hash>``: the hash covers this recipe, the
kernel package's version and busybox's, so it is rebuilt only when one of them changes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid as uuidlib
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from compute.image_store import facts_of, image_import, image_path
from compute.models import Image

IMAGE_NAME = "vmdash-guest"
#: A fixed id, so tests, docs and clients can name the built image on every installation.
IMAGE_ID = uuidlib.UUID("3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0100")
KERNEL_META_PACKAGE = "linux-image-amd64"
MODULES = ("kernel/drivers/acpi/button.ko", "kernel/drivers/input/evdev.ko")
#: The FAT image's size; the kernel (≈ 8 MB) and initramfs (≈ 1 MB) fit with room to spare.
FAT_MIB = 32

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
for m in /lib/modules/*.ko; do insmod "$m"; done
name=vmdash-guest
oem=/sys/firmware/dmi/entries/11-0/raw
if [ -r "$oem" ]; then
  found=$(tail -c +6 "$oem" | tr '\0' '\n' | sed -n 's/^vmdash-name://p' | head -n 1)
  [ -n "$found" ] && name="$found"
fi
uuid=$(cat /sys/class/dmi/id/product_uuid 2>/dev/null)
echo "$name" > /etc/instance-name
hostname "$(echo "$name" | tr -c 'A-Za-z0-9.-' '-' | cut -c 1-63 | sed 's/-*$//')"
mkdir -p /etc/acpi/PWRF
printf '#!/bin/sh\n/bin/poweroff\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
# busybox acpid exits at once when it cannot open its log (/var/log/acpid.log).
mkdir -p /var/log /var/run
acpid
cat > /etc/inittab <<EOF
ttyS0::respawn:-/bin/sh
tty1::respawn:-/bin/sh
::ctrlaltdel:/bin/reboot
::shutdown:/bin/echo vmdash-guest: going down
EOF
echo 'export PS1="root@$(hostname):\w# "' > /etc/profile
mem=$(sed -n 's/^MemTotal: *//p' /proc/meminfo)
echo "vmdash-guest: $name booted (uuid $uuid, memory $mem, up $(cut -d' ' -f1 /proc/uptime) s)"
exec /bin/busybox init
"""

SYSLINUX_CFG = """DEFAULT vmdash
PROMPT 0
TIMEOUT 0
LABEL vmdash
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=tty1 console=ttyS0,115200 quiet panic=5
"""

#: Bump when the build steps change in a way the texts above do not show.
RECIPE_VERSION = "1"


class BuildError(Exception):
    pass


def _run(*argv: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(
            f"{argv[0]} is not installed (bash .ci/setup's install_libvirt_daemon)"
        ) from None
    except subprocess.CalledProcessError as exc:
        raise BuildError(
            f"{' '.join(argv)} failed: {exc.stderr.strip() or exc.stdout.strip()}"
        ) from None
    return done.stdout


def kernel_package() -> str:
    """The versioned kernel package the ``linux-image-amd64`` meta-package depends on."""
    for line in _run("apt-cache", "depends", KERNEL_META_PACKAGE).splitlines():
        line = line.strip()
        if line.startswith("Depends:") and "linux-image-" in line:
            return line.split(":", 1)[1].strip()
    raise BuildError(f"apt-cache knows no kernel behind {KERNEL_META_PACKAGE}: run apt-get update")


def _version(package: str) -> str:
    return _run("apt-cache", "policy", package).split("Candidate:", 1)[-1].split()[0]


def recipe_hash(kernel: str) -> str:
    parts = [RECIPE_VERSION, INIT, SYSLINUX_CFG, kernel, _version(kernel), str(FAT_MIB)]
    parts.append(_run("dpkg-query", "-W", "-f=${Version}", "busybox-static"))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def cache_dir() -> Path:
    return Path(settings.BASE_DIR) / "var" / "guest-image"


def _initramfs(root: Path, kernel_tree: Path, out: Path) -> None:
    for sub in ("bin", "dev", "etc", "lib/modules", "proc", "sys", "tmp", "root"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    modules = next((kernel_tree / "lib" / "modules").iterdir())
    for order, module in enumerate(MODULES):
        # Loaded in name order: button first, evdev second.
        shutil.copy2(modules / module, root / "lib" / "modules" / f"{order}-{Path(module).name}")
    init = root / "init"
    init.write_text(INIT)
    init.chmod(0o755)
    # The kernel opens /dev/console before devtmpfs is mounted: it must be in the archive.
    _run("mknod", "-m", "600", str(root / "dev" / "console"), "c", "5", "1")
    _run("mknod", "-m", "666", str(root / "dev" / "null"), "c", "1", "3")
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    archive = subprocess.run(
        ["cpio", "-o", "-H", "newc", "--quiet"],
        cwd=root,
        input="\n".join([".", *names]).encode(),
        check=True,
        capture_output=True,
    ).stdout
    out.write_bytes(gzip.compress(archive, compresslevel=9, mtime=0))


def build(*, force: bool = False, log: Callable[[str], None] = print) -> Path:
    """The built qcow2 (from the cache when the recipe has not changed)."""
    kernel = kernel_package()
    target_dir = cache_dir() / recipe_hash(kernel)
    target = target_dir / f"{IMAGE_NAME}.qcow2"
    if target.is_file() and not force:
        log(f"Using the cached build {target}")
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_dir) as tmp:
        work = Path(tmp)
        log(f"Downloading {kernel} with apt-get")
        _run("apt-get", "download", "-q", kernel, cwd=work)
        deb = next(work.glob("*.deb"))
        tree = work / "kernel"
        tree.mkdir()
        _run("dpkg-deb", "-x", str(deb), str(tree))
        vmlinuz = next((tree / "boot").glob("vmlinuz-*"))
        log("Building the busybox initramfs")
        _initramfs(work / "initramfs", tree, work / "initrd.gz")
        log("Writing a FAT disk with SYSLINUX")
        disk = work / "disk.img"
        _run("mkfs.vfat", "-n", "VMDASH", "-C", str(disk), str(FAT_MIB * 1024))
        shutil.copy2(vmlinuz, work / "vmlinuz")
        (work / "syslinux.cfg").write_text(SYSLINUX_CFG)
        env_files = [str(work / n) for n in ("vmlinuz", "initrd.gz", "syslinux.cfg")]
        _run("mcopy", "-i", str(disk), *env_files, "::")
        _run("syslinux", "--install", str(disk))
        partial = target_dir / f".{IMAGE_NAME}.qcow2.part"
        _run("qemu-img", "convert", "-c", "-O", "qcow2", str(disk), str(partial))
        os.replace(partial, target)
    log(f"Built {target} ({target.stat().st_size // 1024} KiB)")
    return target


def build_and_register(*, force: bool = False, log: Callable[[str], None] = print) -> Image:
    """Build (or reuse) the guest and make ``vmdash-guest`` an active image with its bytes."""
    built = build(force=force, log=log)
    current = Image.objects.filter(pk=IMAGE_ID).first()
    if current is not None and current.status == Image.Status.ACTIVE:
        path = image_path(current)
        same = path is not None and path.is_file() and current.size == built.stat().st_size
        if same and facts_of(path).checksum == facts_of(built).checksum:  # type: ignore[arg-type]
            log(f"{IMAGE_NAME} is up to date (image {IMAGE_ID})")
            return current
    image = image_import(name=IMAGE_NAME, source=built, image_id=IMAGE_ID, min_ram=64)
    log(f"Registered {IMAGE_NAME} as image {image.pk}")
    return image
