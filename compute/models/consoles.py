"""Console tokens: the one-time, short-lived authorisation of one console connection (Nova's
``ConsoleAuthToken``). Only the token's SHA-256 is kept; the token itself is in the URL given
to the caller once. A socket consumes it with one conditional UPDATE (unused and unexpired →
used), so a token opens one connection, ever.
"""

from __future__ import annotations

from django.db import models


class ConsoleToken(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)
    instance = models.ForeignKey(
        "compute.Instance", on_delete=models.CASCADE, related_name="console_tokens"
    )
    #: The instance's project when issued: the socket's user must belong to it (or be admin).
    project = models.ForeignKey("compute.Project", on_delete=models.CASCADE)
    user_id = models.IntegerField(null=True)
    #: Nova's console_type: "novnc" or "serial".
    console_type = models.CharField(max_length=16)
    #: Where the graphics are served ("" for the fake's framebuffer and for serial consoles).
    host = models.CharField(max_length=255, blank=True, default="")
    port = models.IntegerField(default=0)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
