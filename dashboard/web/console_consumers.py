"""The console sockets of the instance page: the serial console's log, followed live.

A socket authenticates by the page's session, asks the domain for the instance as its user may
see it (``compute.consoles.service.console_instance``: the project, Nova's policy rule, a host),
and then only forwards: the guest's output as the host's process publishes it — this process's
bus when the host's agent runs here, else the guest's channel-layer group — and, every
``WATCH_EVERY`` seconds, a renewal of the host's watch (the libvirt driver tails a log only while
someone looks). Output is written in the order it was published, through one queue per socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from compute.consoles import bus, client
from compute.consoles.hub import local_host
from compute.consoles.service import console_instance
from compute.exceptions import ComputeError
from compute.models import Instance
from dashboard.context import context_for

#: Seconds between renewals of a host's watch of a console shown here.
WATCH_EVERY = 30.0
#: Close codes: the refusal's HTTP code + 4000.
CLOSE_UNAUTHENTICATED = 4401


class GuestOutputSocket(AsyncWebsocketConsumer):
    """What every console socket does: follow one guest's output."""

    rule = "os_compute_api:os-console-output"
    host: str = ""
    uuid: str = ""

    async def open_instance(self, instance_uuid: str) -> Instance | None:
        """The instance for this socket's user, or None after closing with the refusal."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return None
        try:
            context = await database_sync_to_async(context_for)(user, client="websocket")
            return await database_sync_to_async(console_instance)(
                context=context, instance_uuid=instance_uuid, rule=self.rule
            )
        except ComputeError as refused:
            await self.refuse(refused)
            return None

    async def refuse(self, refused: ComputeError) -> None:
        """Say why, then close with the refusal's code (the page shows the message)."""
        await self.accept()
        await self.send_json({"type": "error", "code": refused.code, "message": refused.message})
        await self.close(code=4000 + refused.code)

    async def follow(self, host: str, uuid: str) -> None:
        self.host, self.uuid = host, uuid
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write())
        if local_host(host) is not None:
            self._token: int | None = bus.subscribe(uuid, self._outbox.put_nowait)
        else:
            self._token = None
            if self.channel_layer is not None:
                await self.channel_layer.group_add(bus.console_group(uuid), self.channel_name)
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def console_output(self, message: dict[str, Any]) -> None:
        """A chunk from another process, through the guest's group."""
        if message.get("uuid") == self.uuid:
            self._outbox.put_nowait(str(message.get("data", "")))

    async def _write(self) -> None:
        while True:
            data = await self._outbox.get()
            while not self._outbox.empty() and len(data) < 16384:  # a burst goes as one frame
                data += self._outbox.get_nowait()
            await self.send_json({"type": "output", "data": data})

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(ComputeError, OSError):
                await client.console_watch(self.host, self.uuid)
            await asyncio.sleep(WATCH_EVERY)

    async def disconnect(self, code: int) -> None:
        for task in (getattr(self, "_writer", None), getattr(self, "_watcher", None)):
            if task is not None:
                task.cancel()
        if getattr(self, "_token", None) is not None:
            bus.unsubscribe(self.uuid, self._token)
        elif self.uuid and self.channel_layer is not None:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(
                    bus.console_group(self.uuid), self.channel_name
                )

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))


class ConsoleLogSocket(GuestOutputSocket):
    """``/ws/instances/<uuid>/log/``: the whole log once, then what the guest prints."""

    async def connect(self) -> None:
        instance = await self.open_instance(str(self.scope["url_route"]["kwargs"]["uuid"]))
        if instance is None:
            return
        assert instance.host is not None
        await self.accept()
        # Followed before the log is read: a chunk printed meanwhile is sent after it rather
        # than lost (at worst shown twice).
        await self.follow(instance.host.host, str(instance.uuid))
        try:
            log = await database_sync_to_async(client.console_log)(self.host, self.uuid)
        except ComputeError as refused:
            await self.send_json(
                {"type": "error", "code": refused.code, "message": refused.message}
            )
            return
        await self.send_json({"type": "log", "data": log})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The log is read-only: a page only pings."""
        if text_data == '{"type":"ping"}':
            await self.send_json({"type": "pong"})
