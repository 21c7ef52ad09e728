"""A remote CRM on 127.0.0.1 that records every request it receives (headers and body)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CATEGORIES = (
    b'<?xml version="1.0"?><results><categories><category><categoryid>1</categoryid>'
    b"<name>Prospect</name></category></categories></results>"
)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def carries(self, secret: str) -> bool:
        """Return whether ``secret`` arrived anywhere in this request."""
        raw = f"{self.path}\n{self.headers}".encode() + b"\n" + self.body
        return secret.encode() in raw


class RecordingRemote:
    """Serve on an ephemeral loopback port; ``received`` lists what arrived, in order."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                remote.received.append(
                    Received(self.command, self.path, dict(self.headers.items()), body)
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(CATEGORIES)))
                self.end_headers()
                self.wfile.write(CATEGORIES)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host: str = "127.0.0.1", path: str = "/api/2/") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
