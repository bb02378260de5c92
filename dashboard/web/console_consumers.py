"""The console sockets: the serial console's log followed live, the serial console, and the
VNC console (noVNC's socket).

A socket authenticates by the page's session, asks the domain for the instance as its user may
see it (``compute.consoles.service.console_instance``: the project, Nova's policy rule, a host),
and then only forwards: the guest's output as the host's process publishes it — this process's
bus when the host's agent runs here, else the guest's channel-layer group — and, every
``WATCH_EVERY`` seconds, a renewal of the host's watch (the libvirt driver tails a log only while
someone looks). Output is written in the order it was published, through one queue per socket.

The serial and VNC sockets are opened with a console URL's one-time token (``?token=``), spent
for the session's user only if the instance is in one of their projects: a stolen URL is of no
use to anyone else, and of none at all once used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from compute.consoles import bus, client
from compute.consoles.hub import local_host
from compute.consoles.service import console_instance, console_token_consume
from compute.drivers.fake_graphics import FakeFramebuffer
from compute.exceptions import ComputeError, InstanceNotReady
from compute.models import ConsoleToken, Instance
from dashboard.context import context_for

#: Seconds between renewals of a host's watch of a console shown here.
WATCH_EVERY = 30.0
#: Close codes: the refusal's HTTP code + 4000.
CLOSE_UNAUTHENTICATED = 4401
#: Characters of keystrokes taken from one frame (a paste is cut there).
MAX_INPUT = 4096
#: How much of the log a serial console shows when it opens.
SCREEN_TAIL = 8192


def _still_allowed(user_id: int, session_key: str, instance_uuid: str, rule: str) -> bool:
    """Whether the socket's session is still live, its user active, and the instance still
    one the user may reach under ``rule`` (a membership removed, a logout, an account
    disabled: each ends it)."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    if not Session.objects.filter(session_key=session_key, expire_date__gt=timezone.now()).exists():
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    try:
        console_instance(
            context=context_for(user, client="websocket"), instance_uuid=instance_uuid, rule=rule
        )
    except ComputeError:
        return False
    return True


class AccessGuard:
    """A console socket's access, checked again every ``ACCESS_RECHECK_INTERVAL`` seconds
    while it stays open (as the live socket's is, ``dashboard.web.access``): a user removed
    from the project, logged out or disabled is cut off within that bound."""

    _guard: asyncio.Task[None] | None = None

    def guard(self, instance_uuid: str, rule: str) -> None:
        scope = self.scope  # type: ignore[attr-defined]
        user, session = scope.get("user"), scope.get("session")
        key = getattr(session, "session_key", None)
        if user is None or not key:
            return
        self._guard = asyncio.get_running_loop().create_task(
            self._recheck(int(user.pk), str(key), instance_uuid, rule)
        )

    async def _recheck(self, user_id: int, key: str, instance_uuid: str, rule: str) -> None:
        from django.conf import settings

        every = float(getattr(settings, "ACCESS_RECHECK_INTERVAL", 5.0))
        while True:
            await asyncio.sleep(every)
            allowed = await database_sync_to_async(_still_allowed)(
                user_id, key, instance_uuid, rule
            )
            if not allowed:
                await self.close(code=CLOSE_UNAUTHENTICATED)  # type: ignore[attr-defined]
                return

    def unguard(self) -> None:
        if self._guard is not None:
            self._guard.cancel()


class GuestOutputSocket(AccessGuard, AsyncWebsocketConsumer):
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
        self.guard(uuid, self.rule)
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
        self.unguard()
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


def _token(scope: dict[str, Any]) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("token") or [""])[0][:200]


