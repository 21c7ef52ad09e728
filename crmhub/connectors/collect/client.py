"""Collect! transport: operator login, bearer-token reuse, the database header.

Decisions where the documents are silent (mirrored by the sandbox):

* ``POST auth/login`` ``{"op_id", "op_password"}`` answers ``{"token"}``; later calls send
  ``Authorization: Bearer <token>``. The answer gives no lifetime, so a token is reused for
  ``TOKEN_REUSE_SECONDS`` at most, and a 401 on a later call (expired or revoked token)
  triggers exactly one fresh login and one resend.
* Every call, the login included, names the database in ``x-collect-database``.
* Errors come as a non-200 status with ``{"error": message}``; that text is shown to staff.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from crmhub.connectors.collect import parsing
from crmhub.connectors.errors import AuthFailed, ConnectorError, changes_nothing
from crmhub.connectors.http import HttpClient, Response

DATABASE_HEADER = "x-collect-database"
DEFAULT_DATABASE = "cv_masterdb"
#: Assumption: how long a login token is reused before logging in again.
TOKEN_REUSE_SECONDS = 10 * 60


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)  # a credential: never in a repr, log or error report
    expires_at: float = 0.0


#: In-process token cache: (base URL, operator, database, password digest) -> token.
_tokens: dict[tuple[str, str, str, str], _Token] = {}
_tokens_lock = threading.Lock()


def forget_tokens() -> None:
    """Drop every cached token (tests; a changed connection)."""
    with _tokens_lock:
        _tokens.clear()


def _vendor_message(error: ConnectorError) -> ConnectorError:
    """Put the vendor's ``{"error": ...}`` text into ``error``'s message, when there is one."""
    message = parsing.error_message(error.body) if error.body else None
    if message and error.status is not None:
        error.message = f"Collect! answered {error.status}: {message}"
        error.args = (error.message,)
    return error


class CollectClient:
    """Authenticated JSON calls to one Collect! server and database."""

    def __init__(self, http: HttpClient, *, operator_id: str, password: str, database: str) -> None:
        self.http = http
        self.operator_id = operator_id
        self.password = password
        self.database = database or DEFAULT_DATABASE
        digest = hashlib.sha256(password.encode()).hexdigest()
        self._key = (http.base_url, operator_id.upper(), self.database, digest)

    def __repr__(self) -> str:  # the password and tokens never appear in a repr
        return f"CollectClient(base_url={self.http.base_url!r}, database={self.database!r})"

    # -- login -------------------------------------------------------------------------------
    def login(self) -> str:
        """Log in now (no cached token) and return the new token.

        A login changes nothing remote: its failure is never an unknown outcome.
        """
        body = {"op_id": self.operator_id, "op_password": self.password}
        with changes_nothing():
            try:
                response = self.http.request(
                    "POST", "auth/login", json_body=body, headers=self._headers()
                )
            except ConnectorError as exc:
                raise _vendor_message(exc) from None
            token = parsing.parse_login(response.content)
        self._remember(token)
        return token

    def token(self) -> str:
        """Return a cached token that is still fresh, logging in when there is none."""
        with _tokens_lock:
            cached = _tokens.get(self._key)
        if cached is not None and cached.expires_at > time.monotonic():
            self.http.add_secret(cached.value)
            return cached.value
        return self.login()

    def _remember(self, token: str) -> None:
        self.http.add_secret(token)
        with _tokens_lock:
            _tokens[self._key] = _Token(token, time.monotonic() + TOKEN_REUSE_SECONDS)

    def _forget(self, token: str) -> None:
        with _tokens_lock:
            if (cached := _tokens.get(self._key)) is not None and cached.value == token:
                del _tokens[self._key]

    def _headers(self, token: str | None = None) -> dict[str, str]:
        headers = {DATABASE_HEADER: self.database, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    # -- authenticated calls -----------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Response:
        """Send one authenticated call; on a 401, log in once more and resend once."""
        token = self.token()
        try:
            return self._send(method, path, token, params=params, json_body=json_body)
        except AuthFailed as exc:
            if exc.status != 401:
                raise
            self._forget(token)
        return self._send(method, path, self.login(), params=params, json_body=json_body)

    def _send(self, method: str, path: str, token: str, *, params: Any, json_body: Any) -> Response:
        try:
            return self.http.request(
                method, path, params=params, json_body=json_body, headers=self._headers(token)
            )
        except ConnectorError as exc:
            raise _vendor_message(exc) from None

    @contextmanager
    def read_timeout(self, seconds: float) -> Any:
        """Within the block, wait up to ``seconds`` for answers (a plan waiting on prompts)."""
        saved = self.http.timeout, self.http.deadline
        self.http.timeout = (saved[0][0], max(seconds, saved[0][1]))
        self.http.deadline = self.http.timeout[0] + self.http.timeout[1] * 2
        try:
            yield
        finally:
            self.http.timeout, self.http.deadline = saved
