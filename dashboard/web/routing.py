from __future__ import annotations

from django.urls import path

from dashboard.web.console_consumers import ConsoleLogSocket, SerialConsoleSocket, VncConsoleSocket
from dashboard.web.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
    path("ws/instances/<uuid:uuid>/log/", ConsoleLogSocket.as_asgi()),
    path("ws/consoles/serial/", SerialConsoleSocket.as_asgi()),
    path("ws/consoles/vnc/", VncConsoleSocket.as_asgi()),
]
