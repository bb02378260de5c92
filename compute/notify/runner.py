"""Where the notifier runs: the derive pass and the delivery pass, and the loops around them.

Every web process runs both loops on its event loop (``dashboard.asgi``), as it runs the
watchdog; ``manage.py notify run`` runs the same loops alone (or one pass of each, ``--once``).
Deriving and delivering are separate loops, each in its own worker thread, so a slow webhook
never holds up the notifications (and the bells) of the changes behind it. Any number of
processes may run them: the derive pass is leased by its cursor row and each delivery is
claimed by a conditional UPDATE, so a change is told once and a delivery sent once.
"""

from __future__ import annotations

import asyncio

from compute.background import every
from compute.notify.conf import notify_conf
from compute.notify.deliver import deliver_once
from compute.notify.derive import derive_once


def run_once() -> dict[str, int]:
    derived = derive_once()
    sent = deliver_once()
    return {**derived, **sent}


def _busy(result: dict[str, int]) -> bool:
    """A full batch read, or deliveries sent: look again at once."""
    return result.get("read", 0) >= notify_conf().batch or any(
        result.get(k, 0) for k in ("delivered", "retrying", "failed")
    )


async def run_forever() -> None:
    """Both loops, for a web process's event loop (each pass in a worker thread). A derive pass
    that made notifications wakes the delivery loop at once rather than at its next tick."""
    deliver_now = asyncio.Event()

    def derived(result: dict[str, int]) -> bool:
        if result.get("notifications"):
            deliver_now.set()
        return _busy(result)

    await asyncio.gather(
        every(
            "notifier derive", derive_once, lambda: notify_conf().interval, again_at_once=derived
        ),
        every(
            "notifier deliver",
            deliver_once,
            lambda: notify_conf().interval,
            again_at_once=_busy,
            wake=deliver_now,
        ),
    )
