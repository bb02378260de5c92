"""``manage.py build_guest_image [--force]``: build the tiny ``vmdash-guest`` and register it."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from compute.exceptions import ComputeError
from compute.guest_image import BuildError, build_and_register


class Command(BaseCommand):
    help = (
        "Build a tiny BIOS-bootable qcow2 guest from Debian packages only (kernel, busybox, "
        "syslinux) and register it as the image 'vmdash-guest'. Cached under var/guest-image: "
        "rebuilt only when the recipe or the packages change."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--force", action="store_true", help="rebuild even if cached")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            image = build_and_register(force=options["force"], log=self.stdout.write)
        except BuildError as error:
            raise CommandError(str(error)) from None
        except ComputeError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"{image.name} {image.pk} {image.disk_format} {image.size} bytes")
