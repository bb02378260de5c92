"""From the outbox to notifications, by sequence, with a durable cursor.

A pass locks the cursor row (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL: a second
process finds it locked and skips the pass — the cursor row is the lease), reads the outbox
after the cursor and the holes still awaited, writes each matching subscriber's
``Notification`` (unique per user and change), its ``Delivery`` rows and the bell's outbox row,
and moves the cursor — all in one transaction. Either all of a pass is committed or none of it:
a crash mid-pass redoes the pass, never a half of it, so a change is told once and never lost.

Sequence numbers are taken at INSERT and become visible at COMMIT, so a hole below the newest
row read may still fill in; the cursor remembers such holes (with when they were noticed) and
reads them again until they show up or ``gap_patience`` says they rolled back, as the relay
does (``compute.outbox.relay``).

A fresh cursor starts at the outbox's end. The outbox keeps ``outbox_retention`` seconds of
changes: a notifier stopped for longer loses what was pruned meanwhile (docs/NOTIFICATIONS.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from compute.models import (
    ChangeEvent,
    Delivery,
    EventKind,
    Membership,
    Notification,
    NotifierCursor,
    Role,
    Subscription,
)
from compute.notify.conf import notify_conf
from compute.notify.events import (
    Change,
    classify_all,
    envelope,
    latest_faults,
    primary_kind,
    title_for,
)
from compute.outbox.write import record_notifications

CURSOR = "notifications"
#: Holes remembered at most; a larger jump in the sequence is not transactions in flight.
HOLES_KEPT = 1000


def cursor_start() -> NotifierCursor:
    """The cursor, created at the outbox's end the first time."""
    latest = ChangeEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    cursor, _ = NotifierCursor.objects.get_or_create(name=CURSOR, defaults={"last_seq": latest})
    return cursor


def derive_once() -> dict[str, int]:
    """One pass; what it read and wrote. ``{"skipped": 1}`` when another process holds the
    cursor. A pass that finds nothing new writes nothing (an idle web process's notifier costs
    PostgreSQL two reads a pass, and no commit to flush)."""
    conf = notify_conf()
    with transaction.atomic():
        _plan_for_values()
        cursor = _locked_cursor()
        if cursor is None:
            return {"skipped": 1, "read": 0, "notifications": 0}
        before = (cursor.last_seq, cursor.holes or {})
        holes: dict[str, float] = dict(before[1])
        wanted = Q(id__gt=cursor.last_seq)
        if holes:
            wanted |= Q(id__in=[int(h) for h in holes])
        rows = list(ChangeEvent.objects.filter(wanted).order_by("id")[: conf.batch])
        changes = classify_all(rows)
        made = _tell(changes) if changes else 0
        cursor.last_seq, cursor.holes = _advance(
            cursor.last_seq, holes, [row.id for row in rows], conf.gap_patience
        )
        if (cursor.last_seq, cursor.holes) != before:
            cursor.save(update_fields=["last_seq", "holes", "updated_at"])
    return {"skipped": 0, "read": len(rows), "notifications": made}


