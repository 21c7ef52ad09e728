"""Map every HTTP failure to the error family: the one place a status or a raw
``requests`` exception becomes an ``AuthFailed``, ``RateLimited``, ``Unavailable``...
and where it is decided whether the request may have reached the server.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

import requests
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from crmhub.connectors.errors import (
    AuthFailed,
    BadResponse,
    BlockedAddress,
    ConnectorError,
    NotFound,
    RateLimited,
    Rejected,
    Unavailable,
)
from crmhub.connectors.http.guard import BLOCKED_MARKER


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_for_status(
    status: int, headers: Mapping[str, str], body: str, url: str
) -> ConnectorError | None:
    """Map an HTTP status to the error family (None for 2xx). The one place this is decided."""
    if 200 <= status < 300:
        return None
    snippet = body[:200].strip()
    if 300 <= status < 400:
        return BadResponse(
            f"The server answered with a redirect ({status}); crmhub does not follow redirects "
            "on credentialed calls.",
            status=status,
            url=url,
            body=body,
        )
    if status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        return RateLimited(
            "The server is rate limiting requests"
            + (f"; retry after {retry_after:.0f} s." if retry_after is not None else "."),
            retry_after=retry_after,
            status=status,
            url=url,
            body=body,
        )
    if status in (401, 403):
        return AuthFailed(
            f"The server refused the credentials ({status}).", status=status, url=url, body=body
        )
    if status == 404:
        return NotFound(f"Not found (404): {snippet}", status=status, url=url, body=body)
    if status >= 500:
        if status == 503 and headers.get("Retry-After"):
            return RateLimited(
                "The server is unavailable (503) and asked to retry later.",
                retry_after=parse_retry_after(headers.get("Retry-After")),
                status=status,
                url=url,
                body=body,
            )
        return Unavailable(
            f"The server failed ({status}).", status=status, url=url, body=body, request_sent=True
        )
    return Rejected(
        f"The server rejected the request ({status}): {snippet}", status=status, url=url, body=body
    )


def error_for_exception(exc: requests.RequestException, url: str) -> ConnectorError:
    """Map a ``requests`` exception to the error family, deciding whether bytes were sent."""
    text = str(exc)
    if BLOCKED_MARKER in text:
        return BlockedAddress(
            "The address this connection resolves to is not allowed "
            "(private, loopback, link-local or reserved).",
            url=url,
        )
    if isinstance(exc, requests.ConnectTimeout):
        return Unavailable("Timed out connecting to the server.", url=url, request_sent=False)
    if isinstance(exc, requests.ReadTimeout):
        return Unavailable("Timed out waiting for the server's answer.", url=url, request_sent=True)
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(reason, NewConnectionError | NameResolutionError | ConnectTimeoutError):
            return Unavailable(
                "Could not connect to the server (refused or unreachable).",
                url=url,
                request_sent=False,
            )
        if "timed out" in text.lower():
            return Unavailable(
                "Timed out waiting for the server's answer.", url=url, request_sent=True
            )
        return Unavailable(
            "The connection broke before the answer was complete.", url=url, request_sent=True
        )
    return Unavailable(f"HTTP failure: {type(exc).__name__}.", url=url, request_sent=True)
