"""The live-updates socket: authenticate, join the allowed groups, forward deltas.

One socket per tab. The groups are the user's project groups, or the admins' group (which gets
every instance with admin-only fields, and every host). A page that reconnects sends
``{"type": "resume", "since": <last seq>}`` and receives every visible event after it, or
``{"type": "resync"}`` when the outbox no longer reaches back that far.
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from compute.context import RequestContext
from compute.publisher import ADMINS_GROUP, DeltaMessage, latest_seq, project_group, replay
from dashboard.context import context_for

#: Frames larger than this are refused: the client only ever sends a small resume request.
MAX_FRAME = 4096
#: Close codes (4000–4999 are the application's).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_FRAME = 4400


class LiveConsumer(AsyncWebsocketConsumer):
    context: RequestContext
    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.context = await database_sync_to_async(context_for)(user, client="websocket")
        if self.context.is_admin:
            self.groups_joined = [ADMINS_GROUP]
        else:
            self.groups_joined = sorted(project_group(p) for p in self.context.project_ids)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        seq = await database_sync_to_async(latest_seq)()
        await self.send_json({"type": "hello", "seq": seq, "admin": self.context.is_admin})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

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
            await self.state_delta(message)
        if not complete:
            await self.send_json({"type": "resync"})
        await self.send_json({"type": "caught_up"})

    async def state_delta(self, message: DeltaMessage) -> None:
        await self.send_json({"type": "delta", "seq": message["seq"], "delta": message["delta"]})

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))
