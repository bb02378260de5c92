"""A libvirt guest's serial console, for the libvirt driver: its log, what it prints, keystrokes.

- **The log** is Nova's ``console.log``: the serial device's output, kept by virtlogd in the
  instance's directory (``libvirt_xml``). ``output`` returns its last 100 KiB, as Nova's
  ``get_console_output``; a guest that has printed nothing yet has "".
- **What it prints** is read from that same log: a watched guest's log is tailed (every
  ``TAIL_EVERY`` seconds) and each new piece published. Reading the console stream instead
  would need a reader beside the writer, and libvirt's client deadlocks now and then with a
  receive and a send on one stream (both wait in virNetClientSendStream; tests/guests found
  it). A watch lapses ``WATCH_FOR`` seconds after its last renewal.
- **Keystrokes** go down a console stream (``virDomainOpenConsole``, forced: an operator's
  ``virsh console`` is displaced, as Nova's serial proxy does), kept open per guest and
  re-opened once when it broke (the guest restarted, someone else took the console).

This module does not import libvirt: the driver hands it the stream opener.
"""

from __future__ import annotations

import codecs
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from compute.consoles.bus import publish

log = logging.getLogger(__name__)

#: Nova's ``MAX_CONSOLE_BYTES``: the most of a log ``get_console_output`` returns.
MAX_CONSOLE_BYTES = 100 * 1024
TAIL_EVERY = 0.05
WATCH_FOR = 90.0


def last_bytes(path: str, limit: int = MAX_CONSOLE_BYTES) -> bytes:
    """The file's last ``limit`` bytes; b"" if it does not exist (yet)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - limit))
            return handle.read(limit)
    except FileNotFoundError:
        return b""


class _Tail:
    """One watched guest: publishes what its log gains until the watch lapses."""

    def __init__(self, uuid: str, path: str, on_end: Callable[[str], None]) -> None:
        self.uuid, self.path, self.on_end = uuid, path, on_end
        self.until = time.monotonic() + WATCH_FOR
        self._thread = threading.Thread(target=self._run, name=f"console-tail-{uuid}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def renew(self) -> None:
        self.until = time.monotonic() + WATCH_FOR

    def _run(self) -> None:
        try:
            offset = os.stat(self.path).st_size
        except FileNotFoundError:
            offset = 0
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            while time.monotonic() < self.until:
                time.sleep(TAIL_EVERY)
                try:
                    size = os.stat(self.path).st_size
                except FileNotFoundError:
                    continue
                if size < offset:  # the log was replaced (a rebuild, a move back)
                    offset = 0
                if size == offset:
                    continue
                with open(self.path, "rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read(min(size - offset, 1 << 20))
                offset += len(chunk)
                text = decoder.decode(chunk)
                if text:
                    publish(self.uuid, text)
        finally:
            self.on_end(self.uuid)


class LibvirtConsoles:
    """The serial consoles of one libvirt driver's guests."""

    def __init__(self, open_stream: Callable[[str], Any], log_path: Callable[[str], str]) -> None:
        #: ``open_stream(uuid)``: a console stream opened on the guest (raises DriverError).
        self.open_stream = open_stream
        self.log_path = log_path
        self._lock = threading.Lock()
        self._tails: dict[str, _Tail] = {}
        self._streams: dict[str, Any] = {}

    def output(self, uuid: str) -> str:
        return last_bytes(self.log_path(uuid)).decode("utf-8", "replace")

    def watch(self, uuid: str) -> None:
        with self._lock:
            tail = self._tails.get(uuid)
            if tail is not None:
                tail.renew()
                return
            tail = self._tails[uuid] = _Tail(uuid, self.log_path(uuid), self._ended)
        tail.start()

    def _ended(self, uuid: str) -> None:
        with self._lock:
            self._tails.pop(uuid, None)

    def type(self, uuid: str, data: bytes) -> None:
        """Send keystrokes; one retry on a fresh stream if the kept one broke."""
        for attempt in (1, 2):
            stream = self._streams.get(uuid)
            if stream is None:
                stream = self._streams[uuid] = self.open_stream(uuid)
            try:
                stream.send(data)
                return
            except Exception:
                self._streams.pop(uuid, None)
                with_abort(stream)
                if attempt == 2:
                    raise

    def forget(self, uuid: str) -> None:
        """The guest is gone or moved: drop its stream."""
        stream = self._streams.pop(uuid, None)
        if stream is not None:
            with_abort(stream)


def with_abort(stream: Any) -> None:
    try:
        stream.abort()
    except Exception:  # already broken: nothing to release
        log.debug("console stream abort failed", exc_info=True)
