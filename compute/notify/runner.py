"""Where the notifier runs: one pass (derive, then deliver), and the loop around it.

Every web process runs the loop on its event loop (``dashboard.asgi``), as it runs the
watchdog; ``manage.py notify`` runs the same loop alone (or one pass, ``--once``). Any number
may run at once: the derive pass is leased by its cursor row and each delivery is claimed by a
conditional UPDATE, so a change is told once and a delivery sent once however many run.
"""

from __future__ import annotations

import asyncio
import logging

from django.db import close_old_connections

from compute.notify.conf import notify_conf
from compute.notify.deliver import deliver_once
from compute.notify.derive import derive_once

log = logging.getLogger(__name__)


def run_once() -> dict[str, int]:
    derived = derive_once()
    sent = deliver_once()
    return {**derived, **sent}


async def run_forever() -> None:
    """The loop for a web process's event loop; each pass runs in a worker thread."""
    from asgiref.sync import sync_to_async

    def one_pass() -> dict[str, int]:
        try:
            return run_once()
        finally:
            close_old_connections()

    failures = 0
    while True:
        try:
            result = await sync_to_async(one_pass, thread_sensitive=False)()
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception:
            failures += 1
            if failures == 1:
                log.exception("notifier pass failed; retrying")
            result = {}
        if result.get("read", 0) >= notify_conf().batch:
            continue
        await asyncio.sleep(notify_conf().interval * (1 if not failures else min(8, failures)))
