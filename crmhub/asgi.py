"""A web process: Django (WSGI, on a thread pool) plus the sandbox Web Socket.

Django's own ASGI handler runs every sync view on one shared thread, so a slow remote-like
view (the sandbox's injected latency, a Collect! plan waiting for a prompt's answer) would
hold up every other request. Here HTTP goes to the WSGI application on a pool of threads,
and Web Socket connections go to the sandbox's Collect! socket on the event loop, in the
same process, so a running plan can reach the socket that its client opened.

``CRMHUB_WEB_ROLE`` says what the process serves: ``console`` (no sandbox: its URLs answer
404 and its socket is closed; several such processes may run), ``sandbox`` (the sandbox
alone, ``crmhub.urls_sandbox``: one process, as the sockets live in its memory) or ``all``.
A console process closes each connection after its response (``CRMHUB_WEB_KEEP_ALIVE``), so
that a browser's next request goes to the console process free to accept it.
"""

from __future__ import annotations

import os
from typing import Any

from a2wsgi import WSGIMiddleware
from a2wsgi.asgi_typing import Receive, Scope, Send
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmhub.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - settings need Django set up first

from crmhub.core import warmup  # noqa: E402
from crmhub.core.proxies import TrustedProxies  # noqa: E402

# The client address (sign-in lock-out, logs) from trusted proxies' X-Forwarded-For only.
http_application = TrustedProxies(
    WSGIMiddleware(
        django_application,  # type: ignore[arg-type]  # WSGI typed two ways (dict vs TypedDict)
        workers=settings.CRMHUB_WEB_THREADS,
    )
)


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """Route Web Socket connections to the sandbox; everything else to Django."""
    if scope["type"] == "websocket":
        if settings.CRMHUB_SANDBOX and settings.CRMHUB_WEB_ROLE != "console":
            from crmhub.sandbox.websocket import websocket_app

            await websocket_app(scope, receive, send)
            return
        await send({"type": "websocket.close", "code": 4404})
        return
    if scope["type"] == "lifespan":
        # Started: ready the broker and freeze the heap, off the requests' path.
        warmup.web_warm_start(publishes=settings.CRMHUB_WEB_ROLE != "sandbox")
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if not settings.CRMHUB_WEB_KEEP_ALIVE:
        send = _closing(send)
    await http_application(scope, receive, send)


def _closing(send: Send) -> Send:
    """Wrap ``send`` so that the response asks to close the connection after it.

    The server (uvicorn, h11 or httptools) then closes it once the response is sent, and the
    client's next request opens a new one, which goes to whichever process accepts it first.
    """

    async def closing_send(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (name, value)
                for name, value in message.get("headers", ())
                if name.lower() != b"connection"
            ]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)

    return closing_send