async def _spend(socket: AsyncWebsocketConsumer, console_type: str) -> ConsoleToken | None:
    """The socket's token spent for its session's user, or None after closing with why."""
    user = socket.scope.get("user")
    if user is None or not user.is_authenticated:
        await socket.close(code=CLOSE_UNAUTHENTICATED)
        return None
    try:
        context = await database_sync_to_async(context_for)(user, client="websocket")
        row = await database_sync_to_async(console_token_consume)(
            context=context, token=_token(socket.scope), console_type=console_type
        )
        if row.instance.host is None:
            raise InstanceNotReady(instance_uuid=str(row.instance.uuid))
        return row
    except ComputeError as refused:
        await socket.accept()
        await socket.send(
            text_data=json.dumps(
                {"type": "error", "code": refused.code, "message": refused.message}
            )
        )
        await socket.close(code=4000 + refused.code)
        return None


class SerialConsoleSocket(GuestOutputSocket):
    """``/ws/consoles/serial/?token=…``: a serial console, for the one connection its token
    allows, to a user of the instance's project. Frames in: ``{"type": "input", "data": …}``
    (or raw text / bytes, as a plain websocket client sends); out: ``{"type": "output"}``."""

    async def connect(self) -> None:
        row = await _spend(self, "serial")
        if row is None:
            return
        await self.accept()
        assert row.instance.host is not None
        await self.follow(row.instance.host.host, str(row.instance.uuid))
        await self.send_json({"type": "hello", "uuid": self.uuid})
        # The screen as the guest left it: the log's last lines, then what it prints from now
        # on (a reconnecting page starts afresh from these).
        with contextlib.suppress(ComputeError):
            log = await database_sync_to_async(client.console_log)(self.host, self.uuid)
            tail = log[-SCREEN_TAIL:]
            if len(log) > SCREEN_TAIL and "\n" in tail:
                tail = tail[tail.index("\n") + 1 :]
            if tail:
                await self.send_json({"type": "screen", "data": tail})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None:
            data = bytes_data.decode("utf-8", "replace")
        else:
            data = text_data or ""
            if data.startswith("{"):
                try:
                    frame = json.loads(data)
                except ValueError:
                    frame = None
                if isinstance(frame, dict):
                    if frame.get("type") == "ping":
                        await self.send_json({"type": "pong"})
                        return
                    data = str(frame.get("data", "")) if frame.get("type") == "input" else ""
        if data:
            with contextlib.suppress(ComputeError):
                await client.console_type(self.host, self.uuid, data[:MAX_INPUT])


class VncConsoleSocket(AccessGuard, AsyncWebsocketConsumer):
    """``/ws/consoles/vnc/?token=…``: noVNC's socket. Bytes are passed to and from the guest's
    VNC server (QEMU's, on the host the token names), or answered by the fake hypervisor's
    framebuffer (``compute.drivers.fake_graphics``)."""

    async def connect(self) -> None:
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task[None] | None = None
        self._fake: FakeFramebuffer | None = None
        row = await _spend(self, "novnc")
        if row is None:
            return
        subprotocols = self.scope.get("subprotocols") or []
        await self.accept("binary" if "binary" in subprotocols else None)
        self.guard(str(row.instance.uuid), "os_compute_api:os-remote-consoles")
        if not row.port:
            self._fake = FakeFramebuffer(row.instance.name, row.instance.power_state)
            await self.send(bytes_data=self._fake.start())
            return
        try:
            reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(row.host, row.port), 5
            )
        except (OSError, TimeoutError):
            await self.close(code=4404)
            return
        self._pump = asyncio.get_running_loop().create_task(self._from_server(reader))

    async def _from_server(self, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            await self.send(bytes_data=chunk)
        await self.close(code=1000)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        data = bytes_data if bytes_data is not None else (text_data or "").encode()
        if self._fake is not None:
            answer = self._fake.feed(data)
            if answer:
                await self.send(bytes_data=answer)
        elif self._writer is not None:
            self._writer.write(data)
            await self._writer.drain()

    async def disconnect(self, code: int) -> None:
        self.unguard()
        if getattr(self, "_pump", None) is not None:
            self._pump.cancel()
        if getattr(self, "_writer", None) is not None:
            self._writer.close()
