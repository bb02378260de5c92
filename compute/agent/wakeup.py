"""Waking an agent early. The database is the queue and agents poll it; a wake-up only saves
the poll interval (DESIGN flow 2: a message on the channel layer only wakes the agent early).

Agents in this process (the embedded default) wait on a ``threading.Event``. With a shared
channel layer (Redis), a wake-up is also sent to the group of the host's agent, wherever it
runs; ``WakeupListener`` in the agent's process sets that process's event when it arrives. So an
action accepted by any web process starts at once on any host. Without a shared layer, agents in
other processes notice within their poll interval.

A lost wake-up costs at most one poll interval, never the action: the dispatch row is there.
Sending never blocks the request that accepted the action: a web process sends them from its
server's event loop, any other process from one background thread, coalescing wake-ups for the
same host.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import queue
import re
import threading
from collections import defaultdict
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer

log = logging.getLogger(__name__)

_events: defaultdict[str, threading.Event] = defaultdict(threading.Event)
_lock = threading.Lock()

#: What a channel-layer group name may hold (Channels: letters, digits, "-", "_", ".", < 100).
_GROUP_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
#: Seconds between re-joining the group (Redis forgets a group membership after a day).
REJOIN_EVERY = 3600.0


def wakeup_event(host: str) -> threading.Event:
    with _lock:
        return _events[host]


def agent_group(host: str) -> str:
    if _GROUP_SAFE.match(host):
        return f"agent.{host}"
    return f"agent.{hashlib.sha256(host.encode()).hexdigest()[:40]}"


def shared_layer() -> Any | None:
    """The channel layer if it reaches other processes (Redis), else None."""
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer()
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return None
    return layer


def wake_agent(host: str) -> None:
    wakeup_event(host).set()
    if shared_layer() is not None:
        loop = _server_loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(_on_server_loop.send, host)
        else:
            _sender().send(host)


def send_from(loop: asyncio.AbstractEventLoop | None) -> None:
    """Send this process's wake-ups from ``loop`` from now on: a web process's server loop,
    which is awake anyway (``dashboard.asgi``). A thread of their own would cost every
    acceptance a hand-over of the interpreter lock to it and back, more than the send."""
    global _server_loop
    _server_loop = loop


class _OnLoop:
    """Wake-ups sent by tasks on the server's loop; those asked for while one is being sent
    go out together after it, one per host."""

    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.task: asyncio.Task[None] | None = None  # held: the loop keeps only a weak one

    def send(self, host: str) -> None:
        if not self.pending:
            self.task = asyncio.get_running_loop().create_task(self._flush(), name="agent-wakeups")
        self.pending.add(host)

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # the wake-ups of the same loop turn go together
        while self.pending:
            hosts, self.pending = self.pending, set()
            layer = shared_layer()
            if layer is not None:
                await _send(layer, hosts)


_server_loop: asyncio.AbstractEventLoop | None = None
_on_server_loop = _OnLoop()


async def _send(layer: Any, hosts: set[str]) -> None:
    for host in hosts:
        try:
            await layer.group_send(agent_group(host), {"type": "agent.wake"})
        except Exception:
            log.warning("could not wake the agent of %s; it will poll", host)


class _Sender:
    """Where no server loop sends them (an agent's or a command's process): one daemon thread
    with its own event loop."""

    def __init__(self) -> None:
        self.hosts: queue.SimpleQueue[str] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="agent-wakeups", daemon=True).start()

    def send(self, host: str) -> None:
        self.hosts.put(host)

    def _run(self) -> None:
        # Blocking on the queue in this daemon thread, not in an executor's: an executor's
        # worker waiting for ever would hold up the interpreter's exit.
        loop = asyncio.new_event_loop()
        while True:
            hosts = {self.hosts.get()}
            with contextlib.suppress(queue.Empty):
                while True:  # a burst of actions: one wake-up per host
                    hosts.add(self.hosts.get_nowait())
            layer = shared_layer()
            if layer is not None:
                loop.run_until_complete(_send(layer, hosts))


_the_sender: _Sender | None = None


def _sender() -> _Sender:
    global _the_sender
    with _lock:
        if _the_sender is None:
            _the_sender = _Sender()
        return _the_sender


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
