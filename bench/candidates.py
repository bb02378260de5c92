"""Candidate fixes outside the bench's own files, to measure before anyone adopts them.

``BENCH_ASGI=bench.candidates:application python -m bench --only latency,fanout`` serves the
dashboard with ``LiveConsumer`` changed as proposed in docs/BENCHMARKS.md: a ``state.delta``
goes straight to its handler. Channels' ``AsyncConsumer.dispatch`` otherwise runs
``close_old_connections`` through the single sync thread before every message, a thread round
trip per delta per socket although forwarding a delta never touches the database.

With ``BENCH_CANDIDATE_FRAMES=1`` it also encodes each delta's frame once per process (per
sequence number and variant — admins' deltas carry the host, members' do not) instead of once
per socket, as a relay that put the encoded frame into the message would allow.

Not product code: the product keeps ``dashboard.asgi``; this module only patches a class at
import, in the process that imports it.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any

from dashboard.asgi import application
from dashboard.web.consumers import LiveConsumer

_channels_dispatch = LiveConsumer.dispatch
_frames: OrderedDict[tuple[int, bool], str] = OrderedDict()
_FRAMES_KEPT = 4096


async def _state_delta(self: LiveConsumer, message: dict[str, Any]) -> None:
    key = (message["seq"], "host" in message["delta"])
    frame = _frames.get(key)
    if frame is None:
        frame = json.dumps(
            {"type": "delta", "seq": message["seq"], "delta": message["delta"]},
            separators=(",", ":"),
        )
        _frames[key] = frame
        if len(_frames) > _FRAMES_KEPT:
            _frames.popitem(last=False)
    await self.send(text_data=frame)


async def _dispatch(self: LiveConsumer, message: dict[str, Any]) -> None:
    if message["type"] == "state.delta":
        await self.state_delta(message)  # type: ignore[arg-type]
        return
    await _channels_dispatch(self, message)


LiveConsumer.dispatch = _dispatch  # type: ignore[method-assign]
if os.environ.get("BENCH_CANDIDATE_FRAMES") == "1":
    LiveConsumer.state_delta = _state_delta  # type: ignore[method-assign]

__all__ = ["application"]
