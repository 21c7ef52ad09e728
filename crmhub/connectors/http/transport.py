"""The one HTTP client every connector uses.

It gives each call a (connect, read) timeout and an overall deadline (so a slow-drip body
cannot hold a worker), caps the body size, follows no redirect (a redirect could carry a
form-posted API key to another host), ignores proxy settings from the environment, opens
its connections through the address guard (``guard.py``), maps every failure to the error
family (``failures.py``), and keeps a record of every call for the audit log, with the
connection's secrets masked (``redaction.py``). It never retries on its own: retry policy
belongs to the task that knows whether a call is safe. A caller that paces its requests
(a sync, a connection check: reads) gives it a ``Pacer``, asked before every request and
told of every rate-limit answer, which it may have sent again.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urljoin

import requests
from requests.structures import CaseInsensitiveDict
from urllib3 import exceptions as urllib3_errors

from crmhub.connectors.errors import BadResponse, ConnectorError, RateLimited, Unavailable
from crmhub.connectors.http.ahead import PendingResponse
from crmhub.connectors.http.failures import error_for_exception, error_for_status
from crmhub.connectors.http.guard import GuardedAdapter, check_base_url
from crmhub.connectors.http.redaction import Redactor

logger = logging.getLogger("crmhub.connectors.http")

USER_AGENT = "crmhub/0.1 (+staff console)"
MAX_BODY_BYTES = 5 * 1024 * 1024


#: Called with each secret obtained at run time (a session token): the application hooks its
#: process-wide log and error-report redaction here (connectors know nothing of Django).
SECRET_LISTENERS: list[Callable[[str], None]] = []


def build_session(*, allow_private: bool, allow_link_local: bool = False) -> requests.Session:
    """Return a session with the address guard, no proxies from the environment, no retries."""
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    adapter = GuardedAdapter(allow_private=allow_private, allow_link_local=allow_link_local)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


#: A kept session's connections are used again only if its last call ended less than this
#: long ago; older ones are closed first (a server may have closed its end meanwhile, and
#: a change sent into a connection the server just closed would end as an unknown
#: outcome). Servers keep an idle connection open for seconds (uvicorn 5 s, Apache 5 s,
#: nginx 75 s), so this is well inside what any of them allows.
KEEP_ALIVE_SECONDS = 1.0


class _KeptSessions(threading.local):
    """One idle session per address-guard setting, kept by each thread between clients.

    Used by clients built with ``keep_alive``: a worker carrying out one action after
    another to the same CRM reuses its connection instead of opening one (a TCP
    handshake and a session on both sides) per action. A session is handed to one client
    at a time, with no cookie or header left by the previous one.
    """

    def __init__(self) -> None:
        self.idle: dict[tuple[bool, bool], tuple[requests.Session, float]] = {}

    def take(self, *, allow_private: bool, allow_link_local: bool) -> requests.Session:
        kept = self.idle.pop((allow_private, allow_link_local), None)
        if kept is None:
            return build_session(allow_private=allow_private, allow_link_local=allow_link_local)
        session, released = kept
        if time.monotonic() - released > KEEP_ALIVE_SECONDS:
            session.close()  # its connections only: the session opens new ones
        session.cookies.clear()
        session.headers.clear()
        session.headers.update(requests.utils.default_headers())
        session.headers["User-Agent"] = USER_AGENT
        return session

    def give_back(
        self, session: requests.Session, *, allow_private: bool, allow_link_local: bool
    ) -> None:
        key = (allow_private, allow_link_local)
        if key in self.idle:  # another client of this thread gave one back first
            session.close()
            return
        self.idle[key] = (session, time.monotonic())


_kept = _KeptSessions()


class Pacer(Protocol):
    """Paces the requests of one ``HttpClient`` (see ``crmhub.actions.ratelimit``)."""

    def before_request(self) -> None:
        """Return when the next request may be sent (or raise a ``ConnectorError``)."""

    def rate_limited(self, error: RateLimited) -> bool:
        """Take note of a rate-limit answer; return whether to send the request again."""


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
    """An answer. Its body and headers may carry a token (a login's answer): not in a repr."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)
    url: str = ""

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


class HttpClient:
    """A guarded, recording HTTP client bound to one base URL."""

    def __init__(
        self,
        *,
        base_url: str,
        allow_private_network: bool = False,
        allow_link_local: bool = False,
        timeout: tuple[float, float] = (5.0, 30.0),
        secret_values: Iterable[str] = (),
        secret_fields: Iterable[str] = (),
        max_body: int = MAX_BODY_BYTES,
        keep_alive: bool = False,
    ) -> None:
        """``keep_alive``: take the session from (and give it back on ``close`` to) the
        thread's kept sessions, so that its open connections serve the next client too."""
        check_base_url(
            base_url,
            allow_private=allow_private_network,
            allow_link_local=allow_link_local,
            resolve=False,
        )
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.allow_private_network = allow_private_network
        self.allow_link_local = allow_link_local
        self.timeout = timeout
        self.deadline = timeout[0] + timeout[1] * 2
        self.redactor = Redactor(values=secret_values, fields=secret_fields)
        self.max_body = max_body
        self.keep_alive = keep_alive
        make = _kept.take if keep_alive else build_session
        self.session = make(allow_private=allow_private_network, allow_link_local=allow_link_local)
        self._calls: list[CallRecord] = []
        #: Asked before every request when set (syncs and checks take rate-limit slots).
        self.pacer: Pacer | None = None

    def __repr__(self) -> str:  # its redactor holds credentials and tokens: never in a repr
        return f"HttpClient(base_url={self.base_url!r})"

    # -- redaction ---------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        """Return ``text`` with this connection's secret values masked."""
        return self.redactor.text(text)

    def redact_data(self, data: Any) -> Any:
        """Return ``data`` with secret-named keys masked and secret values scrubbed."""
        return self.redactor.data(data)

    def add_secret(self, value: str) -> None:
        """Mask ``value`` from now on and in the calls already recorded.

        For secrets obtained at run time (a session token answered by a login call).
        """
        if not self.redactor.add(value):
            return
        for listener in SECRET_LISTENERS:
            listener(value)
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

        With ``check_status`` any non-2xx status raises (see ``error_for_status``). With a
        ``pacer``, each request waits for its turn, and a rate-limited one is sent again
        when the pacer says so (each try is recorded).
        """
        while True:
            if self.pacer is not None:
                self.pacer.before_request()
            try:
                return self._send(
                    method, path, params=params, data=data, json_body=json_body,
                    headers=headers, check_status=check_status,
                )  # fmt: skip
            except RateLimited as exc:
                if self.pacer is None or not self.pacer.rate_limited(exc):
                    raise

    def request_ahead(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> PendingResponse:
        """Send one request from a thread of its own and return at once; ``result()`` of
        what it returns is the response ``request`` would return (or its error).

        For reading ahead: the caller parses one answer while the next is on its way. The
        pacer is asked here, in the calling thread; at most one request of a client may be
        on its way at a time (its session is not shared between threads).
        """
        send = functools.partial(
            self._send, method, path, params=params, data=data, json_body=None, headers=None,
            check_status=True,
        )  # fmt: skip
        return PendingResponse(send, self.pacer)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
        check_status: bool,
    ) -> Response:
        url = self.url_for(path)
        shown = self.redactor.url(url, params)
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
                raise error_for_exception(exc, shown) from None
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
            raise error_for_exception(exc, url) from None
        return b"".join(chunks)

    def record_call(
        self,
        method: str,
        url: str,
        *,
        request: Mapping[str, Any],
        status: int | None,
        started: float,
        body: bytes = b"",
        error: str | None = None,
    ) -> None:
        """Keep a call made outside this client (a Web Socket handshake) in the record.

        ``started`` is the ``time.monotonic()`` of its start; what it sent is redacted here
        like every other call's.
        """
        shown = self.redactor.url(url, None)
        self._record(method, shown, self.redact_data(dict(request)), status, body, started, error)

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
        if self.keep_alive:
            _kept.give_back(
                self.session,
                allow_private=self.allow_private_network,
                allow_link_local=self.allow_link_local,
            )
        else:
            self.session.close()
