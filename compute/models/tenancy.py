"""Projects and who belongs to them. A user's role in a project is ``member``, ``manager`` or
``admin``, each implying the ones before it as Keystone's implied roles do. An admin role (or a
Django superuser) is Nova's ``role:admin``: it sees and acts on everything. A manager is a member
who also passes Nova's ``PROJECT_MANAGER_OR_ADMIN`` rules (cold and live migration without a
host, the project's migrations) for that project only."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    """The roles, lowest first; a role holds every right of the roles listed before it."""

    MEMBER = "member", "Member"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def implies(self, other: str) -> bool:
        """Whether holding this role gives ``other``'s rights (admin implies manager …)."""
        return self.rank >= Role(other).rank


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=64, editable=False)
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.id:
            self.id = uuid.uuid4().hex
        super().save(*args, **kwargs)


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="one_membership_per_project")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"
