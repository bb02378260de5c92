"""What an open socket may see, checked again while it stays open.

A socket's groups are decided at connect, from the user's project memberships. Memberships,
sessions and accounts change while tabs stay open for days: a member removed from a project
must stop receiving that project's events, and a user who logged out (or was deactivated) must
stop receiving anything. Every ``ACCESS_RECHECK_INTERVAL`` seconds this process asks the
database, in two queries whatever the number of sockets, for the memberships and live sessions
of the users it holds sockets for; a socket whose access changed is regrouped (and its page
told to reload what it shows), a socket whose session or account is gone is closed.

The bound is the interval (default 5 s), for any way the change was made — the admin site,
``create_user``, SQL — and in every process, with no message between processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone

from compute.models import Membership
from compute.outbox.fanout import LocalFanout, local_fanout
from dashboard.context import context_for, is_admin
from dashboard.web.consumers import LiveConsumer

log = logging.getLogger(__name__)

_Access = tuple[frozenset[str], bool]


def _access_now(user_ids: set[int], session_keys: set[str]) -> tuple[dict[int, _Access], set[str]]:
    """(active user → (projects, admin), the live session keys)."""
    roles: defaultdict[int, dict[str, str]] = defaultdict(dict)
    for user_id, project_id, role in Membership.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "project_id", "role"
    ):
        roles[user_id][project_id] = role
    users = get_user_model().objects.filter(pk__in=user_ids, is_active=True)
    access: dict[int, _Access] = {}
    for user_id, superuser in users.values_list("pk", "is_superuser"):
        mine = roles.get(user_id, {})
        access[user_id] = (frozenset(mine), is_admin(mine, superuser=superuser))
    live = set(
        Session.objects.filter(
            session_key__in=session_keys, expire_date__gt=timezone.now()
        ).values_list("session_key", flat=True)
    )
    return access, live


def _session_key(consumer: LiveConsumer) -> str | None:
    session = consumer.scope.get("session")
    return getattr(session, "session_key", None)


async def recheck(fanout: LocalFanout | None = None) -> int:
    """One pass over this process's sockets; returns how many were regrouped or closed."""
    consumers = [s for s in (fanout or local_fanout()).subscribers() if isinstance(s, LiveConsumer)]
    if not consumers:
        return 0
    user_ids = {c.context.user_id for c in consumers}
    keys = {k for c in consumers if (k := _session_key(c))}
    access, live = await sync_to_async(_access_now, thread_sensitive=False)(user_ids, keys)
    changed = 0
    for consumer in consumers:
        context = consumer.context
        key = _session_key(consumer)
        if context.user_id not in access or (key is not None and key not in live):
            await consumer.revoke()
            changed += 1
            continue
        if access[context.user_id] != (context.project_ids, context.is_admin):
            fresh = await sync_to_async(context_for, thread_sensitive=False)(
                consumer.scope["user"], project_id=context.project_id, client=context.client
            )
            await consumer.regroup(fresh)
            changed += 1
    return changed


async def run_forever() -> None:
    """The process's re-check loop, started beside its relay."""
    interval = float(getattr(settings, "ACCESS_RECHECK_INTERVAL", 5.0))
    while True:
        await asyncio.sleep(interval)
        try:
            await recheck()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("socket access re-check failed; trying again in %.0f s", interval)
