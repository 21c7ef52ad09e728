"""The real client address behind trusted reverse proxies.

uvicorn's ``ProxyHeadersMiddleware`` (maintained with the server) sets the ASGI ``client``
(Django's ``REMOTE_ADDR``) from ``X-Forwarded-For`` and the scheme from
``X-Forwarded-Proto``, but only when the peer that connected is one of
``CRMHUB_TRUSTED_PROXIES`` (addresses or networks). It reads the header from the right and
stops at the first address that is not a trusted proxy, so a client that connects directly,
or through a hop that is not trusted, cannot change its address by sending the header.

Sign-in lock-out (django-axes, ``AXES_CLIENT_IP_CALLABLE``) and the logs count that address.
The server runs with its own proxy handling off (``uvicorn --no-proxy-headers``), so the
setting is the only source of trust.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


class TrustedProxies:
    """ASGI middleware: take the client address from trusted proxies' forwarded headers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._middlewares: dict[tuple[str, ...], ProxyHeadersMiddleware] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        trusted = tuple(settings.CRMHUB_TRUSTED_PROXIES)
        if not trusted or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        middleware = self._middlewares.get(trusted)
        if middleware is None:
            middleware = ProxyHeadersMiddleware(self.app, trusted_hosts=list(trusted))
            self._middlewares[trusted] = middleware
        await middleware(scope, receive, send)


def client_ip(request: HttpRequest) -> str | None:
    """Return the client address of ``request`` (set by ``TrustedProxies``) for django-axes."""
    return request.META.get("REMOTE_ADDR")
