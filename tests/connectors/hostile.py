"""A throwaway HTTP server that answers however a test tells it to (hostile remotes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = Callable[[BaseHTTPRequestHandler], None]


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes, dict[str, str]]] = []


@contextmanager
def hostile_server(handler: Handler) -> Iterator[tuple[str, Recorder]]:
    """Serve ``handler`` on a free loopback port; yield (base URL, recorder of requests)."""
    recorder = Recorder()

    class RequestHandler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append((self.command, self.path, body, dict(self.headers)))
            with suppress(BrokenPipeError, ConnectionResetError):
                handler(self)

        do_GET = do_POST = _handle

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", recorder
    finally:
        server.shutdown()
        server.server_close()


def answer(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handle


def slow_drip(chunks: int, delay: float) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.end_headers()
        for _ in range(chunks):
            request.wfile.write(b" ")
            request.wfile.flush()
            time.sleep(delay)

    return handle
