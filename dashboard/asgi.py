"""The ASGI application: HTTP through Django, WebSockets through Channels.

The first request a process serves starts, on the server's event loop, its outbox relay (so every
daphne process fans committed changes out to its sockets whichever way it was started) and its
watchdog (so a heartbeat expiring is published even when no agent runs in this process).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_asgi_app = get_asgi_application()


from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from compute import watchdog  # noqa: E402
from compute.publisher import OutboxRelay, relay_for  # noqa: E402
from dashboard.security import StaticFilesHandler  # noqa: E402
from dashboard.web.routing import websocket_urlpatterns  # noqa: E402

_relay: OutboxRelay | None = None
_watchdog: asyncio.Task[None] | None = None


def relay() -> OutboxRelay:
    global _relay
    if _relay is None:
        _relay = relay_for(get_channel_layer())
    return _relay


def ensure_watchdog() -> None:
    global _watchdog
    if _watchdog is None or _watchdog.done():
        _watchdog = asyncio.get_running_loop().create_task(watchdog.run_forever(), name="watchdog")


class StartRelay:
    """Starts this process's relay on the running loop before handing the scope on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            relay().ensure_started()
            ensure_watchdog()
        await self.app(scope, receive, send)


application = StartRelay(
    # The app serves its own scripts and styles: the page works with no internet and no proxy.
    ProtocolTypeRouter(
        {
            "http": StaticFilesHandler(django_asgi_app),
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)
