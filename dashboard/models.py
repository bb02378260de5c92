"""The edges' own tables: API tokens, as Keystone issues them, and each user's preferences.

A token is scoped to one project (or unscoped) and expires after ``settings.TOKEN_TTL``
seconds. Only a SHA-256 digest of the token is stored, so a database dump yields no usable
token. A revoked token stays until it would have expired, so a replay is recognised as revoked.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Token(models.Model):
    #: SHA-256 hex digest of the token the client holds (``X-Subject-Token``).
    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    #: The project the token is scoped to; NULL for an unscoped token.
    project = models.ForeignKey(
        "compute.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    #: Keystone's authentication methods (``["password"]``, ``["token", "password"]``).
    methods = models.JSONField(default=list)
    audit_id = models.CharField(max_length=32)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"token {self.audit_id} of {self.user_id}"


class Preference(models.Model):
    """What a user chose for the pages, kept across browsers and sessions."""

    class Theme(models.TextChoices):
        #: Follow the browser's ``prefers-color-scheme``.
        AUTO = "auto", _("Follow the system")
        LIGHT = "light", _("Light")
        DARK = "dark", _("Dark")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.AUTO)
    #: A language of ``settings.LANGUAGES``; empty: the browser's (Accept-Language).
    language = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.theme}"


class SavedView(models.Model):
    """A named instances-list query (filters, sort, page size) a user keeps per project; its
    link is the list's own URL, so it can be shared with anyone who may see the project."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    #: The project it belongs to; NULL for the "all projects" view.
    project = models.ForeignKey(
        "compute.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=80)
    #: The list's query string, normalised (only the list's own parameters).
    query = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "project", "name"], name="one_saved_view_name_per_project"
            )
        ]

    def __str__(self) -> str:
        return self.name
