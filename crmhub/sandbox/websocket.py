"""The sandbox's Web Socket: the simulated Collect! server's prompt channel (pure ASGI).

Served by ``crmhub.asgi`` on the event loop of the one server process, at
``/sandbox/collect/api/v1/ws``. On connect the server sends ``{"websocket-id": id}``; the
id is then named in ``runplan`` requests, whose plans (running on worker threads of the
same process) prompt through ``crmhub.sandbox.collect.sockets`` and read the answers the
client sends back here. Closing the socket cancels any prompt waiting on it. With the setting
``SANDBOX_COLLECT_WEBSOCKET_ABSENT`` the end point answers HTTP 404, as a Collect! server
without it would (plans are then sent without a socket).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from crmhub.sandbox.collect import WEBSOCKET_PATH, sockets

NOT_FOUND = 4404


async def _absent(scope: Mapping[str, Any], send: Any) -> None:
    """Answer the handshake as a server without this end point: HTTP 404."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": NOT_FOUND})  # the server says 403
        return
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "websocket.http.response.start", "status": 404, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": b"Not Found"})


async def websocket_app(scope: Mapping[str, Any], receive: Any, send: Any) -> None:
    """Serve one Web Socket connection."""
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    if scope.get("path") != WEBSOCKET_PATH:
        await send({"type": "websocket.close", "code": NOT_FOUND})
        return
    if getattr(settings, "SANDBOX_COLLECT_WEBSOCKET_ABSENT", False):
        await _absent(scope, send)
        return
    await send({"type": "websocket.accept"})
    session = sockets.open_session(loop=asyncio.get_running_loop(), sender=send)
    try:
        await session.send_json({"websocket-id": session.websocket_id})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                break
            if message["type"] == "websocket.receive":
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", errors="replace")
                if text:
                    sockets.deliver(session, text)
    finally:
        sockets.close_session(session.websocket_id)
