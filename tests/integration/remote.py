"""A minimal remote CRM over real HTTP, with a ledger, for the executor's fault tests.

``LedgerRemote`` serves ``POST /apply`` from a thread of the test process: each request is
written to the sandbox ledger (kind ``ledger``, effect ``<operation>:<key>``) and the
sandbox's fault injection applies to it (``crmhub.sandbox.faults`` with kind ``ledger``:
latency, 5xx, 429 with Retry-After, a hang after applying). ``LedgerConnector`` is the
connector for it: one unsafe operation (``poke``) and one safe one (``peek``), all HTTP
through the project's ``HttpClient``, so timeouts and refused connections are the real
ones. The real connectors are exercised against the real sandbox in
``test_sandbox_faults.py``; this pair keeps the executor's tests independent of them.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import Any, ClassVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from crmhub.connectors.base import (
    ConnectionSpec,
    Connector,
    ContactPage,
    Operation,
    OperationResult,
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
        yield ContactPage(contacts=(), total=0)

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


def _application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    from django.db import connections

    from crmhub.sandbox import faults, ledger

    try:
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
    finally:
        connections.close_all()


class ThreadedServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LedgerRemote:
    """Serve the ledger remote on 127.0.0.1:``port`` in a daemon thread until ``stop``."""

    def __init__(self, port: int = 0) -> None:
        self.server = make_server(
            "127.0.0.1", port, _application, server_class=ThreadedServer, handler_class=QuietHandler
        )
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
