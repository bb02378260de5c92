"""The agent's side of wake-ups (the sending side is ``compute.dispatch``): with a shared
channel layer (Redis), ``WakeupListener`` turns the wake-ups sent to the host's agent group into
the event the agent waits on between polls of its queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer

from compute.dispatch import agent_group, wakeup_event

log = logging.getLogger(__name__)

#: Seconds between re-joining the group (Redis forgets a group membership after a day).
REJOIN_EVERY = 3600.0


class WakeupListener:
    """In an agent's process: turns the host's channel-layer wake-ups into its event.

    Stopped by a message to its own channel rather than by cancelling a receive in flight
    (should the list-based Redis layer be configured: it finishes its blocking pop first,
    seconds later, and logs the orphan).
    """

    STOP = "agent.stop"

    def __init__(self, host: str, layer: Any) -> None:
        self.host = host
        self.layer = layer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._channel: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"wakeups-{host}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        loop, channel = self._loop, self._channel
        if loop is not None and not loop.is_closed():
            try:
                if channel is None:
                    raise RuntimeError("not listening")
                told = asyncio.run_coroutine_threadsafe(
                    self.layer.send(channel, {"type": self.STOP}), loop
                )
                told.result(2)
            except Exception:  # Redis is away, or not listening yet: cancel instead
                if self._task is not None:
                    loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._task = self._loop.create_task(self._listen())
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            # The pub/sub layer's receiver reads until its connection closes: close this loop's
            # (its ``flush`` forgets this loop's subscriptions; nothing is stored in Redis). The
            # list-based layer leaves clean-up tasks behind. Let both end, quietly, before
            # closing the loop.
            if isinstance(self.layer, RedisPubSubChannelLayer):
                with contextlib.suppress(Exception):
                    self._loop.run_until_complete(self.layer.flush())
            leftovers = asyncio.all_tasks(self._loop)
            if leftovers:
                self._loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            self._loop.close()

    async def _listen(self) -> None:
        group = agent_group(self.host)
        event = wakeup_event(self.host)
        while True:
            try:
                self._channel = channel = await self.layer.new_channel()
                await self.layer.group_add(group, channel)
                rejoin = asyncio.get_running_loop().create_task(self._rejoin(group, channel))
                try:
                    while (await self.layer.receive(channel))["type"] != self.STOP:
                        event.set()
                finally:
                    rejoin.cancel()
                await self.layer.group_discard(group, channel)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("agent wake-ups for %s unavailable; polling until back", self.host)
                await asyncio.sleep(1.0)

    async def _rejoin(self, group: str, channel: str) -> None:
        """The list-based layer forgets a group membership after a day: renew it now and then
        (for the pub/sub layer, a subscription, it costs one command an hour)."""
        while True:
            await asyncio.sleep(REJOIN_EVERY)
            with contextlib.suppress(Exception):
                await self.layer.group_add(group, channel)
