"""``manage.py import_image NAME FILE``: copy a disk image into the image store."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from compute.exceptions import ComputeError
from compute.image_store import image_import


class Command(BaseCommand):
    help = (
        "Register a qcow2 or raw disk image: its bytes are copied into IMAGE_DIR and it becomes "
        "an active public image that servers can boot from."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")
        parser.add_argument("file", type=Path)
        parser.add_argument("--min-ram", type=int, default=0, help="MiB")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            image = image_import(
                name=options["name"], source=options["file"], min_ram=options["min_ram"]
            )
        except ComputeError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"{image.name} {image.pk} {image.disk_format} {image.size} bytes")
