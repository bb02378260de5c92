"""The live socket under test: the ASGI websocket stack of ``dashboard.asgi`` (origin check,
session authentication, routing), opened with Channels' ``WebsocketCommunicator``; the outbox
relay is driven by hand so a test decides when committed changes are fanned out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from compute.outbox.fanout import local_fanout
from compute.outbox.relay import OutboxRelay
from dashboard.web.routing import websocket_urlpatterns

APP = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
ORIGIN = (b"origin", b"http://127.0.0.1")


def session_cookie(user: User) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def run(scenario: Callable[[], Any]) -> Any:
    return async_to_sync(scenario)()


async def open_socket(
    *headers: tuple[bytes, bytes], path: str = "/ws/live/"
) -> tuple[WebsocketCommunicator, bool, Any]:
    socket = WebsocketCommunicator(APP, path, headers=list(headers))
    connected, code = await socket.connect(timeout=5)
    return socket, connected, code


async def signed_in(user: User, *, path: str = "/ws/live/") -> WebsocketCommunicator:
    """An open socket of ``user``, past its hello."""
    cookie = await sync_to_async(session_cookie)(user)
    socket, connected, _ = await open_socket(ORIGIN, cookie, path=path)
    assert connected
    hello = await socket.receive_json_from(timeout=5)
    assert hello["type"] == "hello"
    return socket


async def relay_from(seq: int) -> None:
    relay = OutboxRelay(local_fanout())
    relay.last_seq = seq
    await relay.relay_once()


async def received(socket: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Every frame that arrives before the socket goes quiet."""
    got = []
    # receive_nothing does not cancel the application on a timeout, as receive_json_from would.
    while not await socket.receive_nothing(timeout=0.3):
        got.append(await socket.receive_json_from(timeout=5))
    return got


async def resumed(socket: WebsocketCommunicator, since: int) -> list[dict[str, Any]]:
    """Every frame a resume from ``since`` answers with, up to (not including) ``caught_up``."""
    await socket.send_json_to({"type": "resume", "since": since})
    frames = []
    while (message := await socket.receive_json_from(timeout=5))["type"] != "caught_up":
        frames.append(message)
    return frames


async def replayed(socket: WebsocketCommunicator, since: int) -> list[dict[str, Any]]:
    """The deltas a resume from ``since`` replays, up to ``caught_up``."""
    return [m["delta"] for m in await resumed(socket, since) if m["type"] == "delta"]


def joined_groups() -> set[str]:
    """The groups of this process's fan-out that have a member."""
    return {group for group, members in local_fanout().groups.items() if members}
