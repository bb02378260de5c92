"""The ASGI application: HTTP through Django, WebSockets through Channels.

The first request a process serves starts, on the server's event loop, its outbox relay (so every
daphne process fans committed changes out to its own sockets whichever way it was started), the
re-check of what its open sockets may see, its watchdog (so a heartbeat expiring is
published even when no agent runs in this process) and its notifier loop.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_asgi_app = get_asgi_application()


from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from compute import dispatch, watchdog  # noqa: E402
from compute.notify import runner as notifier  # noqa: E402
from compute.outbox.fanout import local_fanout  # noqa: E402
from compute.outbox.relay import OutboxRelay, relay_for  # noqa: E402
from compute.services import schedule_runs  # noqa: E402
from dashboard.security import StaticFilesHandler  # noqa: E402
from dashboard.web import access  # noqa: E402
from dashboard.web.routing import websocket_urlpatterns  # noqa: E402

_relay: OutboxRelay | None = None
_background: dict[str, asyncio.Task[None]] = {}


def relay() -> OutboxRelay:
    global _relay
    if _relay is None:
        _relay = relay_for(local_fanout())
    return _relay


def ensure_background() -> None:
    """The watchdog, the sockets' access re-check and the notifier (``compute.notify``: its
    cursor is leased, so one process derives at a time), once per process (restarted if
    ended)."""
    for name, loop_forever in (
        ("watchdog", watchdog.run_forever),
        ("socket-access", access.run_forever),
        ("notifier", notifier.run_forever),
        ("schedules", schedule_runs.run_forever),
    ):
        task = _background.get(name)
        if task is None or task.done():
            _background[name] = asyncio.get_running_loop().create_task(loop_forever(), name=name)


class StartRelay:
    """Starts this process's relay on the running loop before handing the scope on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            relay().ensure_started()
            ensure_background()
            dispatch.send_from(asyncio.get_running_loop())
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
