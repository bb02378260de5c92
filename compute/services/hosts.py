"""Host services: registering a compute service, its heartbeat, and the admin's switches
(disable with a reason for maintenance, enable, force down and back).

Each admin change bumps the host's version and is published in the same transaction. The
heartbeat is not published: it changes nothing a page shows unless it changes host_status, and
that flip is published here (a heartbeat resuming) or by the watchdog (a heartbeat expiring).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from compute import events
from compute.context import RequestContext
from compute.exceptions import Forbidden, Invalid
from compute.models import Host


def host_register(
    *, host: str, driver: str = "fake", driver_uri: str = "", zone: str = "nova"
) -> Host:
    """The service record an agent runs under; created on first start, kept afterwards."""
    if not host or len(host) > 255:
        raise Invalid("A host name of 1 to 255 characters is required.")
    row, created = Host.objects.get_or_create(
        host=host, defaults={"driver": driver, "driver_uri": driver_uri, "zone": zone}
    )
    if created:
        with transaction.atomic():
            events.record_host_change(row)
    elif (row.driver, row.driver_uri) != (driver, driver_uri):
        Host.objects.filter(pk=row.pk).update(driver=driver, driver_uri=driver_uri)
    return row


def host_heartbeat(*, host: Host) -> Host:
    """Stamp the service as alive (Nova's report_count / last_seen_up)."""
    now = timezone.now()
    Host.objects.filter(pk=host.pk).update(
        last_seen_up=now, report_count=F("report_count") + 1, updated_at=now
    )
    host.refresh_from_db()
    publish_status_if_changed(host)
    return host


def publish_status_if_changed(host: Host) -> bool:
    """Publish host_status if it differs from what browsers were last told.

    The conditional UPDATE on ``published_status`` makes exactly one process publish a flip,
    however many agents and web processes notice it at once.
    """
    status = str(host.host_status)
    if status == host.published_status:
        return False
    with transaction.atomic():
        won = Host.objects.filter(pk=host.pk, published_status=host.published_status).update(
            published_status=status, version=F("version") + 1
        )
        if not won:
            return False
        host.refresh_from_db()
        events.record_host_change(host, status=status)
    return True


def host_update(
    *,
    context: RequestContext,
    host: Host,
    status: str | None = None,
    disabled_reason: str | None = None,
    forced_down: bool | None = None,
) -> Host:
    """The admin's switches, with Nova's validation (``PUT /os-services/{uuid}``)."""
    if not context.is_admin:
        raise Forbidden("Policy doesn't allow os_compute_api:os-services:update to be performed.")
    if status is None and disabled_reason is None and forced_down is None:
        raise Invalid(
            "No updates were requested. Fields 'status' or 'forced_down' should be specified."
        )
    if status is not None and status not in ("enabled", "disabled"):
        raise Invalid("Invalid input for field/attribute status.")
    if disabled_reason is not None:
        if status != "disabled":
            raise Invalid("Specifying 'disabled_reason' with status 'enabled' is invalid.")
        if not disabled_reason.strip() or len(disabled_reason) > 255:
            raise Invalid("Invalid input for field/attribute disabled_reason.")
    if forced_down is not None and not isinstance(forced_down, bool):
        raise Invalid("Invalid input for field/attribute forced_down.")
    updates: dict[str, object] = {"updated_at": timezone.now(), "version": F("version") + 1}
    if status == "disabled":
        updates.update(disabled=True, disabled_reason=disabled_reason)
    elif status == "enabled":
        updates.update(disabled=False, disabled_reason=None)
    if forced_down is not None:
        updates["forced_down"] = forced_down
    with transaction.atomic():
        Host.objects.filter(pk=host.pk).update(**updates)
        host.refresh_from_db()
        status_now = str(host.host_status)
        Host.objects.filter(pk=host.pk).update(published_status=status_now)
        host.published_status = status_now
        events.record_host_change(host, status=status_now)
    return host
