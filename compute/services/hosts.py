"""Host services: registering a compute service, its heartbeat, and the admin's switches
(disable with a reason for maintenance, enable, force down and back).

Each admin change bumps the host's version, is published and is written to the host's audit
trail (``HostAuditEntry``: who, from which client, before → after, the reason, the outcome), all
in one transaction: a change that rolls back leaves neither an event nor an audit row. A request
to live-migrate a host's instances away is audited the same way, with each instance's verdict.
The heartbeat is not published: it changes nothing a page shows unless it changes host_status,
and that flip is published here (a heartbeat resuming) or by the watchdog (a heartbeat
expiring).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypedDict

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from compute import policy
from compute.context import RequestContext
from compute.exceptions import ComputeError, Invalid
from compute.models import Host, HostAuditEntry, Instance
from compute.outbox import write as events
from compute.selectors import uuid_or_none
from compute.services.instances import instance_action


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
    policy.authorize(context, "os_compute_api:os-services:update")
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
        # Read under the transaction's write lock (SQLite) or row lock (PostgreSQL), so the
        # "before" of the audit row is what this change really replaced.
        before = _switches(Host.objects.select_for_update().get(pk=host.pk))
        Host.objects.filter(pk=host.pk).update(**updates)
        host.refresh_from_db()
        status_now = str(host.host_status)
        Host.objects.filter(pk=host.pk).update(published_status=status_now)
        host.published_status = status_now
        events.record_host_change(host, status=status_now)
        after = _switches(host)
        _audit(
            context,
            host,
            operation=_operation(status=status, forced_down=forced_down),
            before=before,
            after=after,
            reason=disabled_reason,
            outcome=(
                HostAuditEntry.Outcome.CHANGED
                if before != after
                else HostAuditEntry.Outcome.UNCHANGED
            ),
        )
    return host


class MigrationVerdict(TypedDict):
    instance: str
    name: str
    accepted: bool
    message: str


MIGRATE = "os-migrateLive"


def host_migrate_away(
    *, context: RequestContext, host: Host, instance_uuids: Collection[str]
) -> list[MigrationVerdict]:
    """Live-migrate the chosen instances of ``host`` away (the scheduler picks destinations),
    each accepted or refused on its own, and audit the request with every verdict.

    One transaction: each instance's action runs in a savepoint, so a refusal undoes only its
    own attempt, and the audit row commits with the migrations it records. Instances that are
    not (or no longer) on the host are skipped; with none left nothing is asked or audited.
    """
    policy.authorize(context, "os_compute_api:os-migrate-server:migrate_live")
    wanted = [u for u in map(uuid_or_none, instance_uuids) if u is not None]
    # Only what a verdict names; each action reads its instance itself.
    residents = list(
        Instance.objects.filter(host=host, deleted_at__isnull=True, uuid__in=wanted)
        .order_by("name", "id")
        .only("uuid", "name")
    )
    if not residents:
        return []
    verdicts: list[MigrationVerdict] = []
    with transaction.atomic():
        before = _switches(host)
        for instance in residents:
            try:
                with transaction.atomic():
                    instance_action(
                        context=context, instance_uuid=str(instance.uuid), action=MIGRATE
                    )
            except ComputeError as error:
                verdicts.append(_verdict(instance, accepted=False, message=error.message))
            else:
                verdicts.append(
                    _verdict(instance, accepted=True, message="Live migration accepted.")
                )
        accepted = sum(v["accepted"] for v in verdicts)
        _audit(
            context,
            host,
            operation=HostAuditEntry.Operation.MIGRATE_AWAY,
            before=before,
            after=before,
            outcome=(
                HostAuditEntry.Outcome.ACCEPTED
                if accepted == len(verdicts)
                else HostAuditEntry.Outcome.PARTLY_ACCEPTED
                if accepted
                else HostAuditEntry.Outcome.REFUSED
            ),
            details=list(verdicts),
        )
    return verdicts


def _verdict(instance: Instance, *, accepted: bool, message: str) -> MigrationVerdict:
    return {"instance": str(instance.uuid), "name": instance.name, "accepted": accepted,
            "message": message}  # fmt: skip


def _switches(host: Host) -> dict[str, Any]:
    return {
        "disabled": host.disabled,
        "disabled_reason": host.disabled_reason,
        "forced_down": host.forced_down,
        "host_status": str(host.host_status),
    }


def _operation(*, status: str | None, forced_down: bool | None) -> str:
    asked = []
    if status is not None:
        asked.append(
            HostAuditEntry.Operation.DISABLE
            if status == "disabled"
            else HostAuditEntry.Operation.ENABLE
        )
    if forced_down is not None:
        asked.append(
            HostAuditEntry.Operation.FORCE_DOWN
            if forced_down
            else HostAuditEntry.Operation.FORCE_UP
        )
    return asked[0] if len(asked) == 1 else HostAuditEntry.Operation.UPDATE


def _audit(
    context: RequestContext,
    host: Host,
    *,
    operation: str,
    before: dict[str, Any],
    after: dict[str, Any],
    outcome: str,
    reason: str | None = None,
    details: list[Any] | None = None,
) -> HostAuditEntry:
    """Append one audit row; the caller holds the change's transaction."""
    return HostAuditEntry.objects.create(
        host=host,
        request_id=context.request_id,
        user_id=context.user_id,
        user_name=context.user_name,
        client=context.client,
        operation=operation,
        before=before,
        after=after,
        reason=reason,
        outcome=outcome,
        details=details or [],
    )
