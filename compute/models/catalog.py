"""Flavors and images: what an instance is sized by and booted from."""

from __future__ import annotations

import uuid

from django.db import models


class Flavor(models.Model):
    #: Nova's flavor ids are strings ("1" … "5" for the classic m1 flavors).
    flavorid = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255, unique=True)
    vcpus = models.PositiveIntegerField()
    ram = models.PositiveIntegerField(help_text="MiB")
    disk = models.PositiveIntegerField(help_text="GiB")
    ephemeral = models.PositiveIntegerField(default=0)
    swap = models.PositiveIntegerField(default=0)
    rxtx_factor = models.FloatField(default=1.0)
    is_public = models.BooleanField(default=True)
    description = models.TextField(null=True, blank=True)
    extra_specs = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["ram", "flavorid"]

    def __str__(self) -> str:
        return self.name


class Image(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SAVING = "saving", "Saving"
        ACTIVE = "active", "Active"
        DELETED = "deleted", "Deleted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    min_disk = models.PositiveIntegerField(default=0)
    min_ram = models.PositiveIntegerField(default=0)
    size = models.BigIntegerField(default=0)
    progress = models.PositiveSmallIntegerField(default=100)
    #: The instance a snapshot was taken from, if any.
    server = models.ForeignKey(
        "compute.Instance", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    metadata = models.JSONField(default=dict, blank=True)
    #: Glance's formats: what the bytes are (qcow2, raw …) and what wraps them (bare).
    disk_format = models.CharField(max_length=16, null=True, blank=True)
    container_format = models.CharField(max_length=16, null=True, blank=True)
    #: The image's bytes, relative to settings.IMAGE_DIR; empty for a catalogue entry
    #: with no file (the seeded demo images), which only the fake hypervisor can boot.
    file = models.CharField(max_length=255, blank=True, default="")
    #: Glance's checksum (MD5) and multihash (SHA-512) of the file's bytes.
    checksum = models.CharField(max_length=32, null=True, blank=True)
    os_hash_value = models.CharField(max_length=128, null=True, blank=True)
    #: Bytes a guest sees (a qcow2's virtual size); ``size`` is the file's bytes.
    virtual_size = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def owner(self) -> str | None:
        """The project owning an image created through Glance (``compute.services.glance`` keeps it among
        the properties); None for the catalogue and for snapshots (their server's project)."""
        return (self.metadata or {}).get("owner")
