"""Dispatch: an accepted action becomes a row its host's agent claims, and a wake-up that saves
the agent its poll (the database is the queue; a message only wakes early).

``dispatch_queue`` opens the action's record and its dispatch row in the caller's transaction
and wakes the host's agent after commit. Agents in this process (the embedded default) wait on
a ``threading.Event``. With a shared channel layer (Redis), a wake-up is also sent to the group
of the host's agent, wherever it runs; its ``compute.agent.wakeup.WakeupListener`` sets that
process's event when it arrives. So an action accepted by any web process starts at once on any
host. Without a shared layer, agents in other processes notice within their poll interval.

A lost wake-up costs at most one poll interval, never the action: the dispatch row is there.
Sending never blocks the request that accepted the action: a web process sends them from its
server's event loop, any other process from one background thread, coalescing wake-ups for the
same host. Accepting an action imports neither the agent nor a channel-layer backend.
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
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from compute import records
from compute.actions import ActionSpec
from compute.conf import conf
from compute.context import RequestContext
from compute.models import Host, Instance, InstanceAction

log = logging.getLogger(__name__)


def dispatch_queue(
    *,
    context: RequestContext,
    instance: Instance,
    host: Host,
    spec: ActionSpec,
    params: dict[str, Any],
) -> InstanceAction:
    """Open the action's record and queue it for the host's agent; wake the agent after commit."""
    action, _, _ = records.action_queue(
        context=context,
        instance=instance,
        spec=spec,
        host=host,
        params=params,
        deadline=timezone.now() + timedelta(seconds=conf().dispatch_timeout),
    )
    transaction.on_commit(lambda: wake_agent(host.host))
    return action


_events: defaultdict[str, threading.Event] = defaultdict(threading.Event)
_lock = threading.Lock()

#: What a channel-layer group name may hold (Channels: letters, digits, "-", "_", ".", < 100).
_GROUP_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


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
