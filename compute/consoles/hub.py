"""The agent's side of consoles: a few workers per served host run what browsers ask of its
guests' consoles — keystrokes, log reads, watches — against the host's driver; each guest's
always on the same worker, so in order.

``serve`` is called by the agent on start. Requests reach the worker directly from this process
(``local_host``), and, with a shared channel layer, from any process through the group
``consoles.<host>`` that a listener thread joins (the way ``compute.agent.wakeup`` hears
wake-ups). Keystrokes of one guest are applied in arrival order by one thread: the driver's
console methods are not re-entrant per guest, and an echo must not overtake an earlier one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections

from compute.consoles.bus import host_group
from compute.drivers.base import ComputeDriver
from compute.exceptions import ComputeError

log = logging.getLogger(__name__)

#: Worker threads per host: keystrokes of different guests go on side by side.
WORKERS = 4
#: Seconds of quiet after which a worker has the driver log what it echoed.
FLUSH_AFTER = 0.25

_served: dict[str, ConsoleHost] = {}
_lock = threading.Lock()


class ConsoleHost:
    """The console worker of one host's driver."""

    STOP = "consoles.stop"

    def __init__(self, host: str, driver: ComputeDriver, layer: Any | None) -> None:
        self.host = host
        self.driver = driver
        self.layer = layer
        #: One queue and thread per worker; a guest always goes to the same one (its order).
        self.queues: list[queue.SimpleQueue[Callable[[], None] | None]] = [
            queue.SimpleQueue() for _ in range(WORKERS)
        ]
        self._workers = [
            threading.Thread(target=self._work, args=(q,), name=f"consoles-{host}-{n}", daemon=True)
            for n, q in enumerate(self.queues)
        ]
        self._listener: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._channel: str | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        for worker in self._workers:
            worker.start()
        if self.layer is not None:
            self._listener = threading.Thread(
                target=self._listen_forever, name=f"console-listener-{self.host}", daemon=True
            )
            self._listener.start()

    def stop(self) -> None:
        for jobs in self.queues:
            jobs.put(None)
        self._stopping.set()
        if self._listener is not None:
            # A listener still subscribing sees the flag once subscribed; one subscribed hears
            # STOP on its channel (a receive must not be cancelled: that unsubscribes it).
            for _ in range(40):
                if self._channel is not None or not self._listener.is_alive():
                    break
                time.sleep(0.05)
        loop, channel = self._loop, self._channel
        if loop is not None and channel is not None and not loop.is_closed():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(
                    self.layer.send(channel, {"type": self.STOP}), loop
                ).result(2)
        for worker in self._workers:
            worker.join(5)
        if self._listener is not None:
            self._listener.join(5)

    # --- what browsers ask ------------------------------------------------------------------
    def type(self, uuid: str, data: str) -> None:
        """Queue keystrokes for ``uuid``'s serial console."""
        self._queue(uuid).put(lambda: self.driver.console_input(uuid, data))

    def watch(self, uuid: str) -> None:
        """Someone is looking at ``uuid``'s console: its output must be published for a while."""
        self._queue(uuid).put(lambda: self.driver.console_watch(uuid))

    def _queue(self, uuid: str) -> queue.SimpleQueue[Callable[[], None] | None]:
        return self.queues[zlib.crc32(uuid.encode()) % len(self.queues)]

    def _work(self, jobs: queue.SimpleQueue[Callable[[], None] | None]) -> None:
        while True:
            try:
                job = jobs.get(timeout=FLUSH_AFTER)
            except queue.Empty:
                job = self.driver.console_flush  # idle: what was echoed joins the log
            if job is None:
                break
            try:
                job()
            except ComputeError as refused:  # a guest gone or stopped: keystrokes are dropped
                log.debug("console job on %s refused: %s", self.host, refused)
            except Exception:
                log.exception("console job on %s failed", self.host)
            finally:
                close_old_connections()
        with contextlib.suppress(Exception):
            self.driver.console_flush()
        close_old_connections()

    # --- the channel layer ------------------------------------------------------------------
    def _listen_forever(self) -> None:
        self._loop = loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._listen())
        finally:
            with contextlib.suppress(Exception):
                flush = getattr(self.layer, "flush", None)
                if flush is not None:
                    loop.run_until_complete(flush())
            leftovers = asyncio.all_tasks(loop)
            if leftovers:
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.close()

    async def _listen(self) -> None:
        group = host_group(self.host)
        while True:
            try:
                channel = await self.layer.new_channel()
                await self.layer.group_add(group, channel)
                self._channel = channel
                if self._stopping.is_set():
                    await self.layer.group_discard(group, channel)
                    return
                while True:
                    message = await self.layer.receive(channel)
                    kind = message.get("type")
                    if kind == self.STOP:
                        await self.layer.group_discard(group, channel)
                        return
                    await self._handle(kind, message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("console requests for %s unavailable; retrying", self.host)
                await asyncio.sleep(1.0)

    async def _handle(self, kind: Any, message: dict[str, Any]) -> None:
        uuid = str(message.get("uuid", ""))
        if kind == "console.input":
            self.type(uuid, str(message.get("data", "")))
        elif kind == "console.watch":
            self.watch(uuid)
        elif kind in ("console.log", "console.target", "guest.diagnostics"):
            reply = str(message.get("reply", ""))
            answer: dict[str, Any]
            try:
                value = await asyncio.get_running_loop().run_in_executor(
                    None, self._answer_in_thread, str(kind), uuid, str(message.get("protocol", ""))
                )
                answer = {"type": "console.reply", "value": value}
            except ComputeError as refused:
                answer = {
                    "type": "console.reply",
                    "error": type(refused).__name__,
                    "message": refused.message,
                }
            if reply:
                await self.layer.send(reply, answer)

    def answer(self, kind: str, uuid: str, protocol: str = "") -> Any:
        """A request answered by the driver, in the caller's thread: the log, a console's
        target or the guest's diagnostics, as plain data."""
        if kind == "console.log":
            return self.driver.console_output(uuid)
        if kind == "guest.diagnostics":
            return self.driver.get_diagnostics(uuid).as_dict()
        target = self.driver.remote_console(uuid, protocol)
        return {"kind": target.kind, "host": target.host, "port": target.port}

    def _answer_in_thread(self, kind: str, uuid: str, protocol: str) -> Any:
        try:
            return self.answer(kind, uuid, protocol)
        finally:
            close_old_connections()  # an executor's thread keeps its connection otherwise


def serve(host: str, driver: ComputeDriver) -> ConsoleHost:
    """Serve ``host``'s consoles from this process (the agent's start)."""
    from compute.dispatch import shared_layer

    served = ConsoleHost(host, driver, shared_layer())
    with _lock:
        previous = _served.get(host)
        _served[host] = served
    if previous is not None:
        previous.stop()
    served.start()
    return served


def unserve(host: str, served: ConsoleHost | None = None) -> None:
    with _lock:
        current = _served.get(host)
        if current is None or (served is not None and current is not served):
            return
        del _served[host]
    current.stop()


def local_host(host: str) -> ConsoleHost | None:
    """The worker of ``host`` if its agent runs in this process."""
    with _lock:
        return _served.get(host)
