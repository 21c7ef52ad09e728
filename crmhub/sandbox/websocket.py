"""Placeholder: the Collect! sandbox Web Socket (replaced by the Collect! sandbox)."""

from __future__ import annotations


async def websocket_app(scope, receive, send):  # type: ignore[no-untyped-def]
    await send({"type": "websocket.close", "code": 4404})
