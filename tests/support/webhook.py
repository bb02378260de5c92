"""A real HTTP receiver for webhook tests: a threaded ``http.server`` on 127.0.0.1 that keeps
every request it is sent (headers and raw body) and can be stopped and started again on the
same port, to play a receiver that is down for a while."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.processes import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self, port: int | None = None, *, status: int = 204) -> None:
        self.port = port or free_port()
        self.status = status
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.arrived:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    receiver.arrived.notify_all()
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)


def serve_to_file(port: int, path: str) -> None:
    """A receiver in a process of its own (the benchmark's): one line per request, the
    ``X-Vmdash-Delivery`` header or ``-``, appended to ``path``."""
    receiver = WebhookReceiver(port)

    class Appender(list):  # type: ignore[type-arg]
        def append(self, item: Received) -> None:
            with open(path, "a") as out:
                out.write((item.headers.get("X-Vmdash-Delivery") or "-") + "\n")

    receiver.received = Appender()  # type: ignore[assignment]
    receiver.start()
    threading.Event().wait()


if __name__ == "__main__":
    import sys

    serve_to_file(int(sys.argv[1]), sys.argv[2])
