"""The loop every web process runs its background passes in (the watchdog, the notifier's two
loops, the scheduled actions): each pass in a worker thread with its own database connection,
closed after it, so a pass never blocks the event loop nor keeps a connection the database may
have dropped; a failing pass is logged once and tried again, more slowly while it keeps failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

log = logging.getLogger(__name__)

ResultT = TypeVar("ResultT")

#: While passes keep failing the wait grows to this many intervals at most.
MAX_BACKOFF = 8


async def every(
    name: str,
    one_pass: Callable[[], ResultT],
    interval: Callable[[], float],
    *,
    again_at_once: Callable[[ResultT], bool] = lambda _result: False,
    wake: asyncio.Event | None = None,
) -> None:
    """Run ``one_pass`` forever, ``interval()`` seconds apart (read each time, so a changed
    setting applies), or at once when ``again_at_once(result)`` says a pass left work behind,
    or when another loop sets ``wake`` (it has just made work for this one)."""

    def in_thread() -> ResultT:
        try:
            return one_pass()
        finally:
            close_old_connections()

    failures = 0
    while True:
        try:
            result = await sync_to_async(in_thread, thread_sensitive=False)()
        except asyncio.CancelledError:
            raise
        except Exception:
            failures += 1
            if failures == 1:
                log.exception("%s pass failed; retrying", name)
        else:
            if failures:
                log.info("%s pass succeeded again after %d failures", name, failures)
            failures = 0
            if again_at_once(result):
                continue
        delay = interval() * min(MAX_BACKOFF, 1 + failures)
        if wake is None:
            await asyncio.sleep(delay)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), delay)
        wake.clear()
