"""The fake hypervisor's guests, kept in the database so every process sees the same guests:
the agent that runs an action, ``sync_power_states`` in another process, and ``fake_guest``
changing a guest behind the dashboard's back as a guest OS ``shutdown -h`` would.

These rows are the *hypervisor's* truth, not the dashboard's: ``state`` is what the fake
hypervisor reports, and the power-state sync copies it into ``Instance.power_state``.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class FakeGuest(models.Model):
    uuid = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255, db_index=True)
    name = models.CharField(max_length=255)
    #: The hypervisor's power state, as a Nova power_state integer.
    state = models.PositiveSmallIntegerField()
    vcpus = models.PositiveIntegerField(default=1)
    memory_mb = models.PositiveIntegerField(default=512)
    image = models.CharField(max_length=255, blank=True, default="")
    rescued = models.BooleanField(default=False)
    #: Memory image kept by a managed save (suspend).
    saved = models.BooleanField(default=False)
    admin_password_set_at = models.DateTimeField(null=True, blank=True)
    #: When the guest OS last booted (its ``uptime``); null while it never ran.
    booted_at = models.DateTimeField(null=True, blank=True)
    #: The serial console's log over the guest's lifetime, its last 100 KiB
    #: (``compute.drivers.fake_console``); appended to by one atomic UPDATE each time.
    console_log = models.TextField(blank=True, default="")
    #: Who is logged in at the serial console; "" at the login prompt.
    console_user = models.CharField(max_length=32, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)
    disk_gb = models.PositiveIntegerField(default=1)
    #: ``fake_guest … slow-migration``: a live migration of this guest takes this long,
    #: advancing its figures as it goes (0: at once) …
    migration_seconds = models.FloatField(default=0.0)
    #: … and fails once it has copied this share (percent; None: it does not fail). The
    #: failure is used up by the migration it fails, as a ``FakeFailure`` is.
    migration_fail_at = models.PositiveSmallIntegerField(null=True, blank=True)


class FakeLifecycleEvent(models.Model):
    """A lifecycle event the fake hypervisor emitted; the agent of ``host`` tails these."""

    host = models.CharField(max_length=255, db_index=True)
    uuid = models.CharField(max_length=64)
    #: compute.drivers.base.Transition value.
    transition = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)


class FakeFailure(models.Model):
    """An armed failure: the next matching operation on ``host`` raises with ``message``."""

    host = models.CharField(max_length=255, blank=True, default="", help_text="'' = any host")
    operation = models.CharField(
        max_length=64, blank=True, default="", help_text="'' = any operation"
    )
    message = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
