"""The one HTTP client every connector uses.

It gives each call a (connect, read) timeout and an overall deadline (so a slow-drip body
cannot hold a worker), caps the body size, follows no redirect (a redirect could carry a
form-posted API key to another host), ignores proxy settings from the environment, checks
the address it actually connects to (no loopback/private/link-local/metadata address
unless the connection allows it — this also defeats DNS rebinding), maps every failure to
the error family in ``errors.py``, and keeps a redacted record of every call for the audit
log. It never retries: retry policy belongs to the task that knows whether a call is safe.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import re
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import exceptions as urllib3_errors
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
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

logger = logging.getLogger("crmhub.connectors.http")

USER_AGENT = "crmhub/0.1 (+staff console)"
MAX_BODY_BYTES = 5 * 1024 * 1024
MASK = "[redacted]"
_BLOCKED = "crmhub-blocked-address"
_SECRET_NAME = re.compile(
    r"api[-_]?key|access[-_]?key|password|passwd|secret|token|authorization|session[-_]?key",
    re.IGNORECASE,
)


# -- outbound-address guard ----------------------------------------------------------------
def address_allowed(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool
) -> bool:
    """Return whether a connection may be opened to ``ip``.

    Only globally routable addresses are allowed, unless ``allow_private`` (a self-hosted
    server on the LAN, or the built-in sandbox), which still never allows multicast,
    unspecified (0.0.0.0, ::) or reserved addresses.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    if allow_private:
        return True
    return ip.is_global


def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[tuple[Any, ...]]:
    """Resolve ``host`` and return its addresses; raise ``BlockedAddress`` if any is refused."""
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unavailable(f"Cannot resolve host {host!r}.", request_sent=False) from exc
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address_allowed(ip, allow_private=allow_private):
            raise BlockedAddress(
                f"{host} resolves to {ip}, a private, loopback or reserved address this "
                "connection is not allowed to reach."
            )
    return infos


def check_base_url(url: str, *, allow_private: bool, resolve: bool = True) -> None:
    """Raise ``BlockedAddress`` unless ``url`` is an http(s) URL this connection may reach."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError:
        raise BlockedAddress("The base URL is not a valid web address.") from None
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress("The base URL must start with http:// or https://.")
    if not parts.hostname:
        raise BlockedAddress("The base URL has no host name.")
    if parts.username or parts.password:
        raise BlockedAddress("The base URL must not contain a user name or password.")
    try:
        parts.hostname.encode("idna")  # as the resolver will (empty or over-long labels...)
    except UnicodeError:
        raise BlockedAddress("The base URL's host name is not valid.") from None
    if resolve:
        resolve_checked(
            parts.hostname,
            port or (443 if parts.scheme == "https" else 80),
            allow_private=allow_private,
        )


def _guarded_new_conn(conn: HTTPConnection, allow_private: bool) -> socket.socket:
    try:
        infos = socket.getaddrinfo(conn._dns_host, conn.port, 0, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    error: OSError | None = None
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not address_allowed(ip, allow_private=allow_private):
            raise NewConnectionError(conn, f"{_BLOCKED} {ip}")
    for family, socktype, proto, _, sockaddr in infos:
        sock = socket.socket(family, socktype, proto)
        try:
            if conn.timeout is not None:
                sock.settimeout(conn.timeout)
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.") from exc
        except OSError as exc:
            sock.close()
            error = exc
    raise NewConnectionError(conn, f"Failed to establish a new connection: {error}")


@cache
def _pool_classes(allow_private: bool) -> dict[str, type]:
    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _guarded_new_conn(self, allow_private)

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _guarded_new_conn(self, allow_private)

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class GuardedAdapter(HTTPAdapter):
    """A transport adapter whose connections check the address they connect to."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        super().__init__(max_retries=0, pool_connections=4, pool_maxsize=4)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.allow_private)