def _plan_for_values() -> None:
    """PostgreSQL: plan this pass's statements for their values, for the reason the relay's
    connection does (``compute.outbox.listener``: a generic plan kept from an empty outbox scans
    all of it where nothing runs ANALYZE; here 0.07 → 0.6 ms a pass in four minutes). Django's
    connections prepare what they run five times, so this pass's reads would be kept plans."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")


def _locked_cursor() -> NotifierCursor | None:
    """The cursor, locked for this pass; None when another process holds it. Made (at the
    outbox's end) by the first pass that finds none."""
    locked = NotifierCursor.objects.select_for_update(skip_locked=True).filter(name=CURSOR)
    cursor = locked.first()
    if cursor is None and not NotifierCursor.objects.filter(name=CURSOR).exists():
        cursor_start()
        cursor = locked.first()
    return cursor


def _advance(
    last: int, holes: dict[str, float], read: list[int], patience: float
) -> tuple[int, dict[str, float]]:
    now = time.time()
    for pk in read:
        holes.pop(str(pk), None)
    expected = last + 1
    for pk in sorted(p for p in read if p >= expected):
        if pk - expected <= HOLES_KEPT:
            for missing in range(expected, pk):
                holes.setdefault(str(missing), now)
        expected = pk + 1
    holes = {h: since for h, since in holes.items() if now - since <= patience}
    while len(holes) > HOLES_KEPT:
        del holes[min(holes, key=int)]
    return max(last, expected - 1), holes


def _subscriptions(changes: list[Change]) -> dict[int, list[Subscription]]:
    """Every subscription matching each change (by outbox sequence), in one query."""
    S = Subscription.Scope
    instances, projects, hosts = set(), set(), set()
    for change in changes:
        if change.kind == ChangeEvent.Kind.HOST:
            hosts.add(change.payload.get("host") or "")
            continue
        instances.add(change.object_id)
        if change.project_id:
            projects.add(change.project_id)
        if change.host:
            hosts.add(change.host)
    match = Q(scope=S.INSTANCE, target__in=instances) | Q(scope=S.PROJECT, target__in=projects)
    if hosts:
        match |= Q(scope=S.HOST, target__in=hosts)
    index: dict[tuple[str, str], list[Subscription]] = {}
    for sub in Subscription.objects.filter(match).select_related("user").order_by("id"):
        index.setdefault((sub.scope, sub.target), []).append(sub)
    found: dict[int, list[Subscription]] = {}
    for change in changes:
        if change.kind == ChangeEvent.Kind.HOST:
            keys = [(S.HOST, change.payload.get("host") or "")]
        else:
            keys = [(S.INSTANCE, change.object_id), (S.PROJECT, change.project_id or "")]
            if change.host:
                keys.append((S.HOST, change.host))
        subs = [sub for key in keys for sub in index.get(key, ())]
        found[change.seq] = sorted(
            (sub for sub in subs if set(sub.events) & change.kinds), key=lambda sub: sub.pk
        )
    return found


def _roles(user_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    roles: dict[int, dict[str, str]] = {}
    for user_id, project, role in Membership.objects.filter(user_id__in=list(user_ids)).values_list(
        "user_id", "project_id", "role"
    ):
        roles.setdefault(user_id, {})[project] = role
    return roles


def _admins(user_ids: Iterable[int], roles: dict[int, dict[str, str]]) -> set[int]:
    """Nova's ``role:admin`` as the pages judge it: a superuser or an admin in any project."""
    superusers = set(
        get_user_model()
        .objects.filter(pk__in=list(user_ids), is_superuser=True)
        .values_list("pk", flat=True)
    )
    return superusers | {u for u, r in roles.items() if Role.ADMIN in r.values()}


def _tell(changes: list[Change]) -> int:
    """The notifications of a batch of changes: one per (user, change) whose subscriptions want
    it and who may still see it (membership is checked now, not only when they subscribed).
    The batch's reads and writes are a handful of statements, whatever its size."""
    matched = _subscriptions(changes)
    users = {sub.user_id for subs in matched.values() for sub in subs}
    if not users:
        return 0
    roles = _roles(users)
    admins = _admins(users, roles)
    seqs = [c.seq for c in changes if matched.get(c.seq)]
    already = set(
        Notification.objects.filter(user_id__in=list(users), change_seq__in=seqs).values_list(
            "user_id", "change_seq"
        )
    )
    faults = latest_faults(
        [
            c.object_id
            for c in changes
            if matched.get(c.seq)
            and c.kind == ChangeEvent.Kind.INSTANCE
            and c.kinds - {EventKind.POWER_CORRECTED}
        ]
    )
    now = timezone.now()
    made: list[tuple[Notification, list[Subscription]]] = []
    for change in changes:
        by_user: dict[int, list[Subscription]] = {}
        owner = change.payload.get("owner_id") if change.kind == ChangeEvent.Kind.SCHEDULE else None
        for sub in matched.get(change.seq, ()):
            if owner is not None and sub.user_id != owner:
                continue  # a scheduled run's outcome is its owner's news only
            by_user.setdefault(sub.user_id, []).append(sub)
        fault = faults.get(change.object_id)
        for user_id, user_subs in by_user.items():
            if (user_id, change.seq) in already or not user_subs[0].user.is_active:
                continue
            admin = user_id in admins
            visible = [s for s in user_subs if _may_see(s, change, admin, roles.get(user_id, {}))]
            wanted = set().union(*(set(s.events) for s in visible)) if visible else set()
            kind = primary_kind(change, wanted)
            if kind is None:
                continue
            title = title_for(change, kind, fault)
            body = envelope(
                change, kind, admin=admin, fault=fault, key=f"{user_id}:{change.seq}", title=title
            )
            notification = Notification(
                user_id=user_id,
                subscription=visible[0],
                change_seq=change.seq,
                kind=kind,
                event_type=body["event_type"],
                object_id=change.object_id,
                project_id=change.project_id,
                title=title,
                payload=body,
            )
            made.append((notification, visible))
    if not made:
        return 0
    Notification.objects.bulk_create([n for n, _ in made])
    _deliveries(made, now)
    _ring([n for n, _ in made])
    return len(made)


def _may_see(sub: Subscription, change: Change, admin: bool, roles: dict[str, str]) -> bool:
    if admin:
        return True
    if sub.scope == Subscription.Scope.HOST or change.kind == ChangeEvent.Kind.HOST:
        return False
    return change.project_id in roles


def _deliveries(made: list[tuple[Notification, list[Subscription]]], now: Any) -> None:
    rows: list[Delivery] = []
    for notification, subs in made:
        seen: set[tuple[str, str]] = set()
        for sub in subs:
            if notification.kind not in sub.events:
                continue
            targets = []
            if sub.email and sub.user.email:
                targets.append((Delivery.Channel.EMAIL, sub.user.email))
            if sub.webhook_url:
                targets.append((Delivery.Channel.WEBHOOK, sub.webhook_url))
            for channel, target in targets:
                if (channel, target) in seen:
                    continue
                seen.add((channel, target))
                rows.append(
                    Delivery(
                        notification=notification,
                        subscription=sub,
                        channel=channel,
                        target=target,
                        next_attempt_at=now - timedelta(microseconds=1),
                    )
                )
    Delivery.objects.bulk_create(rows)


def _ring(notifications: list[Notification]) -> None:
    """The bells' outbox rows, one per notification: only its user's sockets receive it
    (``outbox.audience``); each carries the user's unread count after it."""
    users = {n.user_id for n in notifications}
    unread = dict(
        Notification.objects.filter(user_id__in=list(users), read_at__isnull=True)
        .values("user_id")
        .annotate(n=Count("id"))
        .values_list("user_id", "n")
    )
    # The user's count as of each notification: later ones of the batch are not yet counted.
    later: dict[int, int] = {}
    deltas = []
    for n in reversed(notifications):
        count = unread.get(n.user_id, 0) - later.get(n.user_id, 0)
        later[n.user_id] = later.get(n.user_id, 0) + 1
        deltas.append(
            {
                "type": "notification",
                "id": str(n.user_id),
                "version": n.pk,
                "unread": count,
                "title": n.title,
                "kind": n.kind,
                "event_type": n.event_type,
                "object_id": n.object_id,
            }
        )
    record_notifications(list(reversed(deltas)))
