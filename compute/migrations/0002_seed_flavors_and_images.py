"""Seed Nova's classic flavors (m1.tiny … m1.xlarge) and a small image catalogue."""

from __future__ import annotations

import uuid

from django.db import migrations

FLAVORS = [
    # flavorid, name, vcpus, ram MiB, disk GiB
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
]

# Fixed ids, so clients and docs can name them across installations.
IMAGES = [
    ("3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0001", "cirros-0.6.2-x86_64-disk", 21430272, 1, 64),
    ("3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0002", "debian-12-genericcloud-amd64", 338165760, 2, 512),
    ("3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0003", "ubuntu-24.04-server-cloudimg-amd64", 587202560, 3, 1024),
    ("3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0004", "fedora-40-cloud-base", 414187520, 3, 1024),
    ("3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0005", "rescue-systemrescue-11", 880803840, 1, 1024),
]


def seed(apps, schema_editor):  # noqa: ANN001, ANN201
    Flavor = apps.get_model("compute", "Flavor")
    Image = apps.get_model("compute", "Image")
    for flavorid, name, vcpus, ram, disk in FLAVORS:
        Flavor.objects.get_or_create(
            flavorid=flavorid, defaults={"name": name, "vcpus": vcpus, "ram": ram, "disk": disk}
        )
    for pk, name, size, min_disk, min_ram in IMAGES:
        Image.objects.get_or_create(
            id=uuid.UUID(pk),
            defaults={"name": name, "size": size, "min_disk": min_disk, "min_ram": min_ram},
        )


def unseed(apps, schema_editor):  # noqa: ANN001, ANN201
    apps.get_model("compute", "Flavor").objects.filter(flavorid__in=[f[0] for f in FLAVORS]).delete()
    apps.get_model("compute", "Image").objects.filter(id__in=[i[0] for i in IMAGES]).delete()


class Migration(migrations.Migration):
    dependencies = [("compute", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
