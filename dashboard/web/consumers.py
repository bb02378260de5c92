"""The live-updates socket: authenticate, join the allowed groups, forward deltas.

One socket per tab. The groups are the user's project groups, or the admins' group (which gets
every instance with admin-only fields, and every host). They are groups of this process's
``compute.outbox.fanout.LocalFanout``, which this process's outbox relay feeds: a delta arrives here as
a frame already encoded, and ``push`` writes it to the socket — no channel layer, no task and
no database hop per socket per delta (docs/BENCHMARKS.md says what those cost).

A page that reconnects sends ``{"type": "resume", "since": <last seq>}`` and receives every
visible event after it, or ``{"type": "resync"}`` when the outbox no longer reaches back that
far. What a socket may see is checked again while it is open (``dashboard.web.access``): a user
removed from a project stops receiving it, and a logged-out or deactivated user is closed.
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from compute.context import RequestContext
from compute.outbox.audience import groups_for
from compute.outbox.fanout import encode_frame, local_fanout
from compute.outbox.replay import latest_seq, replay
from dashboard.context import context_for

#: Frames larger than this are refused: the client only ever sends a small resume request.
MAX_FRAME = 4096
#: Close codes (4000–4999 are the application's).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_FRAME = 4400


class LiveConsumer(AsyncWebsocketConsumer):
    #: Deltas come from the process's fan-out (``compute.outbox.fanout``), not a channel layer: the
    #: alias names none, so no channel is made per socket.
    channel_layer_alias = ""

    context: RequestContext
    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.context = await database_sync_to_async(context_for)(user, client="websocket")
        self.groups_joined = groups_for(self.context)
        await self.accept()
        # Joined after the accept (a frame must not reach a socket still connecting); a delta
        # committed before the join is replayed by the page's resume from its own sequence.
        local_fanout().join(self, self.groups_joined)
        seq = await database_sync_to_async(latest_seq)()
        await self.send_json({"type": "hello", "seq": seq, "admin": self.context.is_admin})

    async def disconnect(self, code: int) -> None:
        local_fanout().leave(self, getattr(self, "groups_joined", []))

    async def push(self, frame: str) -> None:
        """A delta's frame from the fan-out, encoded once for every socket of the group."""
        await self.base_send({"type": "websocket.send", "text": frame})

    async def regroup(self, context: RequestContext) -> None:
        """The user's access changed while the socket was open: leave what it may no longer
        see, join what it may, and have the page reload what it shows."""
        fanout = local_fanout()
        fanout.leave(self, self.groups_joined)
        self.context = context
        self.groups_joined = groups_for(context)
        fanout.join(self, self.groups_joined)
        await self.send_json({"type": "resync"})

    async def revoke(self) -> None:
        """Logged out or deactivated elsewhere: no more events on this socket."""
        local_fanout().leave(self, self.groups_joined)
        self.groups_joined = []
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(raw) > MAX_FRAME:
            await self.close(code=CLOSE_BAD_FRAME)
            return
        try:
            content = json.loads(raw)
        except (ValueError, RecursionError):  # deep nesting ("[[[[…") is a RecursionError
            await self.send_json({"type": "error", "message": "Frames must be JSON."})
            return
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "message": "Frames must be JSON objects."})
            return
        if content.get("type") == "resume":
            await self._resume(content.get("since"))
        elif content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "message": "Unknown frame type."})

    async def _resume(self, since: Any) -> None:
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            await self.send_json({"type": "error", "message": "resume needs a sequence number."})
            return
        messages, complete = await database_sync_to_async(replay)(context=self.context, since=since)
        for message in messages:
            await self.push(encode_frame(message))
        if not complete:
            await self.send_json({"type": "resync"})
        await self.send_json({"type": "caught_up"})

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))
