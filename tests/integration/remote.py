"""A minimal remote CRM over real HTTP, with a ledger, for the executor's fault tests.

``LedgerRemote`` serves ``POST /apply`` from a thread of the test process: each request is
written to the sandbox ledger (kind ``ledger``, effect ``<operation>:<key>``) and the
sandbox's fault injection applies to it (``crmhub.sandbox.faults`` with kind ``ledger``:
latency, 5xx, 429 with Retry-After, a hang after applying). It also lists ``contacts``
people (``GET /contacts?offset=&limit=``, no total: the listing ends on an empty page),
notes when every request arrived (``arrivals``) and can answer chosen requests 429
(``throttle``). ``LedgerConnector`` is the connector for it: one unsafe operation
(``poke``), one safe one (``peek``) and the listing, all HTTP through the project's
``HttpClient``, so timeouts, refused connections and pacing are the real ones. The real
connectors are exercised against the real sandbox in ``test_sandbox_faults.py``; this pair
keeps the executor's tests independent of them.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from socketserver import ThreadingMixIn
from typing import Any, ClassVar
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from crmhub.connectors.base import (
    ConnectionSpec,
    Connector,
    ContactPage,
    Operation,
    OperationResult,
    RemoteContact,
)
from crmhub.connectors.errors import InvalidParams, Rejected
from crmhub.connectors.http import HttpClient

KIND = "ledger"


def check_key(params: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger's declared checker: a ``key`` is required."""
    key = str(params.get("key") or "").strip()
    if not key:
        raise InvalidParams({"key": ["This field is required."]})
    return {"key": key}


def _operation(name: str, label: str, *, safe: bool) -> Operation:
    return Operation(name, label, safe=safe, needs_contact=False, check=check_key)


class LedgerConnector(Connector):
    kind = KIND
    secret_fields = ("api_key",)
    operations: ClassVar[Mapping[str, Operation]] = {
        "poke": _operation("poke", "Poke (changes remote state)", safe=False),
        "peek": _operation("peek", "Peek (a read)", safe=True),
    }

    def __init__(self, spec: ConnectionSpec, *, http: HttpClient | None = None) -> None:
        timeout = (
            float(spec.settings.get("connect_timeout", 2.0)),
            float(spec.settings.get("read_timeout", 5.0)),
        )
        super().__init__(dataclasses.replace(spec, timeout=timeout), http=http)

    def check_credentials(self) -> None:
        self.perform_peek({"key": "check"})

    def iter_contact_pages(
        self, *, since: datetime | None = None, page_size: int = 100
    ) -> Iterator[ContactPage]:
        """Yield ``GET /contacts`` pages until an empty one (the listing says no total)."""
        size = min(page_size, int(self.spec.settings.get("page_size", 100)))
        offset, number = 0, 0
        while True:
            rows = self.http.request("GET", "contacts", params={"offset": offset, "limit": size})
            contacts = tuple(
                RemoteContact(
                    remote_id=str(row["id"]),
                    record_type="person",
                    first_name=str(row["name"]),
                    last_name="Ledger",
                    emails=(f"ledger{row['id']}@example.com",),
                    updated_at=datetime(2026, 1, 1, tzinfo=UTC),
                    raw=row,
                )
                for row in rows.json()["contacts"]
            )
            if contacts or number == 0:
                yield ContactPage(contacts=contacts, total=None, number=number)
            if not contacts:
                return
            offset, number = offset + len(contacts), number + 1

    def perform_poke(self, params: dict[str, Any]) -> OperationResult:
        return self._apply("poke", params)

    def perform_peek(self, params: dict[str, Any]) -> OperationResult:
        return self._apply("peek", params)

    def _apply(self, operation: str, params: dict[str, Any]) -> OperationResult:
        response = self.http.request(
            "POST",
            "apply",
            json_body={"operation": operation, "key": params["key"]},
            headers={"X-Api-Key": self.spec.secrets.get("api_key", "")},
        )
        data = response.json()
        if not isinstance(data, dict) or not data.get("ok"):
            raise Rejected(f"The remote refused: {data!r}")
        return OperationResult(message="Applied", data=data)


@dataclass(frozen=True)
class Arrival:
    """One request as the remote saw it: when (``time.monotonic()``), what, answered how."""

    at: float
    method: str
    path: str
    query: dict[str, str]
    status: int


class _Control:
    """What the test asks of a remote: people to list, requests to answer 429."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self.contacts = 0
        #: (path or None for any, requests to let through first, how many to refuse, seconds)
        self.throttles: list[list[Any]] = []

    def throttled(self, path: str) -> float | None:
        """Return the Retry-After of a 429 for this request, or None to serve it."""
        with self.lock:
            for rule in self.throttles:
                wanted, skip, count, retry_after = rule
                if count <= 0 or (wanted is not None and wanted != path):
                    continue
                if skip > 0:
                    rule[1] -= 1
                    return None
                rule[2] -= 1
                return float(retry_after)
        return None


def _application(control: _Control, environ: dict[str, Any], start_response: Any) -> list[bytes]:
    from django.db import connections

    path = "/" + environ.get("PATH_INFO", "").strip("/")
    query = {name: values[0] for name, values in parse_qs(environ.get("QUERY_STRING")).items()}
    retry_after = control.throttled(path)
    status = 429 if retry_after is not None else 200
    control.arrivals.append(
        Arrival(time.monotonic(), environ["REQUEST_METHOD"], path, query, status)
    )
    if retry_after is not None:
        start_response("429 Too Many Requests", [("Retry-After", f"{retry_after:.0f}")])
        return [b"Too many requests"]
    if path == "/contacts":
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        ids = range(offset, min(offset + limit, control.contacts))
        body = {"contacts": [{"id": n, "name": f"Person{n}"} for n in ids]}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]
    try:
        return _apply(environ, start_response)
    finally:
        connections.close_all()


def _apply(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Apply ``POST /apply`` (in the sandbox ledger), with the sandbox's faults of ``KIND``."""
    from crmhub.sandbox import faults, ledger

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    operation, key = str(body.get("operation", "")), str(body.get("key", ""))
    injected = faults.inject(KIND)
    if injected is not None:
        ledger.record(KIND, operation, body, status=injected.status_code)
        headers = [(name, str(value)) for name, value in injected.items()]
        start_response(f"{injected.status_code} Injected", headers)
        return [injected.content]
    ledger.record(KIND, operation, body, effect=f"{operation}:{key}", applied=True)
    faults.after_apply(KIND)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"ok": True, "key": key}).encode()]


class ThreadedServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LedgerRemote:
    """Serve the ledger remote on 127.0.0.1:``port`` in a daemon thread until ``stop``."""

    def __init__(self, port: int = 0) -> None:
        self.control = _Control()
        self.server = make_server(
            "127.0.0.1",
            port,
            lambda environ, start_response: _application(self.control, environ, start_response),
            server_class=ThreadedServer,
            handler_class=QuietHandler,
        )
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def arrivals(self) -> list[Arrival]:
        """Every request so far, in the order they arrived."""
        return list(self.control.arrivals)

    def list_people(self, count: int) -> None:
        """Serve ``count`` people at ``GET /contacts``."""
        self.control.contacts = count

    def throttle(
        self, *, retry_after: float, after: int = 0, count: int = 1, path: str | None = None
    ) -> None:
        """Answer 429 (``Retry-After``) to ``count`` requests (of ``path``, or any), once
        ``after`` more of them have been served."""
        with self.control.lock:
            self.control.throttles.append([path, after, count, retry_after])