def build_session(*, allow_private: bool) -> requests.Session:
    """Return a session with the address guard, no proxies from the environment, no retries."""
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    adapter = GuardedAdapter(allow_private=allow_private)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# -- responses and the audit record --------------------------------------------------------
@dataclass(frozen=True)
class CallRecord:
    """One HTTP call as the audit log shows it: secrets masked, bodies truncated."""

    method: str
    url: str
    request: Mapping[str, Any]
    status: int | None
    response: str
    elapsed_ms: int
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Return the decoded JSON body; raise ``BadResponse`` if it is not JSON."""
        try:
            return json.loads(self.content)
        except (ValueError, RecursionError) as exc:
            snippet = self.text[:120].strip()
            raise BadResponse(
                f"The server did not answer with JSON (got {snippet!r}).",
                status=self.status,
                url=self.url,
            ) from exc


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


def _error_for_exception(exc: requests.RequestException, url: str) -> ConnectorError:
    """Map a ``requests`` exception to the error family, deciding whether bytes were sent."""
    text = str(exc)
    if _BLOCKED in text:
        return BlockedAddress(
            "The address this connection resolves to is not allowed "
            "(private, loopback or reserved).",
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


class HttpClient:
    """A guarded, recording HTTP client bound to one base URL."""

    def __init__(
        self,
        *,
        base_url: str,
        allow_private_network: bool = False,
        timeout: tuple[float, float] = (5.0, 30.0),
        secret_values: Iterable[str] = (),
        secret_fields: Iterable[str] = (),
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        check_base_url(base_url, allow_private=allow_private_network, resolve=False)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.allow_private_network = allow_private_network
        self.timeout = timeout
        self.deadline = timeout[0] + timeout[1] * 2
        self.secret_values = tuple(
            sorted({v for v in secret_values if v and len(v) >= 4}, key=len, reverse=True)
        )
        self.secret_fields = {name.lower() for name in secret_fields}
        self.max_body = max_body
        self.session = build_session(allow_private=allow_private_network)
        self._calls: list[CallRecord] = []

    # -- redaction ---------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        """Return ``text`` with this connection's secret values masked."""
        for value in self.secret_values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def add_secret(self, value: str) -> None:
        """Mask ``value`` from now on and in the calls already recorded.

        For secrets obtained at run time (a session token answered by a login call).
        """
        if not value or len(value) < 4 or value in self.secret_values:
            return
        self.secret_values = tuple(sorted({*self.secret_values, value}, key=len, reverse=True))
        self._calls = [
            replace(
                call,
                url=self.redact(call.url),
                request=self.redact_data(call.request),
                response=self.redact(call.response),
                error=self.redact(call.error) if call.error else None,
            )
            for call in self._calls
        ]

    def _is_secret_name(self, name: str) -> bool:
        return name.lower() in self.secret_fields or bool(_SECRET_NAME.search(name))

    def redact_data(self, data: Any) -> Any:
        """Return ``data`` with secret-named keys masked and secret values scrubbed."""
        if isinstance(data, Mapping):
            return {
                k: MASK if self._is_secret_name(str(k)) else self.redact_data(v)
                for k, v in data.items()
            }
        if isinstance(data, list | tuple):
            return [self.redact_data(item) for item in data]
        if isinstance(data, str):
            return self.redact(data)
        return data

    def _display_url(self, url: str, params: Mapping[str, Any] | None) -> str:
        parts = urlsplit(url)
        query = urlencode(self.redact_data(dict(params or {})), doseq=True)
        return self.redact(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")))

    # -- calls -------------------------------------------------------------------------------
    def url_for(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return urljoin(self.base_url, path.lstrip("/"))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        check_status: bool = True,
    ) -> Response:
        """Send one request and return the response; raise a ``ConnectorError`` on failure.

        With ``check_status`` any non-2xx status raises (see ``error_for_status``).
        """
        url = self.url_for(path)
        shown = self._display_url(url, params)
        recorded: dict[str, Any] = {}
        if data is not None:
            recorded["form"] = self.redact_data(dict(data))
        if json_body is not None:
            recorded["json"] = self.redact_data(json_body)
        if headers:
            recorded["headers"] = self.redact_data(dict(headers))
        started = time.monotonic()
        status: int | None = None
        body = b""
        try:
            try:
                raw = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    json=json_body,
                    headers=dict(headers or {}),
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                )
            except requests.RequestException as exc:
                raise _error_for_exception(exc, shown) from None
            status = raw.status_code
            try:
                body = self._read_body(raw, started, shown)
            finally:
                raw.close()
            # Case-insensitive: servers may send header names in lower case (HTTP/2, h11).
            headers = CaseInsensitiveDict(raw.headers)
            response = Response(status=status, headers=headers, content=body, url=shown)
            if check_status:
                error = error_for_status(
                    status, response.headers, self.redact(response.text), shown
                )
                if error is not None:
                    raise error
            self._record(method, shown, recorded, status, body, started, None)
            return response
        except ConnectorError as exc:
            self._record(method, shown, recorded, status, body, started, str(exc))
            raise

    def _read_body(self, raw: requests.Response, started: float, url: str) -> bytes:
        declared = raw.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            raise BadResponse(
                f"The answer is too large ({declared} bytes).", url=url, status=raw.status_code
            )
        chunks: list[bytes] = []
        size = 0
        try:
            # read1 returns whatever has arrived, so a body dripping a byte at a time still
            # meets the deadline check (iter_content would wait for a whole chunk).
            while chunk := raw.raw.read1(65536, decode_content=True):
                size += len(chunk)
                if size > self.max_body:
                    raise BadResponse(
                        f"The answer is larger than {self.max_body} bytes.",
                        url=url,
                        status=raw.status_code,
                    )
                if time.monotonic() - started > self.deadline:
                    raise Unavailable(
                        "The server sent its answer too slowly; gave up.",
                        url=url,
                        status=raw.status_code,
                        request_sent=True,
                    )
                chunks.append(chunk)
        except (requests.RequestException, urllib3_errors.HTTPError) as exc:
            if isinstance(exc, urllib3_errors.HTTPError):
                exc = requests.ConnectionError(exc)
            raise _error_for_exception(exc, url) from None
        return b"".join(chunks)

    def _record(
        self,
        method: str,
        url: str,
        request: dict[str, Any],
        status: int | None,
        body: bytes,
        started: float,
        error: str | None,
    ) -> None:
        elapsed = int((time.monotonic() - started) * 1000)
        text = self.redact(body[:4000].decode("utf-8", errors="replace"))
        record = CallRecord(
            method=method,
            url=url,
            request=request,
            status=status,
            response=text[:2000],
            elapsed_ms=elapsed,
            error=self.redact(error) if error else None,
        )
        self._calls.append(record)
        logger.info(
            "remote call %s %s -> %s in %d ms%s",
            method,
            url,
            status,
            elapsed,
            f" ({record.error})" if error else "",
        )

    def drain_calls(self) -> list[CallRecord]:
        calls, self._calls = self._calls, []
        return calls

    def close(self) -> None:
        self.session.close()
