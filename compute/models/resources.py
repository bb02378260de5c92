"""The tenant resources Nova's API serves beside servers: key pairs, quota limits (per project
and per class), host aggregates and server groups. No state columns here."""

from __future__ import annotations

import uuid

from django.db import models


class KeyPair(models.Model):
    """A user's SSH (or x509, 2.2+) public key, by name (``os-keypairs``)."""

    user_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=8, default="ssh")
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_id", "name"], name="keypair_user_name")
        ]


class QuotaLimit(models.Model):
    """A limit set for a project (``os-quota-sets``); absent ones fall back to the class's."""

    project_id = models.CharField(max_length=64)
    resource = models.CharField(max_length=64)
    hard_limit = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project_id", "resource"], name="quota_project_res")
        ]


class QuotaClassLimit(models.Model):
    """A limit of a quota class (``os-quota-class-sets``); only ``default`` is applied."""

    class_name = models.CharField(max_length=255)
    resource = models.CharField(max_length=64)
    hard_limit = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["class_name", "resource"], name="quota_class_res")
        ]


class Aggregate(models.Model):
    """A host aggregate, possibly an availability zone (``os-aggregates``)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255, unique=True)
    availability_zone = models.CharField(max_length=255, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    hosts = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(null=True, blank=True)


class ServerGroup(models.Model):
    """A server group with its policy; the scheduler honours affinity and anti-affinity."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255)
    project_id = models.CharField(max_length=64, db_index=True)
    user_id = models.CharField(max_length=64)
    policy = models.CharField(max_length=32)
    rules = models.JSONField(default=dict, blank=True)
    #: Instance uuids, in the order they joined.
    members = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class ServerExtras(models.Model):
    """What Nova's API keeps about a server beside its state (``compute.services.server_extras``)."""

    instance = models.OneToOneField(
        "compute.Instance", on_delete=models.CASCADE, primary_key=True, related_name="extras"
    )
    access_ip_v4 = models.CharField(max_length=39, null=True, blank=True)
    access_ip_v6 = models.CharField(max_length=39, null=True, blank=True)
    disk_config = models.CharField(max_length=8, null=True, blank=True)
    key_name = models.CharField(max_length=255, null=True, blank=True)
    user_data = models.TextField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    #: The create request's reservation id when it made several servers (else derived).
    reservation_id = models.CharField(max_length=16, null=True, blank=True, db_index=True)
    #: Names of the server's security groups; None means the default group only.
    security_groups = models.JSONField(null=True, blank=True)


class FlavorAccess(models.Model):
    """A project's access to a private flavor (``os-flavor-access``)."""

    flavor = models.ForeignKey("compute.Flavor", on_delete=models.CASCADE, related_name="access")
    project_id = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flavor", "project_id"], name="flavor_access_project")
        ]


class SecurityGroup(models.Model):
    """A project's security group (``compute.services.security_groups``); ``default`` is made on first
    use. Servers name theirs in ``ServerExtras.security_groups``."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project_id = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]


class SecurityGroupRule(models.Model):
    """An ingress rule of a security group: a protocol and port range from a CIDR or from the
    members of another group (deleted with that group, as in Neutron)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    group = models.ForeignKey(SecurityGroup, on_delete=models.CASCADE, related_name="rules")
    protocol = models.CharField(max_length=16, null=True, blank=True)
    from_port = models.IntegerField(null=True, blank=True)
    to_port = models.IntegerField(null=True, blank=True)
    cidr = models.CharField(max_length=64, null=True, blank=True)
    remote_group = models.ForeignKey(
        SecurityGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
