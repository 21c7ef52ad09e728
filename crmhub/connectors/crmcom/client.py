"""CRM.COM transport and authentication: token login, token cache, JSON envelopes.

``POST authentication/token`` answers a token that expires 2 hours after issue (R12+).
Tokens are cached per connection in this process and renewed before they expire; a call
answered "invalid token" (expired early, released, server restarted) logs in again once
and is sent once more: the first send was refused, so nothing was done twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmhub.connectors.crmcom import parsing
from crmhub.connectors.errors import changes_nothing
from crmhub.connectors.http import HttpClient

#: Renew a cached token this long after it was obtained (it lives 2 h; spec README, point 5).
TOKEN_RENEW_AFTER = 100 * 60
LOGIN_PATH = "authentication/token"


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)  # a credential: never in a repr, log or error report
    obtained: float = 0.0


_tokens: dict[str, _Token] = {}
_lock = threading.Lock()


def forget_all_tokens() -> None:
    """Drop every cached token (tests; a rotated password)."""
    with _lock:
        _tokens.clear()


class CrmComClient:
    """Send CRM.COM calls with a valid token and return the ``data`` of OK answers."""

    def __init__(
        self,
        http: HttpClient,
        *,
        username: str,
        password: str,
        organisation: str,
        unit: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.clock = clock
        self._login_body = {
            "username": username,
            "password": password,
            "organisation": organisation,
        }
        if unit:
            self._login_body["unit"] = unit
        identity = json.dumps([http.base_url, username, organisation, unit, password])
        self._key = hashlib.sha256(identity.encode()).hexdigest()

    def __repr__(self) -> str:  # the password and tokens never appear in a repr
        return f"CrmComClient(base_url={self.http.base_url!r})"

    # -- tokens --------------------------------------------------------------------------------
    def login(self) -> str:
        """Log in, cache the new token and return it.

        A login changes nothing remote: its failure is never an unknown outcome.
        """
        self._forget()
        with changes_nothing():
            response = self.http.request("POST", LOGIN_PATH, json_body=self._login_body)
            token = parsing.parse_token(parsing.unwrap(response.content, url=response.url))
        self.http.add_secret(token)
        with _lock:
            _tokens[self._key] = _Token(token, self.clock())
        return token

    def token(self) -> str:
        """Return the cached token while it is fresh, else a new one."""
        with _lock:
            cached = _tokens.get(self._key)
        if cached is not None and self.clock() - cached.obtained < TOKEN_RENEW_AFTER:
            self.http.add_secret(cached.value)
            return cached.value
        return self.login()

    def _forget(self, token: str | None = None) -> None:
        with _lock:
            cached = _tokens.get(self._key)
            if cached is not None and (token is None or cached.value == token):
                del _tokens[self._key]

    # -- calls ---------------------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any]) -> Any:
        """Send a GET call (parameters in the query string) and return its ``data``."""
        return self._call("GET", path, params)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """Send a POST call (JSON body with the token) and return its ``data``."""
        return self._call("POST", path, body)

    def _call(self, method: str, path: str, payload: Mapping[str, Any]) -> Any:
        token = self.token()
        try:
            return self._send(method, path, payload, token)
        except parsing.InvalidToken:
            self._forget(token)
        return self._send(method, path, payload, self.login())

    def _send(self, method: str, path: str, payload: Mapping[str, Any], token: str) -> Any:
        if method == "GET":
            response = self.http.request("GET", path, params={"token": token, **payload})
        else:
            response = self.http.request("POST", path, json_body={"token": token, **payload})
        return parsing.unwrap(response.content, url=response.url)
