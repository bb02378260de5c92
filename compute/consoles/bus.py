"""Console output fan-out: a guest's output reaches the sockets that show its console.

``publish`` is called from the process that owns the guest's hypervisor (an agent thread, or
``fake_guest`` powering a guest off); it hands the text to this process's subscribers at once
and, with a shared channel layer, sends it to ``console.<uuid>`` for the other processes'
sockets, in order, from one sender thread (a console's chunks must not overtake each other).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import queue
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypedDict

log = logging.getLogger(__name__)

_GROUP_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


class ConsoleOutput(TypedDict):
    """The channel-layer message carrying output: handled by a socket's ``console_output``."""

    type: str  # "console.output"
    uuid: str
    data: str


def _safe(prefix: str, name: str) -> str:
    if _GROUP_SAFE.match(name):
        return f"{prefix}.{name}"
    return f"{prefix}.{hashlib.sha256(name.encode()).hexdigest()[:40]}"


def console_group(uuid: str) -> str:
    """The group of the sockets showing ``uuid``'s console, in every web process."""
    return _safe("console", uuid)


def host_group(host: str) -> str:
    """The group the agent of ``host`` listens on for console input and log requests."""
    return _safe("consoles", host)


Subscriber = Callable[[str], None]


class _Local:
    """This process's subscribers: each is called on its own event loop, never on the
    publisher's thread (a socket's send belongs to the server's loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: defaultdict[str, dict[int, tuple[asyncio.AbstractEventLoop, Subscriber]]] = (
            defaultdict(dict)
        )
        self._next = 0

    def subscribe(self, uuid: str, loop: asyncio.AbstractEventLoop, callback: Subscriber) -> int:
        with self._lock:
            self._next += 1
            self._subs[uuid][self._next] = (loop, callback)
            return self._next

    def unsubscribe(self, uuid: str, token: int) -> None:
        with self._lock:
            subs = self._subs.get(uuid)
            if subs is not None:
                subs.pop(token, None)
                if not subs:
                    del self._subs[uuid]

    def deliver(self, uuid: str, data: str) -> None:
        with self._lock:
            targets = list(self._subs.get(uuid, {}).values())
        for loop, callback in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(callback, data)

    def count(self, uuid: str) -> int:
        with self._lock:
            return len(self._subs.get(uuid, {}))


local = _Local()


def subscribe(uuid: str, callback: Subscriber) -> int:
    """Call ``callback(text)`` on the running loop for each chunk ``uuid`` prints from now on,
    when published in this process. Returns the token for ``unsubscribe``."""
    return local.subscribe(uuid, asyncio.get_running_loop(), callback)


def unsubscribe(uuid: str, token: int) -> None:
    local.unsubscribe(uuid, token)


def publish(uuid: str, data: str) -> None:
    """``uuid``'s console printed ``data``: to this process's sockets now, to the others' through
    the shared layer (if any)."""
    if not data:
        return
    local.deliver(uuid, data)
    from compute.dispatch import shared_layer

    if shared_layer() is not None:
        _sender().send(uuid, data)


class _Sender:
    """One daemon thread with its own loop sends every console message of this process, in
    the order published."""

    def __init__(self) -> None:
        self.items: queue.SimpleQueue[tuple[str, dict[str, Any]] | threading.Event] = (
            queue.SimpleQueue()
        )
        threading.Thread(target=self._run, name="console-output", daemon=True).start()

    def send(self, uuid: str, data: str) -> None:
        message: ConsoleOutput = {"type": "console.output", "uuid": uuid, "data": data}
        self.items.put((console_group(uuid), dict(message)))

    def flush(self, timeout: float) -> bool:
        done = threading.Event()
        self.items.put(done)
        return done.wait(timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        from compute.dispatch import shared_layer

        while True:
            items = [self.items.get()]
            with contextlib.suppress(queue.Empty):
                while len(items) < 1000:  # a burst goes out together
                    items.append(self.items.get_nowait())
            # One message per group, its chunks joined in order; the groups side by side.
            batch: dict[str, dict[str, Any]] = {}
            flushed: list[threading.Event] = []
            for item in items:
                if isinstance(item, threading.Event):
                    flushed.append(item)
                    continue
                target, message = item
                if target in batch:
                    batch[target]["data"] += message["data"]
                else:
                    batch[target] = dict(message)
            layer = shared_layer()
            if layer is not None and batch:
                loop.run_until_complete(self._send(layer, batch))
            for done in flushed:
                done.set()

    @staticmethod
    async def _send(layer: Any, batch: dict[str, dict[str, Any]]) -> None:
        sent = await asyncio.gather(
            *(layer.group_send(target, message) for target, message in batch.items()),
            return_exceptions=True,
        )
        if any(isinstance(result, Exception) for result in sent):
            log.warning("console output lost for some guests (channel layer away)")


def flush(timeout: float = 5.0) -> bool:
    """Wait until what this process published has been sent (a command about to exit)."""
    return _the_sender is None or _the_sender.flush(timeout)


_the_sender: _Sender | None = None
_sender_lock = threading.Lock()


def _sender() -> _Sender:
    global _the_sender
    with _sender_lock:
        if _the_sender is None:
            _the_sender = _Sender()
        return _the_sender
