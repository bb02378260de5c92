"""This process's live sockets by group, and one encoded frame per delta for all of them.

Every web process tails the outbox itself (``compute.outbox.relay.OutboxRelay``) and hands each
delta to its ``LocalFanout`` with ``group_send(group, message)``. The fan-out encodes the frame
once and writes that same text to every socket of the group in this process, in a loop.

Why not the channel layer between the relay and the sockets: measured in docs/BENCHMARKS.md, a
delta delivered through Channels' groups cost 0.55–0.94 ms of server CPU per socket — Redis
round trips per message, a receive loop per socket that creates and cancels tasks per message,
Channels' ``close_old_connections`` thread hop before every message, and a ``json.dumps`` per
socket. The outbox already is the bus every process can read (it is what makes a change
committed anywhere reach every page, and what a reconnecting page replays from), so a process
needs nothing between it and its own sockets but this table.

A subscriber is anything with ``async push(frame)``: the WebSocket consumer, or a test's
recorder. A subscriber that fails is logged and dropped from its groups; the others still get
the frame.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any, Protocol, TypedDict

log = logging.getLogger(__name__)


class DeltaMessage(TypedDict):
    seq: int
    delta: dict[str, Any]


class Subscriber(Protocol):
    async def push(self, frame: str) -> None: ...


def encode_frame(message: DeltaMessage) -> str:
    """The text a browser receives for one delta."""
    return json.dumps(
        {"type": "delta", "seq": message["seq"], "delta": message["delta"]}, separators=(",", ":")
    )


class LocalFanout:
    """Groups of this process's subscribers. Used from the event loop only (not thread-safe)."""

    def __init__(self) -> None:
        self.groups: dict[str, set[Subscriber]] = {}

    def join(self, subscriber: Subscriber, groups: Iterable[str]) -> None:
        for group in groups:
            self.groups.setdefault(group, set()).add(subscriber)

    def leave(self, subscriber: Subscriber, groups: Iterable[str]) -> None:
        for group in groups:
            members = self.groups.get(group)
            if members is None:
                continue
            members.discard(subscriber)
            if not members:
                del self.groups[group]

    def wants(self, group: str) -> bool:
        """Whether ``group`` has a subscriber in this process (the relay builds no message for
        a group without one)."""
        return bool(self.groups.get(group))

    def wants_any(self, prefix: str) -> bool:
        """Whether any group named ``prefix…`` has a subscriber here."""
        return any(group.startswith(prefix) for group in self.groups)

    def subscribers(self) -> set[Subscriber]:
        return set().union(*self.groups.values()) if self.groups else set()

    async def group_send(self, group: str, message: DeltaMessage) -> None:
        members = self.groups.get(group)
        if not members:
            return
        frame = encode_frame(message)
        for subscriber in tuple(members):  # a push may end in a leave
            try:
                await subscriber.push(frame)
            except Exception:
                log.exception("dropping a live subscriber that failed to take a frame")
                self.leave(subscriber, [g for g, m in self.groups.items() if subscriber in m])


_process_fanout = LocalFanout()


def local_fanout() -> LocalFanout:
    """This process's fan-out: the one the relay feeds and the consumers join."""
    return _process_fanout
